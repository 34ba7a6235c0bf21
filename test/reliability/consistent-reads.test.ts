/**
 * Guarantee 3 — consistent reads. Heavy concurrent polling over HTTP while the directory swaps snapshots (the
 * sandbox's data mutates and syncs run back to back): every list answer is exactly one published snapshot's content
 * (its ids, totals, group memberships), an ETag or a resource's meta.version never names two different contents,
 * and every paginated crawl across swaps, by index or by cursor, is exactly one snapshot, while the pollers read
 * the crawls' own query at other page sizes, and other queries, with the crawlers' own token.
 */
import { createHash } from 'node:crypto';
import { directoryOptions } from '../../src/commands/directory-options';
import type { DirectorySnapshot } from '../../src/directory/model';
import { membersOf } from '../support/snapshot-objects';
import { createXeroDirectory } from '../../src/directory/sync';
import { createApp } from '../../src/http/app';
import { listen } from '../../src/http/listen';
import { SteppingClock } from '../xero/helpers/clocks';
import { world } from '../directory/helpers';
import { Dice, campaignSeed, capturedLogger, replayable, reportFigures, size } from './support';

const TOKEN = 'consistent-reads-scim-token';
const SWAPS = size(25, 200);
/** On a loaded 2-core machine a swap can take a second: stop early (after at least MIN_SWAPS) when time is up. */
const MIN_SWAPS = 6;
const BUDGET_MS = size(6_000, 300_000);
const POLLERS = size(4, 24);
const CRAWLERS = size(3, 8);
const PAGE = 7;

interface ScimList {
  totalResults: number;
  itemsPerPage: number;
  startIndex?: number;
  nextCursor?: string;
  Resources: { id: string; meta: { version: string }; members?: { value: string }[] }[];
}

const hash = (text: string) => createHash('sha256').update(text).digest('base64url');

/** What a published snapshot must look like through SCIM: its people's ids and its groups' members. */
function signature(snapshot: DirectorySnapshot): { users: string; groups: string; userIds: string[] } {
  const userIds = [...snapshot.people].map((p) => p.id).sort();
  const groups = snapshot.organisations
    .map((o) => `${o.id}:${(membersOf(snapshot, o.id) ?? []).map((m) => m.person.id).sort().join(',')}`)
    .sort()
    .join(' ');
  return { users: userIds.join(','), groups, userIds };
}

describe('Guarantee 3: consistent reads while snapshots swap', () => {
  jest.setTimeout(size(60_000, 1_800_000));

  it('every answer is one snapshot, ETags and versions are coherent, and a crawl across swaps loses no one', async () => {
    const seed = campaignSeed(0xc0ffee);
    const dice = new Dice(seed);
    const clock = new SteppingClock();
    const w = await world({ clock, data: { seed: 5, organisations: 5, usersPerOrganisation: 20, partnerShare: 0 } });
    const { logger } = capturedLogger('silent');
    const directory = createXeroDirectory(directoryOptions(w.config), { clock, random: () => 0.5, logger });
    await directory.syncOnce();
    // One client: pollers and crawlers share the token, as one IGA tool's checks and imports do.
    const server = await listen(createApp({ directory, tokens: [TOKEN], logger, clock }), 0, '127.0.0.1');
    const get = async (route: string) => {
      const res = await fetch(`${server.url}${route}`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(res.status).toBe(200);
      return { etag: res.headers.get('etag') ?? '', text: await res.text() };
    };

    const published = new Map<string, ReturnType<typeof signature>>();
    const record = () => {
      const s = directory.current()!;
      if (!published.has(s.version)) published.set(s.version, signature(s));
    };
    record();
    const userAnswers: string[] = [];
    const groupAnswers: string[] = [];
    const bodyByETag = new Map<string, string>();
    const contentByVersion = new Map<string, string>();
    const crawls: { method: 'index' | 'cursor'; first: string; last: string; seen: string[]; totals: number[] }[] = [];
    const figures = { seed, swaps: 0, answersChecked: 0, crawls: 0, violations: 0 };
    let done = false;

    const checkList = (kind: 'Users' | 'Groups', etag: string, text: string) => {
      const list = JSON.parse(text) as ScimList;
      expect(list.totalResults).toBe(list.Resources.length);
      expect(new Set(list.Resources.map((r) => r.id)).size).toBe(list.Resources.length);
      const known = bodyByETag.get(`${kind} ${etag}`);
      if (known !== undefined) expect({ etag, body: hash(text) }).toEqual({ etag, body: known });
      else bodyByETag.set(`${kind} ${etag}`, hash(text));
      for (const r of list.Resources) {
        const key = `${r.id} ${r.meta.version}`;
        const content = hash(JSON.stringify(r));
        const seen = contentByVersion.get(key);
        if (seen !== undefined) expect({ key, content }).toEqual({ key, content: seen });
        else contentByVersion.set(key, content);
      }
      if (kind === 'Users') userAnswers.push(list.Resources.map((r) => r.id).sort().join(','));
      else {
        groupAnswers.push(
          list.Resources.map((g) => `${g.id}:${(g.members ?? []).map((m) => m.value).sort().join(',')}`)
            .sort()
            .join(' '),
        );
      }
      figures.answersChecked++;
    };

    /** What the crawlers read: the same list at other page sizes (Okta's and Entra's count=1 checks), other queries. */
    const CHECKS = ['count=1&attributes=userName', 'count=1&startIndex=1&attributes=userName', 'count=50&attributes=userName', 'count=3', 'count=5&filter=active%20eq%20true'];
    const poller = async (n: number) => {
      for (let i = 0; !done; i++) {
        if (n % 2 === 1 && i % 2 === 1) {
          await get(`/scim/v2/Users?${dice.pick(CHECKS)}`);
          continue;
        }
        const kind = n % 3 === 0 ? 'Groups' : 'Users';
        const { etag, text } = await get(`/scim/v2/${kind}?count=1000`);
        checkList(kind, etag, text);
      }
    };

    /**
     * Index crawlers each page the list at a size of their own (one token and one query, two crawls of the same size
     * would be one crawl restarting: see guarantee 3); cursor crawlers all share one query and one size.
     */
    const crawler = async (method: 'index' | 'cursor', size: number) => {
      while (!done) {
        const first = directory.current()!.version;
        const seen: string[] = [];
        const totals: number[] = [];
        for (let start = 1, cursor = ''; ; start += size) {
          const where = method === 'index' ? `startIndex=${start}` : `cursor=${cursor}`;
          const page = JSON.parse((await get(`/scim/v2/Users?${where}&count=${size}&attributes=userName`)).text) as ScimList;
          totals.push(page.totalResults);
          seen.push(...page.Resources.map((r) => r.id));
          if (method === 'index' ? start + size > page.totalResults : page.nextCursor === undefined) break;
          cursor = page.nextCursor ?? '';
          await new Promise((r) => setTimeout(r, dice.int(0, 15))); // a crawler takes its time between pages
        }
        crawls.push({ method, first, last: directory.current()!.version, seen, totals });
      }
    };

    const workers = [
      ...Array.from({ length: POLLERS }, (_, n) => poller(n)),
      ...Array.from({ length: CRAWLERS }, (_, n) => crawler('index', PAGE + n)),
      ...Array.from({ length: CRAWLERS }, () => crawler('cursor', PAGE)),
    ];
    const deadline = Date.now() + BUDGET_MS;
    try {
      for (let swap = 1; swap <= SWAPS && (swap <= MIN_SWAPS || Date.now() < deadline); swap++) {
        await replayable(seed, `swap ${swap}`, async () => {
          const organisations = w.sandbox.data.organisations().map((o) => o.organisationId);
          for (let i = dice.int(1, 4); i > 0; i--) {
            const organisationId = dice.pick(organisations);
            const users = w.sandbox.data.users(organisationId);
            if (dice.chance(0.5) && users.length > 5) w.sandbox.data.removeUser(organisationId, dice.pick(users).userId);
            else if (dice.chance(0.5)) w.sandbox.data.addUser(organisationId, { email: `swap-${swap}-${i}@example.com`, firstName: 'S', lastName: `${swap}`, role: 'STANDARD' });
            else w.sandbox.data.setRole(organisationId, dice.pick(users).userId, dice.pick(['READONLY', 'STANDARD', 'REMOVED'] as const));
          }
          clock.advance(300_000);
          await directory.syncOnce();
          record();
          await new Promise((r) => setTimeout(r, dice.int(5, 40))); // polls land on this snapshot, and on the swap
        });
        figures.swaps = swap;
      }
    } finally {
      done = true;
      for (const r of await Promise.allSettled(workers)) if (r.status === 'rejected') console.log(r.reason);
    }

    try {
      await Promise.all(workers); // a poller's failed expectation surfaces here
      expect(published.size).toBeGreaterThan(figures.swaps / 2); // the swaps really happened
      const userSets = new Set([...published.values()].map((s) => s.users));
      const groupSets = new Set([...published.values()].map((s) => s.groups));
      for (const answer of userAnswers) expect(userSets.has(answer)).toBe(true);
      for (const answer of groupAnswers) expect(groupSets.has(answer)).toBe(true);
      expect(userAnswers.length).toBeGreaterThan(figures.swaps);
      expect(groupAnswers.length).toBeGreaterThan(figures.swaps / 2);

      const acrossSwaps = { index: 0, cursor: 0 };
      for (const crawl of crawls) {
        const first = published.get(crawl.first)!.userIds;
        const last = new Set(published.get(crawl.last)!.userIds);
        const seen = new Set(crawl.seen);
        expect({ method: crawl.method, twice: crawl.seen.length - seen.size }).toEqual({ method: crawl.method, twice: 0 });
        const lost = first.filter((id) => last.has(id) && !seen.has(id));
        expect({ method: crawl.method, lost }).toEqual({ method: crawl.method, lost: [] });
        // Stronger: the whole crawl is one published snapshot, with a constant total.
        expect({ method: crawl.method, totals: [...new Set(crawl.totals)] }).toEqual({ method: crawl.method, totals: [crawl.seen.length] });
        expect(userSets.has([...seen].sort().join(','))).toBe(true);
        if (crawl.first !== crawl.last) acrossSwaps[crawl.method]++;
      }
      expect(acrossSwaps.index).toBeGreaterThan(0);
      expect(acrossSwaps.cursor).toBeGreaterThan(0);
      figures.crawls = crawls.length;
      Object.assign(figures, { crawlsAcrossSwaps: acrossSwaps, snapshotsPublished: published.size });
    } catch (err) {
      figures.violations++;
      throw err;
    } finally {
      reportFigures('consistent-reads', figures);
      await server.close(0);
      await directory.stop();
      await w.close();
    }
  });
});
