/**
 * Reads that do not care which replica answers: two apps over two directories that hold the same snapshots (each
 * built from the same data and the same `builtAt`, as followers build the leader's), sharing index crawls' pins
 * through a real redis-server, as a load balancer would see them. A crawl's pages alternate between the two; the
 * snapshot changes on both mid-crawl.
 */
import pino from 'pino';
import request from 'supertest';
import type express from 'express';
import type { Directory, Person, TenantData } from '../../src/directory/model';
import { normaliseEmail } from '../../src/directory/ids';
import { PublishedSnapshot } from '../../src/directory/published';
import { createApp } from '../../src/http/app';
import { RedisConnection } from '../../src/redis/connection';
import { RedisCrawlPins } from '../../src/redis/crawl-pins';
import { describeWithRedis, RedisServer } from '../support/redis-server';
import { PUBLIC_URL, TOKEN, generatedTenants } from './fixtures';

const AUTH = `Bearer ${TOKEN}`;
const CURSOR_SECRET = 'one secret for every replica';
const BUILT_AT = Date.parse('2026-12-01T10:00:00Z');

interface Page {
  totalResults: number;
  itemsPerPage: number;
  nextCursor?: string;
  Resources: { id: string }[];
  scimType?: string;
}

/** A replica's directory: what the leader published, swapped in (and remembered) as `createXeroDirectory` does. */
function replicaDirectory(): Directory & { publish(data: readonly TenantData[], builtAt: number): void } {
  const published = new PublishedSnapshot();
  return {
    current: () => published.current(),
    forRead: async () => published.current(),
    status: () => ({ ready: published.current() !== undefined, tenants: [] }),
    snapshot: (version) => published.byVersion(version),
    publish: (data, builtAt) => void published.publish(data, builtAt),
  };
}

/** The same directory with its first person (in id order, so before any crawler's position) gone and one added. */
function changed(tenants: readonly TenantData[], first: Person): TenantData[] {
  return tenants.map((t, i) => ({
    ...t,
    users: [
      ...t.users.filter((u) => normaliseEmail(u.email) !== first.userName),
      ...(i === 0 ? [{ ...t.users[0]!, xeroUserId: 'ffffffff-0000-4000-8000-000000000000', email: 'newcomer@example.com' }] : []),
    ],
  }));
}

function capturingLogger() {
  const lines: string[] = [];
  return { logger: pino({ level: 'info' }, { write: (line: string) => lines.push(line) }), lines };
}

async function until(condition: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const before = generatedTenants(2, 120, 5);
const snapshotBefore = new PublishedSnapshot();
snapshotBefore.publish(before, BUILT_AT);
const idsBefore = [...snapshotBefore.current()!.people].map((p) => p.id);
const after = changed(before, snapshotBefore.current()!.people.at(0));
const snapshotAfter = new PublishedSnapshot();
snapshotAfter.publish(after, BUILT_AT);
const idsAfter = [...snapshotAfter.current()!.people].map((p) => p.id);

describeWithRedis('reads across two replicas sharing a Redis', () => {
  let server: RedisServer;
  let prefixes = 0;
  const connections: RedisConnection[] = [];

  beforeAll(async () => {
    server = await RedisServer.start();
  });
  afterAll(async () => {
    for (const connection of connections) await connection.close();
    await server.destroy();
  });

  /** Two replicas, each with its own directory and its own connection to `redis`, both holding `data`. */
  async function replicas(redis: RedisServer = server, data: readonly TenantData[] = before, options: { logger?: pino.Logger } = {}) {
    const keyPrefix = `replicas-${++prefixes}:`;
    return Promise.all(
      ['a', 'b'].map(async () => {
        const connection = new RedisConnection({ url: redis.url, keyPrefix }, pino({ level: 'silent' }));
        connections.push(connection);
        await connection.ready();
        const directory = replicaDirectory();
        directory.publish(data, BUILT_AT);
        const app = createApp({
          directory,
          tokens: [TOKEN],
          publicUrl: PUBLIC_URL,
          cursorSecret: CURSOR_SECRET,
          sharedPins: new RedisCrawlPins(connection),
          ...(options.logger ? { logger: options.logger } : {}),
        });
        return { app, directory, connection };
      }),
    );
  }

  async function get(app: express.Express, url: string): Promise<Page> {
    const res = await request(app).get(url).set('Authorization', AUTH);
    expect(`${res.status} ${url}`).toBe(`200 ${url}`);
    return res.body as Page;
  }

  /** An index crawl of Users in pages of 25, page n from `appFor(n)`, with `between(n)` run after page n. */
  async function indexCrawl(appFor: (n: number) => express.Express, between: (n: number) => void = () => {}) {
    const ids: string[] = [];
    const totals = new Set<number>();
    for (let n = 0, startIndex = 1; ; n++) {
      const page = await get(appFor(n), `/scim/v2/Users?count=25&startIndex=${startIndex}&attributes=id`);
      ids.push(...page.Resources.map((r) => r.id));
      totals.add(page.totalResults);
      between(n);
      startIndex += page.itemsPerPage;
      if (page.itemsPerPage === 0 || startIndex > page.totalResults) return { ids, totals: [...totals] };
    }
  }

  /** A cursor crawl of Users in pages of 25, page n from `appFor(n)`, with `between(n)` run after page n. */
  async function cursorCrawl(appFor: (n: number) => express.Express, between: (n: number) => void = () => {}) {
    const ids: string[] = [];
    const totals = new Set<number>();
    let cursor = '';
    for (let n = 0; ; n++) {
      const page = await get(appFor(n), `/scim/v2/Users?count=25&attributes=id&cursor=${cursor}`);
      ids.push(...page.Resources.map((r) => r.id));
      totals.add(page.totalResults);
      between(n);
      if (!page.nextCursor) return { ids, totals: [...totals] };
      cursor = page.nextCursor;
    }
  }

  it('an index crawl alternating between replicas sees every user of its first page’s snapshot exactly once, across a change on both', async () => {
    const [a, b] = await replicas();
    const crawl = await indexCrawl(
      (n) => (n % 2 === 0 ? a!.app : b!.app),
      (n) => {
        if (n === 0) for (const r of [a!, b!]) r.directory.publish(after, BUILT_AT + 60_000);
      },
    );
    expect(crawl.totals).toEqual([idsBefore.length]);
    expect(crawl.ids).toEqual(idsBefore);
    // The change is real: a crawl that begins now, on either replica, sees it.
    expect((await indexCrawl(() => b!.app)).ids).toEqual(idsAfter);
  });

  it('a later crawl of the same query reads its own first page’s snapshot on every replica, not one an earlier crawl left pinned there', async () => {
    const [a, b] = await replicas();
    const alternate = (n: number) => (n % 2 === 0 ? a!.app : b!.app);
    await indexCrawl(alternate); // pins `before` on both replicas, locally and in Redis
    for (const r of [a!, b!]) r.directory.publish(after, BUILT_AT + 60_000);
    expect(idsAfter).not.toEqual(idsBefore);
    const again = await indexCrawl(alternate);
    expect(again.totals).toEqual([idsAfter.length]);
    expect(again.ids).toEqual(idsAfter);
  });

  it('a cursor crawl alternating between replicas sees every user of its first page’s snapshot exactly once, across a change on both', async () => {
    const [a, b] = await replicas();
    const crawl = await cursorCrawl(
      (n) => (n % 2 === 0 ? a!.app : b!.app),
      (n) => {
        if (n === 0) for (const r of [a!, b!]) r.directory.publish(after, BUILT_AT + 60_000);
      },
    );
    expect(crawl.totals).toEqual([idsBefore.length]);
    expect(crawl.ids).toEqual(idsBefore);
  });

  it('answers the same request with the same ETag and the same bytes on every replica, whatever order the data came in', async () => {
    const [a] = await replicas();
    // The other replica got the same content in another order (organisations and users reversed).
    const reversed = [...before].reverse().map((t) => ({ ...t, users: [...t.users].reverse() }));
    const [b] = await replicas(server, reversed);
    expect(b!.directory.current()!.version).toBe(a!.directory.current()!.version);
    const first = (await get(a!.app, '/scim/v2/Users?count=25&cursor=')).nextCursor!;
    const someone = idsBefore[7]!;
    const urls = [
      '/scim/v2/Users',
      '/scim/v2/Users?count=25&startIndex=26',
      `/scim/v2/Users?count=25&cursor=${first}`,
      `/scim/v2/Users/${someone}`,
      '/scim/v2/Groups',
      '/scim/v2/Roles?sortBy=displayName',
      `/scim/v2/tenants/${before[0]!.organisation.id}/Users`,
      '/scim/v2/ServiceProviderConfig',
    ];
    for (const url of urls) {
      // With PUBLIC_URL, and without it behind a load balancer that passes one Host to every replica.
      for (const host of [undefined, 'scim.behind-a-balancer.test']) {
        const [fromA, fromB] = await Promise.all(
          [a!, b!].map((r) => {
            const app = host ? createApp({ directory: r.directory, tokens: [TOKEN], cursorSecret: CURSOR_SECRET }) : r.app;
            const req = request(app).get(url).set('Authorization', AUTH);
            return host ? req.set('Host', host) : req;
          }),
        );
        expect(`${fromA!.status} ${url}`).toBe(`200 ${url}`);
        expect({ url, etag: fromB!.headers.etag, body: fromB!.text }).toEqual({ url, etag: fromA!.headers.etag, body: fromA!.text });
        expect(fromA!.headers.etag).toMatch(/^W\/"/);
      }
    }
  });

  it('with Redis down, crawls still answer, each replica falling back to its own pins, and the failures are logged once at warn', async () => {
    const redis = await RedisServer.start();
    try {
      const { logger, lines } = capturingLogger();
      const [a, b] = await replicas(redis, before, { logger });
      await redis.kill();
      await until(() => !a!.connection.isUp() && !b!.connection.isUp());

      // Every page on one replica: its own pin keeps the crawl on its first snapshot.
      const onA = await indexCrawl(
        () => a!.app,
        (n) => {
          if (n === 0) for (const r of [a!, b!]) r.directory.publish(after, BUILT_AT + 60_000);
        },
      );
      expect(onA.ids).toEqual(idsBefore);

      // Alternating: every page answers (which snapshot a replica without the pin reads is the current one).
      const alternating = await indexCrawl((n) => (n % 2 === 0 ? b!.app : a!.app));
      expect(alternating.ids.length).toBeGreaterThan(0);
      // Cursors need no store: each replica holds the snapshot a cursor names.
      const cursors = await cursorCrawl((n) => (n % 2 === 0 ? a!.app : b!.app));
      expect(new Set(cursors.ids).size).toBe(cursors.ids.length);

      const warnings = lines.map((l) => JSON.parse(l) as { level: number; msg: string; failures?: number }).filter((l) => l.msg.includes('crawl-pin store'));
      expect(warnings.map((w) => w.level)).toEqual([40, 40]); // one per replica: rate-limited, not one per page
      expect(warnings.every((w) => w.failures === 1)).toBe(true);

      // Redis back: the replicas share pins again.
      await redis.restart();
      await until(() => a!.connection.isUp() && b!.connection.isUp());
      for (const r of [a!, b!]) r.directory.publish(before, BUILT_AT + 120_000);
      const shared = await indexCrawl(
        (n) => (n % 2 === 0 ? a!.app : b!.app),
        (n) => {
          if (n === 0) for (const r of [a!, b!]) r.directory.publish(after, BUILT_AT + 180_000);
        },
      );
      expect(shared.ids).toEqual(idsBefore);
    } finally {
      await redis.destroy();
    }
  });
});
