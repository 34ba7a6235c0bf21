/**
 * Operator confirmations of held removals (`xero-scim confirm-disconnect`), handed to the server through STATE_DIR:
 * the command writes one file per confirmation into `STATE_DIR/confirm-disconnect/`, and the next sync that gets an
 * answer from Xero reads them, applies them (`guard.ts`) and deletes them once its state is persisted. One file per
 * confirmation, so the command and the server never write the same file.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { Logger } from '../log';
import { readJsonFileIfExists, writeFileDurably } from '../files/durable-file';

export interface DisconnectConfirmation {
  /** Lower-case tenant ids whose suspicion the operator confirmed. */
  readonly tenantIds: readonly string[];
  /** ISO 8601 instant of the confirmation. */
  readonly at: string;
}

export interface PendingConfirmation {
  /** What `consume` takes to delete it. */
  readonly key: string;
  readonly confirmation: DisconnectConfirmation;
}

export interface ConfirmationStore {
  add(confirmation: DisconnectConfirmation): Promise<void>;
  /** Every confirmation not consumed yet. One that cannot be read is skipped (and reported by `onUnreadable`). */
  pending(onUnreadable?: (key: string, error: Error) => void): Promise<PendingConfirmation[]>;
  consume(keys: readonly string[]): Promise<void>;
}

/** What a sync applies: every readable confirmation; a store that cannot be read at all confirms nothing (and says so). */
export async function readConfirmations(store: ConfirmationStore, logger: Logger): Promise<PendingConfirmation[]> {
  try {
    return await store.pending((key, err) => logger.warn({ key, err }, 'ignoring an unreadable disconnect confirmation'));
  } catch (err) {
    logger.error({ err }, 'cannot read the disconnect confirmations; none is applied this sync');
    return [];
  }
}

const storedConfirmation = z.object({
  format: z.literal(1),
  tenantIds: z.array(z.string().min(1).transform((id) => id.toLowerCase())).min(1),
  at: z.string(),
});

/** A confirmation as every store keeps it (a file's content, a Redis hash field's value). */
export function confirmationJson(confirmation: DisconnectConfirmation): string {
  return JSON.stringify({ format: 1, tenantIds: confirmation.tenantIds, at: confirmation.at });
}

/** A stored confirmation read back; throws, saying why, when `json` is not one (the store's `onUnreadable`). */
export function parseConfirmation(json: unknown): DisconnectConfirmation {
  const parsed = storedConfirmation.safeParse(json);
  if (!parsed.success) throw new Error(`not a confirmation (${parsed.error.issues[0]?.message ?? 'invalid'})`);
  return { tenantIds: parsed.data.tenantIds, at: parsed.data.at };
}

const CONFIRMATIONS_DIR = 'confirm-disconnect';

export class FileConfirmationStore implements ConfirmationStore {
  readonly dir: string;

  constructor(stateDir: string) {
    this.dir = path.join(stateDir, CONFIRMATIONS_DIR);
  }

  async add(confirmation: DisconnectConfirmation): Promise<void> {
    // Time first, so the files sort in the order they were written.
    const name = `${confirmation.at.replace(/[^0-9]/g, '')}-${randomBytes(6).toString('hex')}.json`;
    await writeFileDurably(path.join(this.dir, name), confirmationJson(confirmation));
  }

  async pending(onUnreadable?: (key: string, error: Error) => void): Promise<PendingConfirmation[]> {
    const names = await fs.readdir(this.dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [] as string[];
      throw err;
    });
    const out: PendingConfirmation[] = [];
    for (const key of names.filter((n) => n.endsWith('.json')).sort()) {
      try {
        const json = await readJsonFileIfExists(path.join(this.dir, key), () => new Error('not valid JSON'));
        if (json === undefined) continue; // consumed meanwhile
        out.push({ key, confirmation: parseConfirmation(json) });
      } catch (err) {
        onUnreadable?.(key, err as Error);
      }
    }
    return out;
  }

  async consume(keys: readonly string[]): Promise<void> {
    await Promise.all(keys.map((key) => fs.rm(path.join(this.dir, path.basename(key)), { force: true })));
  }
}

export class MemoryConfirmationStore implements ConfirmationStore {
  private readonly entries = new Map<string, DisconnectConfirmation>();
  private next = 0;

  async add(confirmation: DisconnectConfirmation): Promise<void> {
    this.entries.set(String(this.next++).padStart(8, '0'), { tenantIds: confirmation.tenantIds.map((id) => id.toLowerCase()), at: confirmation.at });
  }

  async pending(): Promise<PendingConfirmation[]> {
    return [...this.entries].map(([key, confirmation]) => ({ key, confirmation }));
  }

  async consume(keys: readonly string[]): Promise<void> {
    for (const key of keys) this.entries.delete(key);
  }
}
