/**
 * The status page at `/`: server-rendered HTML with no external assets and no script. It shows organisation
 * names, counts, times and errors, never people, so it can be opened by an operator's browser.
 */
import type { DirectorySnapshot, DirectoryStatus, TenantHealth } from '../directory/model';
import { escapeHtml } from './html';
import { CHART_STYLE, renderSyncCharts } from './sync-chart';
import type { SyncPoint } from './sync-history';

export interface StatusPageInput {
  status: DirectoryStatus;
  snapshot: DirectorySnapshot | undefined;
  now: number;
  /** CSP nonce for the one inline style block. */
  nonce: string;
  refreshSeconds: number;
  version: string;
  /** The syncs the charts draw (from SyncHistory), and the span they cover; no charts without them. */
  history?: { points: readonly SyncPoint[]; windowMs: number };
}

/** "3 min ago", "2 h ago": an operator reads ages, not timestamps; the exact time is in the title attribute. */
function formatAge(iso: string | undefined, now: number): string {
  if (!iso) return 'never';
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 90) return `${seconds} s ago`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 48 * 3600) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86_400)} days ago`;
}

function time(iso: string | undefined, now: number): string {
  return iso ? `<time datetime="${escapeHtml(iso)}" title="${escapeHtml(iso)}">${formatAge(iso, now)}</time>` : 'never';
}

function tenantRow(t: TenantHealth, snapshot: DirectorySnapshot | undefined, now: number): string {
  const members = snapshot?.memberRecords.get(t.organisationId)?.length ?? t.userCount;
  const name = t.name ?? snapshot?.organisationById.get(t.organisationId)?.name ?? t.organisationId;
  const budget = t.rateBudget
    ? [t.rateBudget.minuteRemaining !== undefined ? `${t.rateBudget.minuteRemaining}/min` : '', t.rateBudget.dayRemaining !== undefined ? `${t.rateBudget.dayRemaining}/day` : '']
        .filter(Boolean)
        .join(', ')
    : '';
  const error = t.lastError
    ? `${escapeHtml(t.lastError.code)}: ${escapeHtml(t.lastError.message)} (${formatAge(t.lastError.at, now)})`
    : t.suspicion
      ? `held back: <span class="reason">${t.suspicion.reason}</span> (${formatAge(t.suspicion.since, now)})`
      : '';
  return `<tr class="${t.state}">
<td data-label="Organisation">${escapeHtml(name)}<br><small>${escapeHtml(t.organisationId)}</small></td>
<td data-label="State"><span class="state">${t.state}</span></td>
<td data-label="Users" class="num">${members ?? '–'}</td>
<td data-label="Last success">${time(t.lastSuccessAt, now)}</td>
<td data-label="Rate budget left">${escapeHtml(budget) || '–'}</td>
<td data-label="Last error">${error || '–'}</td>
</tr>`;
}

/** Removals the guard holds back, and how an operator confirms one (`xero-scim confirm-disconnect`). */
function heldBackSection(tenants: readonly TenantHealth[], snapshot: DirectorySnapshot | undefined, now: number, replicated: boolean): string {
  const held = tenants.filter((t) => t.suspicion);
  if (held.length === 0) return '';
  const items = held.map((t) => {
    const s = t.suspicion!;
    const name = t.name ?? snapshot?.organisationById.get(t.organisationId)?.name ?? t.organisationId;
    const until = s.confirmed
      ? 'confirmed: applies at the next sync'
      : s.answersLeft === undefined
        ? 'awaits an operator'
        : `applies after ${s.answersLeft} more answer${s.answersLeft === 1 ? '' : 's'}`;
    return `<li><b>${escapeHtml(name)}</b> <small>${escapeHtml(t.organisationId)}</small>: <span class="reason">${s.reason}</span> since ${time(s.since, now)}, ${s.answers} answer${s.answers === 1 ? '' : 's'}; ${until}</li>`;
  });
  return `<section class="held" aria-label="Removals held back">
<p><b>Removals held back (${held.length}).</b> Xero's answers would remove these organisations; each serves its last good data meanwhile. To confirm one, run <code>node dist/cli.js confirm-disconnect &lt;tenantId&gt;</code> (or <code>--all</code>) ${replicated ? "with the replicas' REDIS_URL and REDIS_KEY_PREFIX (in any replica)" : "where this server's STATE_DIR is"} (in Kubernetes, <code>kubectl exec deploy/xero-scim -- node dist/cli.js confirm-disconnect …</code>; in a clone, <code>npx xero-scim confirm-disconnect …</code>); its next sync applies it.</p>
<ul>
${items.join('\n')}
</ul>
</section>`;
}

/** Xero credentials and STATE_DIR: the two things that need an operator while the snapshot keeps serving. */
function healthRows(status: DirectoryStatus, now: number): string {
  const problem = (p: { code: string; message: string; at: string }) => `${escapeHtml(p.code)}: ${escapeHtml(p.message)} (${time(p.at, now)})`;
  const rows: string[] = [];
  const c = status.credentials;
  if (c) {
    const unchecked = status.replication?.role === 'follower' ? 'used by the leader only' : 'not checked yet';
    const text = c.error ? `<strong>${escapeHtml(c.state)}</strong>: ${problem(c.error)}` : c.state === 'valid' ? `valid, accepted ${time(c.validAt, now)}` : unchecked;
    rows.push(`<dt>Xero credentials</dt><dd class="credentials">${text}</dd>`);
  }
  const p = status.persistence;
  if (p) {
    const text = p.error ? `<strong>failing</strong>: ${problem(p.error)}` : p.lastSavedAt ? `saved ${time(p.lastSavedAt, now)}` : 'nothing saved yet';
    // As a replica the state goes to Redis: what fails then is the publish.
    rows.push(`<dt>${status.replication ? 'Published state' : 'STATE_DIR'}</dt><dd class="persistence">${text}</dd>`);
  }
  return rows.map((r) => `${r}\n`).join('');
}

/** As one of several replicas: this one's role, the leader, the shared store, and the version each replica serves. */
function replicationRows(status: DirectoryStatus, now: number): string {
  const r = status.replication;
  if (!r) return '';
  const store =
    r.store.state === 'up'
      ? `up (${escapeHtml(r.store.endpoint)})`
      : `<strong>${r.store.state}</strong> (${escapeHtml(r.store.endpoint)}) since ${time(r.store.since, now)}${r.store.lastError ? `: ${escapeHtml(r.store.lastError)}` : ''}; serving what this replica holds`;
  const replicas = r.replicas
    .map((x) => {
      const self = x.replicaId === r.replicaId ? ' (this one)' : '';
      return `<li>${escapeHtml(x.replicaId)}${self}: <b>${x.role}</b>, serving ${x.version ? `<code>${escapeHtml(x.version)}</code>` : 'nothing yet'}, seen ${time(x.seenAt, now)}</li>`;
    })
    .join('');
  return [
    `<dt>This replica</dt><dd class="replica">${escapeHtml(r.replicaId)}: <b>${r.role}</b>${r.sequence === undefined ? '' : `, holding published state #${r.sequence}`}</dd>`,
    `<dt>Leader</dt><dd class="leader">${r.leader ? escapeHtml(r.leader) : '<strong>none</strong> (no replica holds the lease)'}</dd>`,
    `<dt>Redis</dt><dd class="store">${store}</dd>`,
    `<dt>Replicas</dt><dd class="replicas"><ul>${replicas || '<li>none seen</li>'}</ul></dd>`,
  ]
    .map((row) => `${row}\n`)
    .join('');
}

export function renderStatusPage(input: StatusPageInput): string {
  const { status, snapshot, now } = input;
  const stale = status.tenants.filter((t) => t.state !== 'current').length;
  const refused = status.credentials?.error;
  const unsaved = status.persistence?.ok === false;
  const storeDown = status.replication !== undefined && status.replication.store.state !== 'up';
  const overall = !status.ready ? 'not-ready' : stale > 0 || refused || unsaved || storeDown ? 'degraded' : 'ok';
  const headline = !status.ready
    ? `Not ready: ${escapeHtml(status.reason ?? 'starting')}`
    : refused
      ? `Serving the last snapshot; Xero refuses the credentials (${escapeHtml(status.credentials!.state)})`
      : stale > 0
        ? `Serving, ${stale} of ${status.tenants.length} organisations not current`
        : storeDown
          ? `Serving what this replica holds; the shared Redis is ${status.replication!.store.state}`
          : unsaved
            ? status.replication
              ? 'Serving, but the directory state cannot be published to Redis'
              : 'Serving, but STATE_DIR cannot be written'
            : 'Serving, all organisations current';
  const rows = status.tenants.map((t) => tenantRow(t, snapshot, now)).join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="${input.refreshSeconds}">
<title>xero-scim status</title>
<style nonce="${input.nonce}">
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:70rem;padding:0 1rem;color:#1b1f24}
h1{font-size:1.4rem;margin:0 0 .25rem}
.banner{padding:.75rem 1rem;border-radius:6px;margin:1rem 0;font-weight:600}
.banner.ok{background:#e6f4ea;color:#14532d}.banner.degraded{background:#fff4e5;color:#7a4100}.banner.not-ready{background:#fde8e8;color:#8a1c1c}
dd ul{margin:0;padding-left:1.2rem}dl{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem;margin:0 0 1rem}dt{color:#57606a}dd{margin:0}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.45rem .6rem;border-bottom:1px solid #d8dee4;vertical-align:top}
th{font-size:.8rem;text-transform:uppercase;letter-spacing:.04em;color:#57606a}td.num{text-align:right}
small{color:#6e7781}.state{font-weight:600}tr.stale .state{color:#9a5b00}tr.missing .state{color:#b42318}tr.current .state{color:#1a7f37}
footer{margin-top:1.5rem;color:#6e7781;font-size:.85rem}
nav{margin:.25rem 0 0;display:flex;flex-wrap:wrap;gap:.25rem 1rem}a{color:#0969da}h2{font-size:1.1rem;margin:1.5rem 0 .25rem}
td{overflow-wrap:anywhere}
@media (max-width:40rem){body{margin:1rem auto}thead{display:none}table,tbody,tr,td{display:block;width:auto}
tr{border:1px solid #d8dee4;border-radius:6px;margin:0 0 .75rem;padding:.25rem 0}td,td.num{border:0;padding:.2rem .75rem;text-align:left}
td[data-label]{position:relative;padding-left:calc(35% + 1.25rem)}
td[data-label]::before{content:attr(data-label);position:absolute;left:.75rem;width:35%;padding-top:.1rem;font-size:.8rem;color:#57606a}}
${CHART_STYLE}
.held{border-left:4px solid #9a5b00;padding:.25rem 1rem;margin:0 0 1rem;background:#fffaf0}.held ul{margin:.25rem 0 .5rem;padding-left:1.2rem}.reason{font-weight:600;color:#9a5b00}
</style>
</head>
<body>
<h1>xero-scim</h1>
<nav><a href="/readyz">Readiness (/readyz)</a><a href="/metrics">Metrics (/metrics)</a><a href="/openapi.yaml">API description (/openapi.yaml)</a></nav>
<div class="banner ${overall}" role="status">${headline}</div>
<dl>
<dt>Last sync</dt><dd>${time(status.lastSyncAt, now)}${status.lastSyncOutcome ? ` (${status.lastSyncOutcome})` : ''}</dd>
${healthRows(status, now)}${replicationRows(status, now)}<dt>Snapshot</dt><dd>${snapshot ? `${snapshot.people.length} people (${snapshot.people.activeCount()} with access), ${snapshot.organisations.length} organisations, ${snapshot.roles.length} roles, built ${time(snapshot.builtAt, now)}` : 'none yet'}</dd>
</dl>
${heldBackSection(status.tenants, snapshot, now, status.replication !== undefined)}
<table>
<thead><tr><th>Organisation</th><th>State</th><th>Users</th><th>Last success</th><th>Rate budget left</th><th>Last error</th></tr></thead>
<tbody>
${rows || '<tr><td colspan="6">No organisations connected yet.</td></tr>'}
</tbody>
</table>
${input.history ? renderSyncCharts(input.history.points, { now, windowMs: input.history.windowMs }) : ''}
<footer>xero-scim ${escapeHtml(input.version)} · refreshes every ${input.refreshSeconds} s · SCIM at <code>/scim/v2</code></footer>
</body>
</html>
`;
}
