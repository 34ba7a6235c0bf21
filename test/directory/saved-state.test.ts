/**
 * Saving the state holds the thread for seconds at scale (the state file is encoded in one synchronous stretch).
 * Requests that queued while the snapshot was being built must be answered first: the HTTP server's admission
 * queue drains from `setImmediate` (src/http/fair-admission.ts), so that work has to run before the store's save.
 */
import { silentLogger } from '../../src/log';
import type { PersistedDirectory, SnapshotStore } from '../../src/directory/persistence';
import { SavedState } from '../../src/directory/saved-state';
import { ManualClock } from '../xero/helpers/clocks';

describe('SavedState.save', () => {
  it('lets work the event loop already has queued run before the store encodes and writes the state', async () => {
    const order: string[] = [];
    const store: SnapshotStore = {
      load: () => Promise.resolve(undefined),
      save: () => {
        order.push('store.save');
        return Promise.resolve();
      },
    };
    const saved = new SavedState(store, new ManualClock(), silentLogger);
    const state = { format: 1, savedAt: '2026-11-27T05:00:00.000Z', tenants: [], health: [] } as unknown as PersistedDirectory;
    const saving = saved.save(state);
    setImmediate(() => order.push('queued request'));
    await saving;
    expect(order).toEqual(['queued request', 'store.save']);
    expect(saved.lastSavedAt).toBe('2026-11-27T05:00:00.000Z');
  });
});
