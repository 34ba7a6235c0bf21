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
