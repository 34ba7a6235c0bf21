/**
 * Xero access tokens: where they come from, where the refresh token is kept, and when to ask for new ones.
 *
 * Refresh tokens rotate on every use, and two holders of one token set is the classic cause of `invalid_grant`
 * (docs/xero.md, "Grants and tokens"; xero-node #370, #382, #572). So: one refresh at a time (single-flight), the new
 * refresh token written durably before the new access token is used, a lost answer retried with the same token
 * (Xero keeps it valid for a 30-minute grace period), and `invalid_grant` ends in a terminal state with an
 * actionable message instead of a retry loop. A store several replicas share (`TokenStore.shared`, Redis) adds a lock
 * around each renewal and a compare-and-set for each rotated set, so replicas hold one chain between them.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { z } from 'zod';
import { type Clock, isoTime, systemClock } from './clock';
import { XeroError } from './errors';
import type { IdentityClient, TokenSet } from './identity';
import { readJsonFileIfExists, writeFileDurably } from '../files/durable-file';
import { TOKEN_FILE } from '../files/state-dir';

// ---- storage --------------------------------------------------------------------------------------------------

/** The persisted token set of a web app. */
export interface StoredTokens {
  readonly clientId: string;
  readonly refreshToken: string;
  /** ISO instant the refresh token was received (or first seen, for one from the environment). */
  readonly receivedAt: string;
  readonly accessToken?: string;
  /** ISO instant. */
  readonly accessTokenExpiresAt?: string;
  /**
   * SHA-256 fingerprints of every refresh token of this chain, oldest first: an environment token found here has
   * already been rotated past, so the stored one is newer and wins.
   */
  readonly lineage: readonly string[];
}

export interface TokenStore {
  /** The stored set, or undefined when none was stored yet. */
  load(): Promise<StoredTokens | undefined>;
  /** Replaces the stored set; durable when the promise resolves. */
  save(tokens: StoredTokens): Promise<void>;
  /**
   * Present when several processes share this store (Redis): the provider then renews only under the store's lock
   * and stores a rotated set only by compare-and-set. Absent (the file and memory stores): one process owns it.
   */
  readonly shared?: SharedTokenStore;
}

/** What a store shared by replicas adds: a lock around each renewal, and the client-credentials token. */
export interface SharedTokenStore {
  /**
   * Runs `work` holding the store's lock, waiting (bounded) while another replica holds it, and releases it after.
   * `redeem`: the work may redeem the refresh token, so a replica that does not hold the leader lease is refused
   * (`XERO_NOT_LEADER`). Rejects with `XERO_TOKEN_STORE_UNAVAILABLE` when the store cannot be reached or the lock
   * not had in time; `work` has not run then.
   */
  exclusive<T>(work: (lock: TokenLock) => Promise<T>, options: { readonly redeem: boolean }): Promise<T>;
  /** The client-credentials access token another replica stored for `clientId`, if still stored. */
  loadClientToken(clientId: string): Promise<SharedAccessToken | undefined>;
}

/** Writes allowed only while the lock is held. */
export interface TokenLock {
  /**
   * Stores `next` if the stored refresh token is still `expected` (undefined: nothing usable is stored), the lock
   * is still this one and (with a lease) the lease still this replica's. False when any of that no longer holds;
   * rejects when the store cannot be reached (the write may not have happened).
   */
  compareAndSave(expected: string | undefined, next: StoredTokens): Promise<boolean>;
  /** Shares a client-credentials access token until it expires. */
  saveClientToken(token: SharedAccessToken): Promise<void>;
}

export interface SharedAccessToken {
  readonly clientId: string;
  readonly accessToken: string;
  /** Epoch milliseconds. */
  readonly expiresAt: number;
}

export class TokenStoreError extends Error {
  override readonly name = 'TokenStoreError';
}

export const storedTokensSchema = z.object({
  clientId: z.string(),
  refreshToken: z.string().min(1),
  receivedAt: z.string(),
  accessToken: z.string().optional(),
  accessTokenExpiresAt: z.string().optional(),
  lineage: z.array(z.string()),
});


/** Tokens in `STATE_DIR/xero-tokens.json`, mode 0600, replaced atomically. */
export class FileTokenStore implements TokenStore {
  readonly file: string;

  constructor(stateDir: string, fileName = TOKEN_FILE) {
    this.file = path.join(stateDir, fileName);
  }

  async load(): Promise<StoredTokens | undefined> {
    const json = await readJsonFileIfExists(
      this.file,
      () => new TokenStoreError(`${this.file} is not valid JSON: delete it and re-run \`xero-scim auth\``),
    );
    if (json === undefined) return undefined;
    const parsed = storedTokensSchema.safeParse(json);
    if (!parsed.success) {
      throw new TokenStoreError(`${this.file} is not a token file of this version: delete it and re-run \`xero-scim auth\``);
    }
    return parsed.data;
  }

  async save(tokens: StoredTokens): Promise<void> {
    await writeFileDurably(this.file, `${JSON.stringify(storedTokensSchema.parse(tokens), null, 2)}\n`);
  }
}

/** Tokens held in memory only (tests, and the fixed-token debug mode). */
export class MemoryTokenStore implements TokenStore {
  private value: string | undefined;

  constructor(initial?: StoredTokens) {
    if (initial) this.value = JSON.stringify(storedTokensSchema.parse(initial));
  }

  async load(): Promise<StoredTokens | undefined> {
    return this.value === undefined ? undefined : storedTokensSchema.parse(JSON.parse(this.value));
  }

  async save(tokens: StoredTokens): Promise<void> {
    this.value = JSON.stringify(storedTokensSchema.parse(tokens));
  }
}

export function fingerprint(refreshToken: string): string {
  return createHash('sha256').update(refreshToken).digest('base64url');
}

/** Kept lineage length: enough to recognise an old environment token, small enough to stay a tiny file. */
const LINEAGE_LIMIT = 50;

/**
 * The newest fingerprints, and always the chain's first: that is the consent's token, the one an operator leaves in
 * XERO_REFRESH_TOKEN. Dropping it (after 50 rotations, about a day of 30-minute tokens) made the next restart take
 * it for a new consent, use it, and meet invalid_grant.
 */
function trimLineage(lineage: readonly string[]): string[] {
  return lineage.length <= LINEAGE_LIMIT ? [...lineage] : [lineage[0]!, ...lineage.slice(-(LINEAGE_LIMIT - 1))];
}

// ---- provider -------------------------------------------------------------------------------------------------

export type TokenGrant =
  /** A custom connection: `client_credentials`, re-fetched before expiry. */
  | { readonly kind: 'client_credentials'; readonly scope?: string }
  /** A web app: rotating refresh tokens; `initialRefreshToken` from the environment, a newer stored one wins. */
  | { readonly kind: 'refresh_token'; readonly initialRefreshToken?: string }
  /** A fixed access token for debugging: never refreshed. */
  | { readonly kind: 'fixed'; readonly accessToken: string };

export interface TokenProviderOptions {
  readonly clientId: string;
  readonly grant: TokenGrant;
  /** Renew this long before expiry. */
  readonly expirySkewSeconds?: number;
  /** Tries per renewal on retryable failures (network, timeout, 5xx, 429). */
  readonly maxAttempts?: number;
}

export interface TokenProviderDeps {
  readonly identity: IdentityClient;
  readonly store: TokenStore;
  readonly clock?: Clock;
  readonly random?: () => number;
  /** Told of a problem the provider worked around (a token file it could not use); the directory logs it. */
  readonly onWarning?: (message: string) => void;
}

export interface TokenStatus {
  readonly ready: boolean;
  /** Set once renewal can no longer succeed without an operator (invalid_grant, invalid_client, no token). */
  readonly terminal?: XeroError;
  /** Calls made to the token endpoint. */
  readonly tokenCalls: number;
}

const REAUTH = 'run `xero-scim auth` to consent again, then restart (or set XERO_REFRESH_TOKEN to the new refresh token)';

export class TokenProvider {
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly skewMs: number;
  private readonly maxAttempts: number;
  private access: { token: string; expiresAt: number } | undefined;
  private chain: StoredTokens | undefined;
  private loaded = false;
  private inFlight: Promise<string> | undefined;
  /** A rotated token set not yet stored (STATE_DIR refused the write); never used before it is stored. */
  private unsaved: StoredTokens | undefined;
  private terminal: XeroError | undefined;
  private tokenCalls = 0;
  /** The access token Xero last refused: a shared store may still hold it, and it is not to be handed out again. */
  private refused: string | undefined;

  constructor(
    private readonly options: TokenProviderOptions,
    private readonly deps: TokenProviderDeps,
  ) {
    this.clock = deps.clock ?? systemClock;
    this.random = deps.random ?? Math.random;
    this.skewMs = (options.expirySkewSeconds ?? 60) * 1000;
    this.maxAttempts = options.maxAttempts ?? 3;
  }

  status(): TokenStatus {
    return {
      ready: this.terminal === undefined,
      ...(this.terminal ? { terminal: this.terminal } : {}),
      tokenCalls: this.tokenCalls,
    };
  }

  /** A usable access token; concurrent callers share one renewal. */
  async getAccessToken(): Promise<string> {
    if (this.terminal) throw this.terminal;
    const grant = this.options.grant;
    if (grant.kind === 'fixed') return grant.accessToken;
    if (this.access && this.access.expiresAt - this.skewMs > this.clock.now()) return this.access.token;
    this.inFlight ??= this.renew().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  /** Xero answered 401 to this token: drop it so the next call renews (a fixed token cannot be renewed). */
  invalidate(accessToken: string): void {
    if (this.options.grant.kind === 'fixed') {
      this.terminal ??= new XeroError(
        'XERO_UNAUTHORIZED',
        'Xero refused XERO_ACCESS_TOKEN (it lasts 30 minutes and is never refreshed): unset it to use the refresh token or client credentials',
      );
      return;
    }
    this.refused = accessToken;
    if (this.access?.token === accessToken) this.access = undefined;
    // The stored copy too: otherwise the next renewal hands back the very token Xero just refused.
    if (this.chain?.accessToken === accessToken) {
      const { accessToken: _refused, accessTokenExpiresAt: _expiry, ...rest } = this.chain;
      this.chain = rest;
    }
  }

  private async renew(): Promise<string> {
    try {
      const shared = this.deps.store.shared;
      if (this.options.grant.kind === 'client_credentials') return shared ? await this.sharedClientCredentials(shared) : await this.clientCredentials();
      return shared ? await this.rotateShared(shared) : await this.rotate();
    } catch (err) {
      if (err instanceof XeroError) {
        if (err.code === 'XERO_INVALID_GRANT') {
          this.terminal = new XeroError('XERO_INVALID_GRANT', `Xero refused the refresh token (invalid_grant): ${REAUTH}`, {
            cause: err,
            ...(err.status === undefined ? {} : { status: err.status }),
          });
          throw this.terminal;
        }
        if (err.code === 'XERO_INVALID_CLIENT') {
          this.terminal = new XeroError('XERO_INVALID_CLIENT', `${err.message}: check XERO_CLIENT_ID and XERO_CLIENT_SECRET (a secret regenerated in Xero's developer portal replaces the old one), then restart`, {
            cause: err,
            ...(err.status === undefined ? {} : { status: err.status }),
          });
          throw this.terminal;
        }
        if (err.code === 'XERO_NOT_CONFIGURED') this.terminal = err;
      }
      throw err;
    }
  }

  private async clientCredentials(): Promise<string> {
    const grant = this.options.grant;
    const scope = grant.kind === 'client_credentials' ? grant.scope : undefined;
    const set = await this.withRetries(() => this.deps.identity.token({ type: 'client_credentials', ...(scope ? { scope } : {}) }));
    this.access = { token: set.accessToken, expiresAt: set.expiresAt };
    return set.accessToken;
  }

  private async rotate(): Promise<string> {
    if (this.unsaved) {
      // A rotated set we could not store yet: store it before anything else, and rotate no further until then.
      await this.persist(this.unsaved);
      this.chain = this.unsaved;
      this.unsaved = undefined;
    }
    const chain = await this.loadChain();
    if (chain.accessToken && chain.accessTokenExpiresAt && !this.access) {
      const expiresAt = Date.parse(chain.accessTokenExpiresAt);
      if (expiresAt - this.skewMs > this.clock.now()) {
        this.access = { token: chain.accessToken, expiresAt };
        return chain.accessToken;
      }
    }
    // A failure without an answer may have rotated the token at Xero anyway: the same token stays valid for the
    // grace period, so retrying with it is safe (docs/xero.md, "Grants and tokens").
    const set = await this.withRetries(() => this.deps.identity.token({ type: 'refresh_token', refreshToken: chain.refreshToken }));
    const next = this.nextChain(chain, set);
    // Persist before use: if we crash after this line, the stored token is the newest; if before, the old one is
    // still inside its grace period.
    try {
      await this.persist(next);
    } catch (err) {
      this.unsaved = next; // the only copy of the newest token: the next renewal stores it first
      throw err;
    }
    this.chain = next;
    this.access = { token: set.accessToken, expiresAt: set.expiresAt };
    return set.accessToken;
  }

  // ---- a store shared by replicas (RELIABILITY.md, "8. One token chain across replicas") ---------------------------

  /**
   * A follower's copy of the shared chain, brought up to the stored one when that descends from it. A follower
   * never renews, so without this its copy dates from when it last led (or is none): leading after Redis lost its
   * data, it would reseed an older chain than the leader's, or XERO_REFRESH_TOKEN, and meet invalid_grant. Kept
   * current, it reseeds the newest chain it saw, at worst one rotation old (which Xero's grace period accepts).
   * A stored chain that does not descend from this copy is left for `reconcile` to judge under the lock.
   */
  async followShared(): Promise<void> {
    if (!this.deps.store.shared || this.options.grant.kind !== 'refresh_token' || this.inFlight) return;
    const stored = await this.deps.store.load().catch(() => undefined);
    if (!stored || stored.clientId !== this.options.clientId) return;
    const local = this.unsaved ?? this.chain;
    if (local && local.refreshToken !== stored.refreshToken && !stored.lineage.includes(fingerprint(local.refreshToken))) return;
    if (this.inFlight || this.unsaved) return; // a renewal began meanwhile: its result is newer
    this.chain = stored;
  }

  /**
   * One renewal across replicas: under the store's lock, read the stored chain (another replica may have renewed),
   * use its access token if still good, else redeem its refresh token once and store the result by compare-and-set.
   */
  private async rotateShared(shared: SharedTokenStore): Promise<string> {
    try {
      return await shared.exclusive((lock) => this.renewUnderLock(lock), { redeem: true });
    } catch (err) {
      // Not the leader: the leader's stored access token may still be used; redeeming is the leader's alone.
      if (err instanceof XeroError && err.code === 'XERO_NOT_LEADER') {
        const stored = await this.deps.store.load().catch(() => undefined);
        const access = stored && stored.clientId === this.options.clientId ? this.usableAccess(stored) : undefined;
        if (access) return this.use(stored!, access);
      }
      throw err;
    }
  }

  private async renewUnderLock(lock: TokenLock): Promise<string> {
    const chain = await this.reconcile(lock, await this.loadShared());
    const stored = this.usableAccess(chain);
    if (stored) return this.use(chain, stored);
    const set = await this.withRetries(() => this.deps.identity.token({ type: 'refresh_token', refreshToken: chain.refreshToken }));
    const next = this.nextChain(chain, set);
    let saved: boolean;
    try {
      saved = await lock.compareAndSave(chain.refreshToken, next);
    } catch (err) {
      this.unsaved = next; // stored first by the next renewal (the stored chain is then older than this one)
      throw this.storeError('cannot store the rotated refresh token in Redis', err, 'XERO_STATE_NOT_WRITABLE');
    }
    if (saved) {
      this.chain = next;
      this.access = { token: set.accessToken, expiresAt: set.expiresAt };
      return set.accessToken;
    }
    // Another replica stored first (this lock had expired, or the lease moved): its chain is the chain. Never
    // redeem again in this renewal; the token just received stays unused.
    const winner = await this.loadShared();
    if (winner && winner.clientId === this.options.clientId) {
      this.chain = winner;
      const access = this.usableAccess(winner);
      if (access) return this.use(winner, access);
    }
    throw new XeroError('XERO_TOKEN_STORE_UNAVAILABLE', 'the Xero token chain in Redis changed hands during this renewal (its lock expired, or `xero-scim auth` stored a new consent); the next renewal uses what is stored');
  }

  /**
   * The chain to renew from, reconciling Redis with what this replica last knew: an empty store is reseeded with
   * this replica's newest copy (else XERO_REFRESH_TOKEN); a stored chain older than this replica's (Redis lost
   * its last write) is replaced by the newer copy; a newer stored chain is adopted.
   */
  private async reconcile(lock: TokenLock, stored: StoredTokens | undefined): Promise<StoredTokens> {
    const local = this.unsaved ?? this.chain;
    const grant = this.options.grant;
    const initial = grant.kind === 'refresh_token' ? grant.initialRefreshToken : undefined;
    const ours = stored && stored.clientId === this.options.clientId ? stored : undefined;
    let chosen: StoredTokens;
    let replace = false;
    if (!ours) {
      const seed = local ?? (initial === undefined ? undefined : this.seedChain(initial));
      if (!seed) throw new XeroError('XERO_NOT_CONFIGURED', `no refresh token in XERO_REFRESH_TOKEN or Redis: ${REAUTH}`);
      if (stored === undefined && local) this.deps.onWarning?.("Redis held no Xero token chain (flushed, or restarted without its data): stored this replica's newest copy again");
      [chosen, replace] = [seed, true];
    } else if (local) {
      const storedIsOlder = ours.refreshToken !== local.refreshToken && local.lineage.includes(fingerprint(ours.refreshToken)) && !ours.lineage.includes(fingerprint(local.refreshToken));
      if (storedIsOlder) this.deps.onWarning?.("Redis held an older Xero token chain than this replica's (it lost a write): stored the newer copy again");
      [chosen, replace] = storedIsOlder ? [local, true] : [ours, false];
    } else if (initial !== undefined && !ours.lineage.includes(fingerprint(initial))) {
      [chosen, replace] = [this.seedChain(initial), true]; // a new consent in the environment
    } else {
      chosen = ours;
    }
    if (replace) {
      let saved: boolean;
      try {
        saved = await lock.compareAndSave(stored?.refreshToken, chosen);
      } catch (err) {
        throw this.storeError('cannot store the Xero token chain in Redis', err);
      }
      if (!saved) throw new XeroError('XERO_TOKEN_STORE_UNAVAILABLE', 'lost the Redis token lock before the token chain was stored; the next renewal tries again');
    }
    this.unsaved = undefined;
    this.chain = chosen;
    this.loaded = true;
    return chosen;
  }

  /** A client-credentials token shared through the store: one replica fetches, the others use it until expiry. */
  private async sharedClientCredentials(shared: SharedTokenStore): Promise<string> {
    const clientId = this.options.clientId;
    try {
      return await shared.exclusive(async (lock) => {
        const stored = await shared.loadClientToken(clientId);
        if (stored && stored.accessToken !== this.refused && stored.expiresAt - this.skewMs > this.clock.now()) {
          this.access = { token: stored.accessToken, expiresAt: stored.expiresAt };
          return stored.accessToken;
        }
        const token = await this.clientCredentials();
        await lock.saveClientToken({ clientId, accessToken: token, expiresAt: this.access!.expiresAt }).catch((err: unknown) => {
          this.deps.onWarning?.(`could not share the Xero access token through Redis (${(err as Error).message})`);
        });
        return token;
      }, { redeem: false });
    } catch (err) {
      // Nothing rotates with client credentials: without Redis each replica fetches its own token.
      if (!(err instanceof XeroError) || err.code !== 'XERO_TOKEN_STORE_UNAVAILABLE') throw err;
      this.deps.onWarning?.(`${err.message}; fetching this replica's own Xero access token`);
      return this.clientCredentials();
    }
  }

  private async loadShared(): Promise<StoredTokens | undefined> {
    try {
      return await this.deps.store.load();
    } catch (err) {
      if (err instanceof XeroError) throw err;
      // Unreadable JSON in Redis: reseeded from this replica's copy or XERO_REFRESH_TOKEN, if there is one.
      this.deps.onWarning?.(`${(err as Error).message}; storing this replica's token chain instead`);
      return undefined;
    }
  }

  /** The chain's access token, if still good and not the one Xero refused. */
  private usableAccess(chain: StoredTokens): { token: string; expiresAt: number } | undefined {
    if (!chain.accessToken || !chain.accessTokenExpiresAt || chain.accessToken === this.refused) return undefined;
    const expiresAt = Date.parse(chain.accessTokenExpiresAt);
    return expiresAt - this.skewMs > this.clock.now() ? { token: chain.accessToken, expiresAt } : undefined;
  }

  private use(chain: StoredTokens, access: { token: string; expiresAt: number }): string {
    this.chain = chain;
    this.access = access;
    return access.token;
  }

  private seedChain(refreshToken: string): StoredTokens {
    return { clientId: this.options.clientId, refreshToken, receivedAt: isoTime(this.clock.now()), lineage: [fingerprint(refreshToken)] };
  }

  private storeError(what: string, err: unknown, code: 'XERO_STATE_NOT_WRITABLE' | 'XERO_TOKEN_STORE_UNAVAILABLE' = 'XERO_TOKEN_STORE_UNAVAILABLE'): XeroError {
    if (err instanceof XeroError && code === 'XERO_TOKEN_STORE_UNAVAILABLE') return err;
    return new XeroError(code, `${what} (${err instanceof XeroError ? err.message : (err as Error).message})`, { cause: err });
  }

  private async persist(tokens: StoredTokens): Promise<void> {
    try {
      await this.deps.store.save(tokens);
    } catch (err) {
      throw new XeroError('XERO_STATE_NOT_WRITABLE', `cannot store the rotated refresh token in STATE_DIR (${(err as Error).message})`, {
        cause: err,
      });
    }
  }

  private nextChain(chain: StoredTokens, set: TokenSet): StoredTokens {
    const refreshToken = set.refreshToken ?? chain.refreshToken;
    const lineage = chain.lineage.includes(fingerprint(refreshToken)) ? chain.lineage : [...chain.lineage, fingerprint(refreshToken)];
    return {
      clientId: this.options.clientId,
      refreshToken,
      receivedAt: isoTime(this.clock.now()),
      accessToken: set.accessToken,
      accessTokenExpiresAt: isoTime(set.expiresAt),
      lineage: trimLineage(lineage),
    };
  }

  /** The stored chain wins unless the environment brings a refresh token it has never seen (a new consent). */
  private async loadChain(): Promise<StoredTokens> {
    if (this.loaded && this.chain) return this.chain;
    const grant = this.options.grant;
    const initial = grant.kind === 'refresh_token' ? grant.initialRefreshToken : undefined;
    let stored: StoredTokens | undefined;
    try {
      stored = await this.deps.store.load();
    } catch (err) {
      // A corrupt token file needs an operator unless XERO_REFRESH_TOKEN gives a token to try: then try it (its next
      // rotation replaces the file), and only if Xero refuses it is `auth` needed.
      if (initial === undefined) throw new XeroError('XERO_NOT_CONFIGURED', (err as Error).message, { cause: err });
      this.deps.onWarning?.(`${(err as Error).message.replace(/: delete it and re-run .*$/, '')}; trying XERO_REFRESH_TOKEN instead`);
    }
    const usable = stored && stored.clientId === this.options.clientId ? stored : undefined;
    if (usable && (initial === undefined || usable.lineage.includes(fingerprint(initial)))) {
      this.chain = usable;
    } else if (initial !== undefined) {
      this.chain = {
        clientId: this.options.clientId,
        refreshToken: initial,
        receivedAt: isoTime(this.clock.now()),
        lineage: [fingerprint(initial)],
      };
    } else {
      throw new XeroError('XERO_NOT_CONFIGURED', `no refresh token in XERO_REFRESH_TOKEN or STATE_DIR: ${REAUTH}`);
    }
    this.loaded = true;
    return this.chain;
  }

  private async withRetries(call: () => Promise<TokenSet>): Promise<TokenSet> {
    for (let attempt = 1; ; attempt++) {
      this.tokenCalls++;
      try {
        return await call();
      } catch (err) {
        if (!(err instanceof XeroError) || !err.retryable || attempt >= this.maxAttempts) throw err;
        const backoff = err.retryAfterSeconds !== undefined ? err.retryAfterSeconds * 1000 : 500 * 2 ** (attempt - 1);
        await this.clock.sleep(backoff * (0.5 + this.random()));
      }
    }
  }
}
