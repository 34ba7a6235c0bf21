/**
 * Replicas under faults: three real `node dist/cli.js serve` processes share a real redis-server and sync from the
 * sandbox (short access tokens, so every sync redeems the rotating refresh token). A watcher reads every replica's
 * `/scim/v2/Groups` all the time; whatever happens, no replica ever stops showing a membership it showed unless the
 * sandbox really removed it, and a replica that has served keeps serving.
 *
 * - Steady state: one leader makes every Xero call (the followers none), the sandbox sees one refresh per sync, as
 *   for one replica, and every replica serves the same bytes and ETags.
 * - A crawl whose pages alternate between replicas sees every user exactly once across a snapshot change.
 * - The leader is SIGKILLed at seeded moments, some aimed at a token refresh (after the sandbox rotated, before the
 *   answer arrived; while the new token is stored) or at the end of a sync: a follower leads within one lease TTL +
 *   one sync interval, publishes the data changed at the kill, and the sandbox never answers invalid_grant.
 * - Redis is SIGKILLed and restarted, with AOF and without (its data lost): replicas keep serving, syncing resumes,
 *   the token chain survives, and they catch up to one version.
 * - The leader is SIGSTOPped mid-sync past its lease; a successor publishes newer data; SIGCONT: the old leader
 *   redeems nothing and publishes nothing (what the others serve never goes back).
 */
import { Redis } from 'ioredis';
import { personId } from '../../src/directory/ids';
import { Dice, campaignSeed, ensureBuilt, replayable, reportFigures, size, waitFor } from './support';
import { describeWithRedis } from '../support/redis-server';
import { type Replica, type ReplicaCluster as Cluster, ReplicaCluster, membershipsOf } from './replica-cluster';

const LEASE_SECONDS = 3;
const SYNC_INTERVAL_SECONDS = 5;
const ORGANISATIONS = 6;
const KILLS = size(5, 50);
const ROLES = ['READONLY', 'INVOICEONLY', 'STANDARD'] as const;

type KillPoint = 'after-rotation-before-answer' | 'while-storing-token' | 'end-of-sync' | 'anywhere';
const KILL_POINTS: readonly KillPoint[] = ['after-rotation-before-answer', 'while-storing-token', 'end-of-sync', 'anywhere'];

/**
 * Reads every serving replica's Groups over and over. Per replica process, a membership (or organisation) it has
 * shown may only disappear if the sandbox removed it; a process that has answered 200 must keep answering 200.
 */
class ServedWatch {
  readonly violations: string[] = [];
  readonly removed = new Set<string>();
  answers = 0;
  slowAnswers = 0;
  private readonly last = new Map<number, Set<string>>();
  private running = true;
  private readonly loop: Promise<void>;

  constructor(private readonly cluster: Cluster) {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (this.running) {
      await Promise.all(this.cluster.serving().map((r) => this.check(r)));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  private async check(replica: Replica): Promise<void> {
    const generation = replica.generation;
    let answer;
    try {
      answer = await replica.scim('/Groups?count=1000', 4_000);
    } catch (err) {
      // Killed or paused meanwhile: not an answer. Alive and unpaused but silent for 4 s: counted, not judged.
      if (replica.serving && (err as Error).name === 'TimeoutError') this.slowAnswers++;
      return;
    }
    this.answers++;
    if (answer.status !== 200) {
      if (replica.served) this.violations.push(`replica ${replica.slot} (process ${generation}) served, then answered ${answer.status}: ${answer.text.slice(0, 200)}`);
      return;
    }
    replica.served = true;
    const list = answer.body as { totalResults: number; Resources: unknown[] };
    if (list.totalResults !== list.Resources.length) this.violations.push(`replica ${replica.slot}: totalResults ${list.totalResults} for ${list.Resources.length} groups`);
    const now = membershipsOf(answer.body);
    const before = this.last.get(generation);
    if (before) {
      const lost = [...before].filter((m) => !now.has(m) && !this.removed.has(m));
      if (lost.length > 0) this.violations.push(`replica ${replica.slot} (process ${generation}) stopped showing ${lost.length} membership(s) the sandbox did not remove: ${lost.slice(0, 3).join(', ')}`);
    }
    this.last.set(generation, now);
  }

  /** Fails the test at once if anything was seen wrong. */
  assertClean(cluster: Cluster): void {
    if (this.violations.length > 0) throw new Error(`${this.violations.slice(0, 5).join('\n')}\n${cluster.logs()}`);
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

/** The sandbox's data changes, as in Xero: people join, leave and change role. Removals are announced first. */
class Script {
  joined = 0;
  left = 0;
  regraded = 0;

  constructor(
    private readonly cluster: Cluster,
    private readonly watch: ServedWatch,
    private readonly dice: Dice,
  ) {}

  private organisation(): string {
    return this.dice.pick(this.cluster.sandbox.data.organisations()).organisationId;
  }

  join(tag: string): void {
    this.cluster.sandbox.data.addUser(this.organisation(), { email: `joiner-${tag}-${this.joined}@example.com`, firstName: 'Joiner', lastName: tag, role: this.dice.pick(ROLES) });
    this.joined++;
  }

  /** Removes one person's record from one organisation (the membership may then disappear, nothing else). */
  leave(): void {
    const organisationId = this.organisation();
    const users = this.cluster.sandbox.data.users(organisationId).filter((u) => u.role !== 'REMOVED');
    if (users.length < 3) return;
    const user = this.dice.pick(users);
    this.removeRecord(organisationId, user.userId, user.email);
  }

  removeRecord(organisationId: string, userId: string, email: string): void {
    for (const key of membershipKeys(organisationId, email)) this.watch.removed.add(key);
    this.cluster.sandbox.data.removeUser(organisationId, userId);
    this.left++;
  }

  regrade(): void {
    const organisationId = this.organisation();
    const users = this.cluster.sandbox.data.users(organisationId).filter((u) => u.role !== 'REMOVED');
    this.cluster.sandbox.data.setRole(organisationId, this.dice.pick(users).userId, this.dice.pick(ROLES));
    this.regraded++;
  }

  /** A change that makes the next sync's version differ: one joins, maybe one leaves, maybe one changes role. */
  change(tag: string): void {
    this.join(tag);
    if (this.dice.chance(0.5)) this.leave();
    if (this.dice.chance(0.5)) this.regrade();
  }
}

/**
 * Who publishes, read from Redis every 25 ms (the published hash's `publishedBy` and `fence`) until `stop`: the
 * replicas' own account is not taken for it.
 */
async function publishedInStore(cluster: Cluster): Promise<{ stop(): Promise<{ publishers: string[]; fenceWentBack: boolean }> }> {
  const store = new Redis(cluster.redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await store.connect();
  const publishers = new Set<string>();
  let fence = 0;
  let fenceWentBack = false;
  const read = async () => {
    const [by, fenceText] = await store.hmget('xero-scim:directory', 'publishedBy', 'fence');
    if (by) publishers.add(by);
    if (fenceText !== null) {
      if (Number(fenceText) < fence) fenceWentBack = true;
      fence = Math.max(fence, Number(fenceText));
    }
  };
  await read();
  const timer = setInterval(() => void read().catch(() => undefined), 25);
  return {
    async stop() {
      clearInterval(timer);
      await read();
      store.disconnect();
      return { publishers: [...publishers], fenceWentBack };
    },
  };
}

/** The membership a record makes, as `membershipsOf` names it. */
function membershipKeys(organisationId: string, email: string): string[] {
  return [`${organisationId.toLowerCase()}|${personId(email)}`];
}

/**
 * Waits until every serving replica (but `except`) answers Groups with the same bytes and ETag, showing exactly the
 * sandbox's truth; resolves with the milliseconds it took.
 */
async function converged(cluster: Cluster, timeoutMs: number, what: string, except: readonly number[] = []): Promise<number> {
  const started = Date.now();
  let last = '';
  try {
    await waitFor(
      async () => {
        const replicas = cluster.serving().filter((r) => !except.includes(r.slot));
        const answers = await Promise.all(replicas.map((r) => r.scim('/Groups?count=1000').catch(() => undefined)));
        if (answers.some((a) => a?.status !== 200)) {
          last = `statuses ${answers.map((a) => a?.status ?? 'none').join(',')}`;
          return false;
        }
        const truth = [...cluster.truth()].sort().join('\n');
        const served = answers.map((a) => [...membershipsOf(a!.body)].sort().join('\n'));
        const same = answers.every((a) => a!.text === answers[0]!.text && a!.etag === answers[0]!.etag);
        last = `${served.filter((s) => s === truth).length} of ${answers.length} show the truth; bodies and ETags ${same ? 'equal' : 'differ'}`;
        return same && served.every((s) => s === truth);
      },
      timeoutMs,
      what,
    );
  } catch (err) {
    (err as Error).message += ` (${last})\n${cluster.logs()}`;
    throw err;
  }
  return Date.now() - started;
}

function tokenErrors(cluster: Cluster): number {
  return cluster.sandbox.data.counters().token.errors;
}

const percentile = (values: readonly number[], p: number): number => {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
};

describeWithRedis('Replicas under faults', () => {
  jest.setTimeout(size(60_000, 1_800_000));
  const seed = campaignSeed(0x7e91ca5e);
  const dice = new Dice(seed);
  let cluster: Cluster;
  let watch: ServedWatch;
  let script: Script;
  const figures: Record<string, unknown> = { seed, replicas: 3, leaseSeconds: LEASE_SECONDS, syncIntervalSeconds: SYNC_INTERVAL_SECONDS, violations: 0 };

  beforeAll(async () => {
    ensureBuilt();
    cluster = await ReplicaCluster.start({
      replicas: 3,
      data: { seed: 5, organisations: ORGANISATIONS, usersPerOrganisation: 15, partnerShare: 0 },
      accessTokenTtlSeconds: 2,
      refreshGraceSeconds: 15,
      leaseSeconds: LEASE_SECONDS,
      syncIntervalSeconds: SYNC_INTERVAL_SECONDS,
      latency: { fixedMs: 5, jitterMs: 25 },
    });
    watch = new ServedWatch(cluster);
    script = new Script(cluster, watch, dice);
    await converged(cluster, 30_000, 'the first sync on every replica');
  }, 120_000);

  afterEach(() => {
    cluster.hook = undefined;
    for (const r of cluster.replicas) if (r.stopped) r.signal('SIGCONT');
  });

  afterAll(async () => {
    await watch?.stop();
    figures.watchedAnswers = watch?.answers;
    figures.slowAnswers = watch?.slowAnswers;
    figures.violations = (figures.violations as number) + (watch?.violations.length ?? 0);
    if (cluster) figures.tokenErrors = tokenErrors(cluster);
    reportFigures('replicas', figures);
    await cluster?.destroy();
  });

  const failing = async <T>(step: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await replayable(seed, step, run);
    } catch (err) {
      figures.violations = (figures.violations as number) + 1;
      throw err;
    }
  };

  it('one leader makes every Xero call, one refresh per sync as one replica would, and every replica serves the same bytes', async () => {
    await failing('steady state', async () => {
      const leader = await cluster.oneLeader(10_000);
      const since = Date.now();
      // Two syncs: the calls from the first one's `/connections` to the second's (its refresh comes just before).
      await waitFor(() => cluster.callsSince(since, (c) => c.kind === 'connections').length >= 2, 2 * (SYNC_INTERVAL_SECONDS + 2) * 1000, 'two syncs');
      await new Promise((resolve) => setTimeout(resolve, 500));
      const calls = cluster.callsSince(since);
      const bySlot = new Map<number, number>();
      for (const c of calls) bySlot.set(c.slot, (bySlot.get(c.slot) ?? 0) + 1);
      expect([...bySlot.keys()]).toEqual([leader]);
      const syncs = calls.filter((c) => c.kind === 'connections');
      const between = calls.filter((c) => c.kind === 'token' && c.at > syncs[0]!.at && c.at <= syncs.at(-1)!.at);
      // Access tokens live 2 s and syncs are 5 s apart: one replica redeems once per sync, and so must three.
      expect(between.length).toBe(syncs.length - 1);
      figures.steady = { syncs: syncs.length, tokenCallsPerSync: between.length / (syncs.length - 1), xeroCallsPerSync: Math.round((calls.length / syncs.length) * 10) / 10, slotsCallingXero: bySlot.size };
      await converged(cluster, 15_000, 'every replica serving the same bytes');
      watch.assertClean(cluster);
    });
  });

  it('a crawl whose pages alternate between replicas sees every user exactly once across a published removal', async () => {
    await failing('crawl', async () => {
      const count = 7;
      const seen: string[] = [];
      const replicas = () => cluster.serving();
      const page = async (index: number, startIndex: number) => {
        const r = replicas()[index % replicas().length]!;
        const answer = await r.scim(`/Users?count=${count}&startIndex=${startIndex}&attributes=userName`);
        expect(answer.status).toBe(200);
        if (process.env.DEBUG_CRAWL) console.log(`page ${index} slot ${r.slot} start ${startIndex} total ${(answer.body as { totalResults: number }).totalResults} ${(answer.body as { Resources: { userName: string }[] }).Resources.map((u) => u.userName).join(' ')}`);
        return answer.body as { totalResults: number; Resources: { id: string; userName: string }[] };
      };
      const first = await page(0, 1);
      const total = first.totalResults;
      seen.push(...first.Resources.map((u) => u.id));
      const second = await page(1, 1 + count);
      seen.push(...second.Resources.map((u) => u.id));
      // Someone listed before the crawler's position leaves every organisation: every later user shifts left.
      const gone = first.Resources[0]!.userName;
      for (const org of cluster.sandbox.data.organisations()) {
        for (const u of cluster.sandbox.data.users(org.organisationId)) {
          if (u.email.trim().toLowerCase() === gone) script.removeRecord(org.organisationId, u.userId, u.email);
        }
      }
      const publishedAt = Date.now();
      await waitFor(
        async () => {
          const answers = await Promise.all(replicas().map((r) => r.scim(`/Users?filter=${encodeURIComponent(`userName eq "${gone}"`)}`)));
          return answers.every((a) => (a.body as { totalResults: number }).totalResults === 0);
        },
        (LEASE_SECONDS + SYNC_INTERVAL_SECONDS * 2) * 1000,
        'the removal to be published to every replica',
      );
      for (let i = 2, start = 1 + 2 * count; start <= total; i++, start += count) {
        const next = await page(i, start);
        expect(next.totalResults).toBe(total);
        seen.push(...next.Resources.map((u) => u.id));
      }
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen).toHaveLength(total);
      figures.crawl = { users: total, pageSize: count, publishWaitMs: Date.now() - publishedAt };
      watch.assertClean(cluster);
    });
  });

  it('the leader SIGKILLed at random moments: a follower leads within lease + one sync interval, publishes, and the chain holds', async () => {
    const failovers: number[] = [];
    const leaderships: number[] = [];
    const byPoint: Record<string, number> = {};
    let fallbacks = 0;
    let restarting: Promise<unknown> = Promise.resolve();
    for (let round = 1; round <= KILLS; round++) {
      await failing(`kill ${round}`, async () => {
        const leader = await cluster.oneLeader(15_000);
        const replacing = restarting;
        const point = dice.pick(KILL_POINTS);
        const delayMs = dice.int(0, point === 'end-of-sync' ? 60 : 15);
        let killed: { slot: number; at: number } | undefined;
        const kill = (slot: number) => {
          if (killed) return;
          cluster.hook = undefined;
          killed = { slot, at: Date.now() };
          cluster.replicas[slot]!.signal('SIGKILL');
          // The data changes as the leader dies: the successor's first sync must publish it.
          script.change(`k${round}`);
        };
        const usersAnswered = new Map<number, number>();
        cluster.hook = (call, send) => {
          if (call.kind === 'token' && call.status === 200 && point === 'after-rotation-before-answer') {
            // Rotated at the sandbox; the leader dies before a byte of the answer reaches it.
            kill(call.slot);
            void cluster.replicas[call.slot]!.exited().then(send);
            return;
          }
          send();
          if (call.kind === 'token' && call.status === 200 && point === 'while-storing-token') setTimeout(() => kill(call.slot), delayMs);
          if (call.kind === 'connections') usersAnswered.set(call.slot, 0);
          if (call.kind === 'Users' && call.status === 200 && point === 'end-of-sync') {
            const n = (usersAnswered.get(call.slot) ?? 0) + 1;
            usersAnswered.set(call.slot, n);
            if (n === ORGANISATIONS) setTimeout(() => kill(call.slot), delayMs);
          }
        };
        const fallback = setTimeout(() => {
          if (!killed && point !== 'anywhere') fallbacks++; // the armed point never came: killed anyway
          kill(leader);
        }, point === 'anywhere' ? dice.int(0, 3000) : (SYNC_INTERVAL_SECONDS + 4) * 1000);
        try {
          await waitFor(() => killed !== undefined, (SYNC_INTERVAL_SECONDS + 6) * 1000, `the kill at ${point}`);
        } finally {
          clearTimeout(fallback);
        }
        await cluster.replicas[killed!.slot]!.exited();
        await replacing;
        byPoint[point] = (byPoint[point] ?? 0) + 1;

        const next = await cluster.oneLeader((LEASE_SECONDS + SYNC_INTERVAL_SECONDS) * 1000, 'a surviving replica to lead');
        leaderships.push(Date.now() - killed!.at);
        expect(next).not.toBe(killed!.slot);
        await converged(cluster, (LEASE_SECONDS + SYNC_INTERVAL_SECONDS) * 1000 + 5_000, 'the successor to publish the change made at the kill');
        failovers.push(Date.now() - killed!.at);
        expect(tokenErrors(cluster)).toBe(0);
        watch.assertClean(cluster);
        // Back to three replicas: the new process loads what was published and serves at once. It starts while the
        // next round is armed; the round's checks wait for it.
        restarting = cluster.startReplica(killed!.slot);
      });
    }
    await restarting;
    await failing('after the kills', () => converged(cluster, 15_000, 'every replica, the restarted ones too, on one version'));
    expect(tokenErrors(cluster)).toBe(0);
    figures.kills = {
      kills: KILLS,
      byPoint,
      fallbacks,
      leaderWithinMs: { p50: percentile(leaderships, 50), max: Math.max(...leaderships) },
      publishedWithinMs: { p50: percentile(failovers, 50), max: Math.max(...failovers) },
    };
    watch.assertClean(cluster);
  });

  it('Redis SIGKILLed and restarted, with and without AOF: replicas keep serving, syncing resumes, the chain holds, one version', async () => {
    const outages: Record<string, unknown>[] = [];
    for (const appendOnly of [true, false]) {
      await failing(`redis ${appendOnly ? 'with' : 'without'} AOF`, async () => {
        await converged(cluster, 15_000, 'one version before the outage');
        const leader = await cluster.oneLeader(15_000);
        const down = dice.int(1_000, (LEASE_SECONDS + 1) * 1000);
        await cluster.redis.kill();
        const killedAt = Date.now();
        script.change(appendOnly ? 'aof' : 'noaof');
        await new Promise((resolve) => setTimeout(resolve, down));
        // Every replica still ready and serving what it holds, and saying the store is not up.
        for (const r of cluster.serving()) {
          const readiness = await r.readiness();
          expect({ slot: r.slot, status: readiness.status }).toEqual({ slot: r.slot, status: 200 });
          expect({ slot: r.slot, store: readiness.body.replication?.store.state }).not.toEqual({ slot: r.slot, store: 'up' });
        }
        // Without its data, Redis must be reseeded with the chain by whoever leads next. The leader (the one replica
        // that redeemed last) is paused until a follower has done it: a follower's copy must be the newest too.
        if (!appendOnly) cluster.replicas[leader]!.signal('SIGSTOP');
        await cluster.redis.restart({ appendOnly });
        const restartedAt = Date.now();
        const catchUpMs = await converged(cluster, (LEASE_SECONDS + SYNC_INTERVAL_SECONDS) * 2000 + 5_000, 'syncing to resume and every replica to serve the change', [leader]);
        if (!appendOnly) {
          cluster.replicas[leader]!.signal('SIGCONT');
          await converged(cluster, (LEASE_SECONDS + SYNC_INTERVAL_SECONDS) * 1000 + 5_000, 'the paused leader to rejoin on the same version');
        }
        expect(tokenErrors(cluster)).toBe(0);
        watch.assertClean(cluster);
        outages.push({ appendOnly, downMs: restartedAt - killedAt, caughtUpMs: catchUpMs });
      });
    }
    figures.redisOutages = outages;
  });

  it('a leader SIGSTOPped mid-sync past its lease, then SIGCONTed, neither redeems nor publishes', async () => {
    await failing('pause', async () => {
      await converged(cluster, 15_000, 'one version before the pause');
      const paused = await cluster.oneLeader(15_000);
      const pausedId = (await cluster.replicas[paused]!.readiness()).body.replication?.replicaId;
      expect(pausedId).toEqual(expect.any(String));
      let stoppedAt = 0;
      cluster.hook = (call, send) => {
        send();
        // Mid-sync: its organisations' users are on their way; it will wake up holding data older than the successor's.
        if (!stoppedAt && call.slot === paused && call.kind === 'Users') {
          stoppedAt = Date.now();
          cluster.replicas[paused]!.signal('SIGSTOP');
        }
      };
      await waitFor(() => stoppedAt > 0, (SYNC_INTERVAL_SECONDS + 4) * 1000, 'the leader to be paused mid-sync');
      cluster.hook = undefined;
      script.change('paused');
      const successor = await cluster.oneLeader((LEASE_SECONDS + SYNC_INTERVAL_SECONDS) * 1000, 'a successor while the leader is paused');
      expect(successor).not.toBe(paused);
      await converged(cluster, (LEASE_SECONDS + SYNC_INTERVAL_SECONDS) * 1000 + 5_000, 'the successor to publish newer data', [paused]);
      const before = cluster.callsSince(stoppedAt, (c) => c.slot === paused && c.kind === 'token').length;

      // What Redis holds as published, read directly from before the resume: never the paused replica's, never
      // under an older fence than it held before.
      const store = await publishedInStore(cluster);
      const resumedAt = Date.now();
      cluster.replicas[paused]!.signal('SIGCONT');
      // Long enough for its stale sync to finish and try to publish, and for it to need a new access token (its
      // own expired while it was paused). The sequence the others serve never goes back.
      const sequences = new Map<number, number>();
      let published: Awaited<ReturnType<typeof store.stop>>;
      try {
        while (Date.now() < resumedAt + (LEASE_SECONDS + 2) * 1000) {
          for (const r of cluster.serving().filter((x) => x.slot !== paused)) {
            const sequence = (await r.readiness()).body.replication?.sequence;
            if (sequence === undefined || sequence === null) continue;
            expect({ slot: r.slot, sequenceWentBack: sequence < (sequences.get(r.slot) ?? 0) }).toEqual({ slot: r.slot, sequenceWentBack: false });
            sequences.set(r.slot, sequence);
          }
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      } finally {
        published = await store.stop();
      }
      expect(published.fenceWentBack).toBe(false);
      expect(published.publishers).not.toContain(pausedId);
      const redeemedAfter = cluster.callsSince(resumedAt, (c) => c.slot === paused && c.kind === 'token');
      const xeroAfter = cluster.callsSince(resumedAt, (c) => c.slot === paused);
      expect(redeemedAfter).toEqual([]);
      expect((await cluster.replicas[paused]!.readiness()).body.replication?.role).toBe('follower');
      // It comes back as a follower serving the successor's version, like everyone else.
      await converged(cluster, (SYNC_INTERVAL_SECONDS + 5) * 1000, 'the resumed replica to serve the successor’s version');
      expect(tokenErrors(cluster)).toBe(0);
      watch.assertClean(cluster);
      figures.pause = { tokenCallsWhilePaused: before, tokenCallsAfterResume: redeemedAfter.length, xeroCallsAfterResume: xeroAfter.length, pausedMs: resumedAt - stoppedAt };
    });
  });
});
