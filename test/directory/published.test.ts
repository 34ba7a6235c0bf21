/**
 * The published snapshot's memory of the last few it held: what a replica answers a crawl begun on another from.
 */
import { PublishedSnapshot, RECENT_SNAPSHOTS } from '../../src/directory/published';
import { generatedTenants } from '../http/fixtures';

describe('PublishedSnapshot remembers the last snapshots by version', () => {
  const datasets = Array.from({ length: RECENT_SNAPSHOTS + 1 }, (_, i) => generatedTenants(2, 20, i + 1));

  it('answers the current one and the last few swapped out with their version and builtAt, and forgets older ones', () => {
    const published = new PublishedSnapshot();
    const held = datasets.map((data, i) => {
      expect(published.publish(data, Date.UTC(2026, 0, 1, i))).toBe(true);
      return published.current()!;
    });
    expect(published.byVersion(held[0]!.version)).toBeUndefined();
    for (const snapshot of held.slice(1)) {
      const again = published.byVersion(snapshot.version)!;
      expect({ version: again.version, builtAt: again.builtAt, people: again.people }).toEqual({ version: snapshot.version, builtAt: snapshot.builtAt, people: snapshot.people });
    }
    expect(published.byVersion(held.at(-1)!.version)).toBe(published.current());
    expect(published.byVersion('no-such-version')).toBeUndefined();
  });

  it('remembers a restored snapshot, and an unchanged publish neither swaps nor forgets anything', () => {
    const published = new PublishedSnapshot();
    const restored = published.restore(datasets[0]!, '2026-01-01T00:00:00.000Z');
    expect(published.publish(datasets[0]!, Date.UTC(2026, 0, 2))).toBe(false);
    published.publish(datasets[1]!, Date.UTC(2026, 0, 3));
    expect(published.byVersion(restored.version)?.builtAt).toBe('2026-01-01T00:00:00.000Z');
  });
});

describe('PublishedSnapshot.publishInSlices (how a sync publishes)', () => {
  it('builds between turns of the event loop, serving the current snapshot until it swaps in the same snapshot publish builds', async () => {
    // 200 organisations of 60 users: 12,000 memberships, enough for hundreds of steps.
    const before = generatedTenants(200, 60, 1);
    const after = generatedTenants(200, 60, 2);
    const builtAt = Date.UTC(2026, 0, 2);
    const reference = new PublishedSnapshot();
    reference.publish(after, builtAt);

    const published = new PublishedSnapshot();
    published.publish(before, Date.UTC(2026, 0, 1));
    const old = published.current()!;
    // What a poller sees on each turn of the event loop the build gives back (slices of 0 ms: a turn at every step).
    const seen: string[] = [];
    let building = true;
    const poll = () => {
      seen.push(published.current()!.version);
      if (building) setImmediate(poll);
    };
    setImmediate(poll);
    let changed: boolean;
    try {
      changed = await published.publishInSlices(after, builtAt, 0);
    } finally {
      building = false;
    }
    expect(changed).toBe(true);
    // 200 organisations: a step for each in every walk over them, so hundreds of turns.
    expect(seen.length).toBeGreaterThan(200);
    expect(new Set(seen)).toEqual(new Set([old.version]));
    const now = published.current()!;
    expect(now).not.toBe(old);
    expect({ version: now.version, builtAt: now.builtAt, people: [...now.people], roles: now.roles, members: [...now.memberRecords] }).toEqual({
      version: reference.current()!.version,
      builtAt: reference.current()!.builtAt,
      people: [...reference.current()!.people],
      roles: reference.current()!.roles,
      members: [...reference.current()!.memberRecords],
    });
    // Unchanged content swaps nothing, in slices too.
    expect(await published.publishInSlices(after, builtAt + 60_000, 0)).toBe(false);
    expect(published.current()).toBe(now);
  });
});
