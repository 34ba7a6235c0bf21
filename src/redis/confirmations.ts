/**
 * Operator confirmations of held removals (`xero-scim confirm-disconnect`) in the shared Redis, for replicas: the
 * command may run against any replica's settings while the leader's sync applies them, so they live where every
 * replica reads, not in one replica's STATE_DIR. One hash, `KEYS.confirmations`: a field per confirmation (its time
 * first, so fields sort in the order they were written), the same JSON form as the files.
 */
import { randomBytes } from 'node:crypto';
import { type ConfirmationStore, type DisconnectConfirmation, type PendingConfirmation, confirmationJson, parseConfirmation } from '../directory/confirmations';
import type { RedisConnection } from './connection';
import { KEYS } from './keys';

export class RedisConfirmationStore implements ConfirmationStore {
  constructor(private readonly connection: RedisConnection) {}

  private get hash(): string {
    return this.connection.key(KEYS.confirmations);
  }

  async add(confirmation: DisconnectConfirmation): Promise<void> {
    const field = `${confirmation.at.replace(/[^0-9]/g, '')}-${randomBytes(6).toString('hex')}`;
    await this.connection.client.hset(this.hash, field, confirmationJson(confirmation));
  }

  async pending(onUnreadable?: (key: string, error: Error) => void): Promise<PendingConfirmation[]> {
    const all = await this.connection.client.hgetall(this.hash);
    const out: PendingConfirmation[] = [];
    for (const key of Object.keys(all).sort()) {
      try {
        out.push({ key, confirmation: parseConfirmation(JSON.parse(all[key]!)) });
      } catch (err) {
        onUnreadable?.(key, err as Error);
      }
    }
    return out;
  }

  /** Deletes exactly these confirmations: one added while the sync ran stays for the next. */
  async consume(keys: readonly string[]): Promise<void> {
    if (keys.length > 0) await this.connection.client.hdel(this.hash, ...keys);
  }
}
