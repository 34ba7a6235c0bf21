/**
 * Asks one server the benchmark's questions with sample arguments and checks every answer (check.ts) before the
 * server is timed. Plain fetch over loopback, one request at a time.
 */
import { type CheckResult, checkGroups, checkUser, checkUserNameFilter, checkUserPage } from './check';
import type { Expected } from './dataset';

export interface Samples {
  ids: readonly string[];
  userNames: readonly string[];
  startIndexes: readonly number[];
}

export interface Validation extends CheckResult {
  requests: number;
  /** How long each kind of checked request took, one at a time (ms): a server's single-request latency. */
  latencyMs: { a: number[]; b: number[]; c: number[]; d: number[] };
}

async function get(base: string, path: string, token: string): Promise<{ status: number; body: Record<string, unknown>; ms: number }> {
  const started = Date.now();
  const response = await fetch(`${base}${path}`, { headers: { Authorization: `Bearer ${token}`, Accept: 'application/scim+json' } });
  const text = await response.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { unparsable: text.slice(0, 200) };
  }
  return { status: response.status, body, ms: Date.now() - started };
}

export async function validateServer(base: string, token: string, expected: Expected, samples: Samples): Promise<Validation> {
  const errors: string[] = [];
  const deviations = new Set<string>();
  let requests = 0;
  const latencyMs: Validation['latencyMs'] = { a: [], b: [], c: [], d: [] };
  const merge = (result: CheckResult) => {
    errors.push(...result.errors);
    for (const d of result.deviations) deviations.add(d);
  };

  const unauthorised = await get(base, '/Users?count=1', `${token}-wrong`);
  requests++;
  if (unauthorised.status !== 401) errors.push(`a wrong bearer token got ${unauthorised.status}, not 401`);

  for (const id of samples.ids) {
    const { status, body, ms } = await get(base, `/Users/${encodeURIComponent(id)}`, token);
    requests++;
    latencyMs.a.push(ms);
    if (status !== 200) errors.push(`(a) GET /Users/${id}: status ${status}`);
    else {
      if (body.id !== id) errors.push(`(a) GET /Users/${id}: id ${String(body.id)}`);
      errors.push(...checkUser(body, expected, `(a) /Users/${id}`));
    }
  }
  const missing = await get(base, '/Users/00000000-0000-4000-8000-000000000000', token);
  requests++;
  if (missing.status !== 404) errors.push(`GET /Users/<unknown id>: status ${missing.status}, not 404`);

  for (const startIndex of samples.startIndexes) {
    const { status, body, ms } = await get(base, `/Users?startIndex=${startIndex}&count=100`, token);
    requests++;
    latencyMs.b.push(ms);
    if (status !== 200) errors.push(`(b) startIndex=${startIndex}: status ${status}`);
    else merge(checkUserPage(body, expected, startIndex, 100, `(b) startIndex=${startIndex}`));
  }

  for (const userName of samples.userNames) {
    const filter = encodeURIComponent(`userName eq "${userName}"`);
    const { status, body, ms } = await get(base, `/Users?filter=${filter}`, token);
    requests++;
    latencyMs.c.push(ms);
    if (status !== 200) errors.push(`(c) userName eq "${userName}": status ${status}`);
    else merge(checkUserNameFilter(body, expected, userName, `(c) ${userName}`));
  }

  const groups = await get(base, '/Groups?excludedAttributes=members', token);
  requests++;
  latencyMs.d.push(groups.ms);
  if (groups.status !== 200) errors.push(`(d) /Groups?excludedAttributes=members: status ${groups.status}`);
  else merge(checkGroups(groups.body, expected, '(d)'));

  return { errors: errors.slice(0, 50).concat(errors.length > 50 ? [`… and ${errors.length - 50} more`] : []), deviations: [...deviations], requests, latencyMs };
}
