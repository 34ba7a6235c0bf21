/**
 * `xero-scim confirm-disconnect <tenantId>… | --all`: an operator confirms removals the guard holds back
 * (`src/directory/guard.ts`). It reads the held suspicions from the server's STATE_DIR and leaves a confirmation
 * there; the server's next sync that still gets the removing answer from Xero applies it.
 */
import type { Config } from '../config';
import { FileConfirmationStore } from '../directory/confirmations';
import { FileSnapshotStore } from '../directory/persistence';
import { isoTime } from '../xero/clock';

export interface ConfirmDisconnectOptions {
  readonly tenantIds: readonly string[];
  readonly all: boolean;
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly now?: () => number;
}

/** Exit codes: 0 recorded (or nothing held back with `--all`), 2 a tenant id that is not held back, 1 no state. */
export async function runConfirmDisconnect(config: Config, options: ConfirmDisconnectOptions): Promise<number> {
  const state = await new FileSnapshotStore(config.stateDir).load();
  if (!state) {
    options.err(`xero-scim confirm-disconnect: no directory state in ${config.stateDir}: run it with the server's STATE_DIR (e.g. inside its container)`);
    return 1;
  }
  const held = state.suspicions ?? {};
  const names = new Map(state.tenants.map((t) => [t.organisation.id, t.organisation.name]));
  const describe = (id: string): string => {
    const s = held[id]!;
    return `  ${names.get(id) ?? id} (${id}): ${s.reason} since ${s.since}, ${s.answers} answer${s.answers === 1 ? '' : 's'}`;
  };
  const ids = options.all ? Object.keys(held).sort() : [...new Set(options.tenantIds.map((id) => id.trim().toLowerCase()))];
  const unknown = ids.filter((id) => held[id] === undefined);
  if (unknown.length > 0) {
    options.err(`xero-scim confirm-disconnect: not held back as of the last sync (${state.savedAt}): ${unknown.join(', ')}`);
    const all = Object.keys(held).sort();
    options.err(all.length > 0 ? ['Held back:', ...all.map(describe)].join('\n') : 'Nothing is held back.');
    return 2;
  }
  if (ids.length === 0) {
    options.out(`Nothing to confirm: no removal is held back as of the last sync (${state.savedAt}).`);
    return 0;
  }
  const at = isoTime((options.now ?? Date.now)());
  const store = new FileConfirmationStore(config.stateDir);
  await store.add({ tenantIds: ids, at });
  options.out(
    [
      `Confirmed the removal of ${ids.length} organisation${ids.length === 1 ? '' : 's'}:`,
      ...ids.map(describe),
      `Recorded in ${store.dir}. The server's next sync applies it if Xero still leaves them out (or their Users empty);`,
      'one that came back meanwhile stays, and its confirmation lapses.',
    ].join('\n'),
  );
  return 0;
}
