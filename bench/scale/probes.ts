/**
 * The scale bench's requests to a `xero-scim serve` process, each timed alone (one at a time, nothing else in
 * flight) and each answer checked, so a fast wrong answer is never reported as a figure: the groups and roles
 * lists, `userName co "zz"`, `userName eq` lookups of existing people, pages of 100 at several offsets, and a crawl
 * of /Users by pages of 1,000.
 */
export interface Answer {
  status: number;
  /** From sending the request to the last byte of the body. */
  ms: number;
  bytes: number;
  body: Record<string, unknown>;
}

export interface ServerUnderTest {
  readonly url: string;
  readonly token: string;
  /** Throws with the server's last output when it has exited (checked after a request fails). */
  assertAlive(step: string): void;
}

/** What the data says a correct answer holds. */
export interface Truth {
  /** SCIM users: distinct e-mails, case-insensitive. */
  readonly people: number;
  readonly organisations: number;
  /** Existing userNames, spread over the data. */
  readonly userNames: readonly string[];
  /** userNames containing CONTAINS. */
  readonly containing: number;
}

/** What `userName co` looks for. */
export const CONTAINS = 'zz';

export interface Pair {
  firstMs: number;
  secondMs: number;
  totalResults: number;
}

export interface Samples {
  samplesMs: number[];
  medianMs: number;
  maxMs: number;
}

export interface Crawl {
  wallMs: number;
  pages: number;
  usersListed: number;
  duplicates: number;
  timedOut: boolean;
  /** Every user listed exactly once within the time limit. */
  complete: boolean;
}

export interface ProbeResults {
  /** `GET /Groups?excludedAttributes=members&count=1000`, the first of its kind on this process and the second. */
  groups: Pair;
  /** `GET /Roles?count=100`, likewise. */
  roles: Pair;
  /** `GET /Users?filter=userName co "zz"`. */
  contains: Samples & { totalResults: number };
  /** `GET /Users?filter=userName eq "<existing>"`. */
  userNameEq: Samples;
  /** `GET /Users?startIndex=<offset>&count=100`, two passes over the offsets. */
  pages: Samples & { startIndexes: number[] };
  crawl: Crawl;
}

const REQUEST_TIMEOUT_MS = 300_000;
const CONTAINS_SAMPLES = 5;

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

function samples(values: number[]): Samples {
  return { samplesMs: values, medianMs: median(values), maxMs: Math.max(...values) };
}

/** One GET, timed to its last byte; the body parsed after the clock stops. Throws on no answer (server checked). */
export async function timedGet(server: ServerUnderTest, path: string, timeoutMs = REQUEST_TIMEOUT_MS): Promise<Answer> {
  const started = performance.now();
  let status: number;
  let raw: ArrayBuffer;
  try {
    const response = await fetch(`${server.url}${path}`, {
      headers: { authorization: `Bearer ${server.token}`, accept: 'application/scim+json' },
      signal: AbortSignal.timeout(timeoutMs),
    });
    status = response.status;
    raw = await response.arrayBuffer();
  } catch (error) {
    server.assertAlive(`GET ${path}`);
    throw new Error(`GET ${path}: no answer (${(error as Error).message})`);
  }
  const ms = performance.now() - started;
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(Buffer.from(raw).toString('utf8')) as Record<string, unknown>;
  } catch {
    body = {};
  }
  return { status, ms: Math.round(ms * 10) / 10, bytes: raw.byteLength, body };
}

/** The answer, or an error naming the request and what was wrong with it. */
async function checkedGet(server: ServerUnderTest, path: string, check: (body: Record<string, unknown>) => string | undefined): Promise<Answer> {
  const answer = await timedGet(server, path);
  if (answer.status !== 200) throw new Error(`GET ${path}: status ${answer.status}: ${JSON.stringify(answer.body).slice(0, 300)}`);
  const problem = check(answer.body);
  if (problem) throw new Error(`GET ${path}: wrong answer: ${problem}`);
  return answer;
}

type Resource = Record<string, unknown>;
const resourcesOf = (body: Record<string, unknown>): Resource[] | undefined => (Array.isArray(body.Resources) ? (body.Resources as Resource[]) : undefined);

function groupsCheck(truth: Truth) {
  return (body: Record<string, unknown>): string | undefined => {
    const resources = resourcesOf(body);
    if (!resources) return 'no Resources';
    if (body.totalResults !== truth.organisations) return `totalResults ${String(body.totalResults)}, expected ${truth.organisations} organisations`;
    if (resources.length !== Math.min(1000, truth.organisations)) return `${resources.length} groups in a page of up to 1,000`;
    if (resources.some((g) => 'members' in g)) return 'members returned despite excludedAttributes=members';
    return undefined;
  };
}

function rolesCheck(body: Record<string, unknown>): string | undefined {
  const resources = resourcesOf(body);
  if (!resources) return 'no Resources';
  const total = Number(body.totalResults);
  if (!(total > 0)) return `totalResults ${String(body.totalResults)}`;
  if (resources.length !== Math.min(100, total)) return `${resources.length} roles in a page of up to 100 of ${total}`;
  return undefined;
}

function containsCheck(truth: Truth) {
  return (body: Record<string, unknown>): string | undefined => {
    const resources = resourcesOf(body);
    if (!resources) return 'no Resources';
    if (body.totalResults !== truth.containing) return `totalResults ${String(body.totalResults)}, expected ${truth.containing} userNames containing "${CONTAINS}"`;
    const stray = resources.find((u) => !String(u.userName).toLowerCase().includes(CONTAINS));
    return stray ? `${String(stray.userName)} does not contain "${CONTAINS}"` : undefined;
  };
}

function eqCheck(userName: string) {
  return (body: Record<string, unknown>): string | undefined => {
    const resources = resourcesOf(body);
    if (!resources || resources.length !== 1 || body.totalResults !== 1) return `expected exactly one user, got ${String(body.totalResults)}`;
    return String(resources[0]!.userName).toLowerCase() === userName ? undefined : `got ${String(resources[0]!.userName)}`;
  };
}

function pageCheck(truth: Truth, startIndex: number, count: number) {
  return (body: Record<string, unknown>): string | undefined => {
    const resources = resourcesOf(body);
    if (!resources) return 'no Resources';
    if (body.totalResults !== truth.people) return `totalResults ${String(body.totalResults)}, expected ${truth.people} people`;
    if (body.startIndex !== startIndex) return `startIndex ${String(body.startIndex)}`;
    const wanted = Math.max(0, Math.min(count, truth.people - startIndex + 1));
    return resources.length === wanted ? undefined : `${resources.length} users, expected ${wanted}`;
  };
}

/** The first and then the second request of one kind. */
async function pair(server: ServerUnderTest, path: string, check: (body: Record<string, unknown>) => string | undefined): Promise<Pair> {
  const first = await checkedGet(server, path, check);
  const second = await checkedGet(server, path, check);
  return { firstMs: first.ms, secondMs: second.ms, totalResults: Number(first.body.totalResults) };
}

/** Pages of `pageSize` through /Users, advancing by what each returned, until every user is listed or time is up. */
export async function crawlUsers(server: ServerUnderTest, truth: Truth, pageSize: number, timeLimitMs: number): Promise<Crawl> {
  const started = performance.now();
  const seen = new Set<string>();
  let duplicates = 0;
  let pages = 0;
  let startIndex = 1;
  let timedOut = false;
  for (;;) {
    if (performance.now() - started > timeLimitMs) {
      timedOut = true;
      break;
    }
    const answer = await checkedGet(server, `/scim/v2/Users?startIndex=${startIndex}&count=${pageSize}`, pageCheck(truth, startIndex, pageSize));
    pages += 1;
    const resources = resourcesOf(answer.body)!;
    for (const user of resources) {
      const id = String(user.id);
      if (seen.has(id)) duplicates += 1;
      else seen.add(id);
    }
    if (resources.length === 0 || startIndex + resources.length > truth.people) break;
    startIndex += resources.length;
  }
  const wallMs = Math.round(performance.now() - started);
  return { wallMs, pages, usersListed: seen.size, duplicates, timedOut, complete: !timedOut && duplicates === 0 && seen.size === truth.people };
}

/** Every probe, in a fixed order: groups and roles first (the first of their kind on a fresh process), then the rest. */
export async function probe(server: ServerUnderTest, truth: Truth, crawlLimitMs: number): Promise<ProbeResults> {
  const groups = await pair(server, '/scim/v2/Groups?excludedAttributes=members&count=1000', groupsCheck(truth));
  const roles = await pair(server, '/scim/v2/Roles?count=100', rolesCheck);

  const contains: number[] = [];
  let containsTotal = NaN;
  const containsPath = `/scim/v2/Users?filter=${encodeURIComponent(`userName co "${CONTAINS}"`)}`;
  for (let i = 0; i < CONTAINS_SAMPLES; i++) {
    const answer = await checkedGet(server, containsPath, containsCheck(truth));
    contains.push(answer.ms);
    containsTotal = Number(answer.body.totalResults);
  }

  const eq: number[] = [];
  for (const userName of truth.userNames) {
    eq.push((await checkedGet(server, `/scim/v2/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`, eqCheck(userName))).ms);
  }

  const n = truth.people;
  const startIndexes = [...new Set([1, Math.floor(n / 4), Math.floor(n / 2), Math.floor((3 * n) / 4), Math.max(1, n - 99)].map((i) => Math.max(1, i)))];
  const pages: number[] = [];
  for (let pass = 0; pass < 2; pass++) {
    for (const startIndex of startIndexes) pages.push((await checkedGet(server, `/scim/v2/Users?startIndex=${startIndex}&count=100`, pageCheck(truth, startIndex, 100))).ms);
  }

  const crawl = await crawlUsers(server, truth, 1000, crawlLimitMs);
  return {
    groups,
    roles,
    contains: { ...samples(contains), totalResults: containsTotal },
    userNameEq: samples(eq),
    pages: { ...samples(pages), startIndexes },
    crawl,
  };
}
