/**
 * The directory's credentials: which token grant the configuration asks for, the token provider it builds once, the
 * access token the sync in progress uses, and what Xero last said of them. `withRenewal` is the one place a call
 * that Xero answers 401 renews the token and is tried once more; `/connections` and every organisation's calls go
 * through it.
 */
import type { Logger } from '../log';
import { type Clock, isoTime } from '../xero/clock';
import { XeroError, toXeroError } from '../xero/errors';
import type { IdentityClient } from '../xero/identity';
import { type StoredTokens, type TokenGrant, TokenProvider, type TokenStore } from '../xero/tokens';
import type { CredentialHealth, ProblemReport } from './model';

export interface CredentialOptions {
  /** XERO_CLIENT_ID */
  readonly clientId: string | undefined;
  /** XERO_CLIENT_SECRET */
  readonly clientSecret: string | undefined;
  /** XERO_REFRESH_TOKEN: a web app's consent. */
  readonly refreshToken: string | undefined;
  /** XERO_ACCESS_TOKEN: a fixed token, for debugging. */
  readonly accessToken: string | undefined;
  /** XERO_SCOPES: what a custom connection asks for. */
  readonly scopes: string | undefined;
}

/** A custom connection asks only for what reading users and organisations needs (docs/xero.md, "Scopes"). */
const CUSTOM_CONNECTION_SCOPES = 'accounting.settings.read';

/** offline_access only means something to a web app: a custom connection gets no refresh token. */
export function customConnectionScopes(configured: string | undefined): string {
  const scopes = (configured ?? CUSTOM_CONNECTION_SCOPES).split(/\s+/).filter((s) => s !== '' && s !== 'offline_access');
  return scopes.length > 0 ? scopes.join(' ') : CUSTOM_CONNECTION_SCOPES;
}

/**
 * A fixed token if one is configured; a web app if a refresh token is configured or stored for this client ID;
 * else the custom connection's client credentials. `stored` is read only when neither token is configured.
 */
export function chooseGrant(options: CredentialOptions, stored: StoredTokens | undefined): TokenGrant {
  if (options.accessToken) return { kind: 'fixed', accessToken: options.accessToken };
  if (options.refreshToken) return { kind: 'refresh_token', initialRefreshToken: options.refreshToken };
  // Tokens stored for another client ID (an app swap) are not ours to use.
  return stored && stored.clientId === options.clientId
    ? { kind: 'refresh_token' }
    : { kind: 'client_credentials', scope: customConnectionScopes(options.scopes) };
}

/** Token errors that end renewal, as credential states. */
const CREDENTIAL_STATE_OF: Partial<Record<XeroError['code'], CredentialHealth['state']>> = {
  XERO_INVALID_GRANT: 'invalid_grant',
  XERO_INVALID_CLIENT: 'invalid_client',
  XERO_UNAUTHORIZED: 'unauthorized',
  XERO_NOT_CONFIGURED: 'not_configured',
};

/** What Xero said of the credentials: a terminal error (an operator must act), accepted, or not known yet. */
export function credentialHealth(terminal: XeroError | undefined, validAt: string | undefined, errorAt: string): CredentialHealth {
  const valid = validAt ? { validAt } : {};
  if (terminal) {
    const state = CREDENTIAL_STATE_OF[terminal.code] ?? 'not_configured';
    return { state, ...valid, error: { code: terminal.code, message: terminal.message, at: errorAt } };
  }
  return { state: validAt ? 'valid' : 'unknown', ...valid };
}

export interface CredentialDeps {
  readonly identity: IdentityClient;
  readonly store: TokenStore;
  readonly clock: Clock;
  readonly random: () => number;
  readonly logger: Logger;
}

/** How a sync's calls get their access token (the tenant sync's view of `Credentials`). */
export interface Renewing {
  /**
   * Runs `call` with the access token, read afresh at each attempt (another organisation may have renewed it in
   * the meantime); when Xero answers 401, renews the token once and runs it again. Failures come out as `XeroError`.
   */
  withRenewal<T>(operation: string, call: (accessToken: () => string) => Promise<T>): Promise<T>;
}

export class Credentials implements Renewing {
  private provider: TokenProvider | undefined;
  /** Why no provider can be built (no credentials, an unusable token file); final for this process. */
  private configError: XeroError | undefined;
  /** The access token the sync in progress uses; `withRenewal` replaces it. */
  private accessToken = '';
  /** When Xero last accepted the credentials (a /connections answer). */
  private validAt: string | undefined;
  /** A rotated refresh token the store (STATE_DIR or Redis) refused, cleared once a token is had again (the provider stored it first). */
  private tokenWriteError: ProblemReport | undefined;

  constructor(
    private readonly options: CredentialOptions,
    private readonly deps: CredentialDeps,
  ) {}

  /** Gets the access token a sync starts with; throws `XeroError` when there is none to be had. */
  async begin(): Promise<void> {
    this.accessToken = await (await this.tokenProvider()).getAccessToken();
    this.tokenWriteError = undefined;
  }

  async withRenewal<T>(operation: string, call: (accessToken: () => string) => Promise<T>): Promise<T> {
    for (let renewed = false; ; renewed = true) {
      try {
        return await call(() => this.accessToken);
      } catch (err) {
        const error = toXeroError(err, operation, this.deps.clock.now());
        // An access token can expire mid-sync: renew once, then give up on this call.
        if (error.code !== 'XERO_UNAUTHORIZED' || renewed) throw error;
        const provider = await this.tokenProvider();
        provider.invalidate(this.accessToken);
        this.accessToken = await provider.getAccessToken();
      }
    }
  }

  /** As a follower: keeps this replica's copy of the shared token chain current (nothing without a shared store). */
  async followShared(): Promise<void> {
    if (!this.deps.store.shared) return;
    const provider = await this.tokenProvider().catch(() => undefined);
    await provider?.followShared();
  }

  /** Xero accepted the credentials (it answered `/connections`). */
  accepted(): void {
    this.validAt = isoTime(this.deps.clock.now());
  }

  /** A sync failed as a whole with `error`: STATE_DIR refusing a rotated token is a persistence problem too. */
  failed(error: XeroError, at: string): void {
    if (error.code === 'XERO_STATE_NOT_WRITABLE') this.tokenWriteError = { code: error.code, message: error.message, at };
  }

  /** An error only an operator can end (refused credentials, none configured), if any. */
  terminal(): XeroError | undefined {
    return this.provider?.status().terminal ?? this.configError;
  }

  /** Calls made to the token endpoint so far. */
  tokenCalls(): number {
    return this.provider?.status().tokenCalls ?? 0;
  }

  writeError(): ProblemReport | undefined {
    return this.tokenWriteError;
  }

  /** `errorAt`: when the terminal error was last met (the last failed sync), else now. */
  health(errorAt: string | undefined): CredentialHealth {
    return credentialHealth(this.terminal(), this.validAt, errorAt ?? isoTime(this.deps.clock.now()));
  }

  private async tokenProvider(): Promise<TokenProvider> {
    if (this.provider) return this.provider;
    if (this.configError) throw this.configError;
    const { options } = this;
    if (!options.accessToken && (!options.clientId || !options.clientSecret)) {
      this.configError = new XeroError('XERO_NOT_CONFIGURED', 'XERO_CLIENT_ID and XERO_CLIENT_SECRET are required (or XERO_ACCESS_TOKEN for debugging)');
      throw this.configError;
    }
    const stored =
      options.accessToken || options.refreshToken
        ? undefined
        : await this.deps.store.load().catch((err: unknown) => {
            // A shared store out of reach (Redis down) is retried at the next sync; an unusable stored chain is final.
            if (err instanceof XeroError && err.retryable) throw err;
            this.configError = new XeroError('XERO_NOT_CONFIGURED', (err as Error).message, { cause: err });
            throw this.configError;
          });
    const { identity, store, clock, random, logger } = this.deps;
    this.provider = new TokenProvider(
      { clientId: options.clientId ?? '', grant: chooseGrant(options, stored) },
      { identity, store, clock, random, onWarning: (message) => logger.warn(message) },
    );
    return this.provider;
  }
}
