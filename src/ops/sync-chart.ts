/**
 * The status page's charts: for each organisation, its user count and how long its sync took over the last day,
 * as inline SVG drawn on the server. No script, no external asset and no `style` attribute: the page's CSP allows
 * only its one nonce'd style block, whose rules (CHART_STYLE) colour these charts.
 */
import { escapeHtml } from './html';
import type { SyncPoint, TenantPoint } from './sync-history';

export interface ChartOptions {
  now: number;
  /** The span the x axis shows, ending at `now`. */
  windowMs: number;
  /** Charts drawn at most; the table below still lists every organisation. */
  maxOrganisations?: number;
}

interface Series {
  readonly organisationId: string;
  name: string;
  readonly points: { readonly at: number; readonly point: TenantPoint }[];
}

/** Geometry in viewBox units; the SVG scales to its box's width, so a phone and a desktop draw the same picture. */
const W = 300;
const LEFT = 40;
const RIGHT = W - 6;
const USERS = { top: 18, bottom: 62 };
const DURATION = { top: 86, bottom: 126 };
const H = 146;

export const CHART_STYLE = `.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(17rem,1fr));gap:1rem;margin:.5rem 0 1rem}
.charts figure{margin:0;border:1px solid #d8dee4;border-radius:6px;padding:.5rem .6rem}
.charts figcaption{font-size:.85rem;color:#57606a;overflow-wrap:anywhere}.charts figcaption strong{color:#1b1f24}
.charts svg{display:block;width:100%;height:auto}.charts text{font:10px system-ui,sans-serif;fill:#57606a}
.charts .axis{stroke:#d8dee4;stroke-width:1}.charts .users{fill:none;stroke:#0969da;stroke-width:1.5}
.charts .last{fill:#0969da}.charts .took{stroke:#8250df;stroke-width:1.5}.charts .failed{stroke:#cf222e;stroke-width:1.5}
.charts .incident{stroke:#cf222e;stroke-width:3;stroke-opacity:.15}`;

/** 1, 2, 5, 10, 20, 50, …: the smallest at or above `value`, so an axis reads in round numbers. */
export function niceCeiling(value: number): number {
  if (value <= 1) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * magnitude >= value) return step * magnitude;
  return 10 * magnitude;
}

const round = (n: number): string => String(Math.round(n * 10) / 10);

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function formatMs(ms: number): string {
  return ms >= 10_000 ? `${round(ms / 1000)} s` : `${Math.round(ms)} ms`;
}

/** Per organisation, its points in time order, in the order the newest sync lists organisations. */
function seriesOf(points: readonly SyncPoint[]): Series[] {
  const byId = new Map<string, Series>();
  for (const sync of points) {
    for (const point of sync.tenants) {
      let series = byId.get(point.organisationId);
      if (!series) byId.set(point.organisationId, (series = { organisationId: point.organisationId, name: point.organisationId, points: [] }));
      if (point.name) series.name = point.name;
      series.points.push({ at: sync.at, point });
    }
  }
  const newest = points[points.length - 1]?.tenants.map((t) => t.organisationId) ?? [];
  const order = new Map(newest.map((id, i) => [id, i]));
  return [...byId.values()].sort((a, b) => (order.get(a.organisationId) ?? Infinity) - (order.get(b.organisationId) ?? Infinity));
}

function chart(series: Series, options: ChartOptions): string {
  const from = options.now - options.windowMs;
  const x = (at: number): number => LEFT + ((at - from) / options.windowMs) * (RIGHT - LEFT);
  const counts = series.points.flatMap((p) => (p.point.userCount === undefined ? [] : [p.point.userCount]));
  const durations = series.points.flatMap((p) => (p.point.durationMs === undefined ? [] : [p.point.durationMs]));
  const userMax = niceCeiling(Math.max(1, ...counts));
  const durationMax = niceCeiling(Math.max(1, ...durations));
  const yUsers = (n: number): number => USERS.bottom - (n / userMax) * (USERS.bottom - USERS.top);
  const yDuration = (ms: number): number => DURATION.bottom - (ms / durationMax) * (DURATION.bottom - DURATION.top);

  // Users as steps: a count holds until the next sync says otherwise; a sync without a count breaks the line.
  let line = '';
  let drawing = false;
  let last: { x: number; y: number } | undefined;
  for (const { at, point } of series.points) {
    if (point.userCount === undefined) {
      drawing = false;
      continue;
    }
    const px = round(x(at));
    const py = round(yUsers(point.userCount));
    line += drawing ? ` H${px} V${py}` : `${line ? ' ' : ''}M${px} ${py}`;
    drawing = true;
    last = { x: x(at), y: yUsers(point.userCount) };
  }
  // Each sync's duration as a bar; red when the organisation was not current after it, with a faint red line
  // through both panels so a failure shows however quickly it failed.
  let took = '';
  let failed = '';
  let incidents = '';
  for (const { at, point } of series.points) {
    if (point.result !== 'current') incidents += `M${round(x(at))} ${USERS.top} V${DURATION.bottom} `;
    if (point.durationMs === undefined) continue;
    const bar = `M${round(x(at))} ${DURATION.bottom} V${round(Math.min(DURATION.bottom - 1, yDuration(point.durationMs)))} `;
    if (point.result === 'current') took += bar;
    else failed += bar;
  }
  const notCurrent = series.points.filter((p) => p.point.result !== 'current').length;
  const now = counts[counts.length - 1];
  const summary = [
    `${series.points.length} ${series.points.length === 1 ? 'sync' : 'syncs'}`,
    now === undefined ? 'no users read yet' : `${now} users now${Math.min(...counts) !== Math.max(...counts) ? ` (${Math.min(...counts)}–${Math.max(...counts)})` : ''}`,
    durations.length ? `sync ${formatMs(median(durations))} typical, ${formatMs(Math.max(...durations))} slowest` : '',
    notCurrent ? `${notCurrent} not current` : '',
  ]
    .filter(Boolean)
    .join(' · ');
  const name = escapeHtml(series.name);
  const hours = Math.round(options.windowMs / 3_600_000);
  return `<figure data-organisation="${escapeHtml(series.organisationId)}">
<figcaption><strong>${name}</strong><br>${escapeHtml(summary)}</figcaption>
<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${name}: users and sync duration over the last ${hours} hours; ${escapeHtml(summary)}">
${incidents ? `<path class="incident" d="${incidents.trim()}"/>` : ''}
<text x="${LEFT}" y="${USERS.top - 6}">Users</text>
<text x="${LEFT - 4}" y="${USERS.top + 3}" text-anchor="end">${userMax}</text>
<text x="${LEFT - 4}" y="${USERS.bottom}" text-anchor="end">0</text>
<path class="axis" d="M${LEFT} ${USERS.bottom} H${RIGHT}"/>
${line ? `<path class="users" d="${line}"/>` : ''}
${last ? `<circle class="last" cx="${round(last.x)}" cy="${round(last.y)}" r="2.5"/>` : ''}
<text x="${LEFT}" y="${DURATION.top - 6}">Sync duration</text>
<text x="${LEFT - 4}" y="${DURATION.top + 3}" text-anchor="end">${escapeHtml(formatMs(durationMax))}</text>
<text x="${LEFT - 4}" y="${DURATION.bottom}" text-anchor="end">0</text>
<path class="axis" d="M${LEFT} ${DURATION.bottom} H${RIGHT}"/>
${took ? `<path class="took" d="${took.trim()}"/>` : ''}
${failed ? `<path class="failed" d="${failed.trim()}"/>` : ''}
<text x="${LEFT}" y="${H - 4}">−${hours} h</text>
<text x="${round((LEFT + RIGHT) / 2)}" y="${H - 4}" text-anchor="middle">−${Math.round(hours / 2)} h</text>
<text x="${RIGHT}" y="${H - 4}" text-anchor="end">now</text>
</svg>
</figure>`;
}

/** The charts section: one small chart per organisation, or a line saying why there is none yet. */
export function renderSyncCharts(points: readonly SyncPoint[], options: ChartOptions): string {
  const hours = Math.round(options.windowMs / 3_600_000);
  const heading = `<h2>Last ${hours} hours</h2>`;
  const all = seriesOf(points);
  if (all.length === 0) return `<section class="history">${heading}<p>No sync since the server started.</p></section>`;
  const max = options.maxOrganisations ?? 24;
  const shown = all.slice(0, max);
  const more = all.length > shown.length ? `<p>Charts for ${shown.length} of ${all.length} organisations; the table lists them all.</p>` : '';
  return `<section class="history">${heading}
<div class="charts">
${shown.map((s) => chart(s, options)).join('\n')}
</div>${more}</section>`;
}
