import type { SandboxData } from './data';
import type { GenerateOptions } from './generate';

/** The sandbox's own clock (it imports nothing of the server). Epoch milliseconds. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export interface RateLimitOptions {
  /** Answer 429 when a limit is exceeded. Default true; false still sends the Remaining headers. */
  enforce?: boolean;
  /** Per tenant in flight at once. Default 5. */
  concurrent?: number;
  /** Per tenant per rolling minute. Default 60. */
  perMinute?: number;
  /** Per tenant per rolling 24 hours. Default 5,000. */
  perDay?: number;
  /** Per app (client) per rolling minute, across tenants. Default 10,000. */
  appPerMinute?: number;
}

export interface LatencyOptions {
  /** Added to every API call. Default 0. */
  fixedMs?: number;
  /** Plus a uniformly random 0..jitterMs. Default 0. */
  jitterMs?: number;
}

export interface FaultRates {
  /** Share of API calls answered 503. */
  serverErrorRate?: number;
  /** Share of tenant API calls answered 429 (minute problem). */
  rateLimitRate?: number;
  /** Share of API calls never answered (the client's timeout fires). */
  timeoutRate?: number;
  /** Share of API calls whose connection is destroyed without an answer. */
  dropRate?: number;
  /** Seed of the dice, so a run is reproducible. Default 1. */
  seed?: number;
}

export interface SandboxClient {
  clientId: string;
  clientSecret: string;
  kind: 'web' | 'custom';
  /** web: default ['https://localhost:8080']; any http://localhost:* or http://127.0.0.1:* URI is also accepted. */
  redirectUris?: string[];
  /** custom: exactly one organisation (default: the first). */
  tenantIds?: string[];
  /** Shown as the envelope's `ProviderName`. */
  appName?: string;
}

export interface SandboxOptions {
  /** Default 'demo', the hand-written data set. Given data is copied, never mutated. */
  data?: 'demo' | GenerateOptions | SandboxData;
  clock?: Clock;
  /** Default 1800. */
  accessTokenTtlSeconds?: number;
  /** How long a rotated refresh token still works. Default 1800. */
  refreshGraceSeconds?: number;
  /** An unused refresh token expires after this. Default 60 days. */
  refreshTokenTtlSeconds?: number;
  limits?: RateLimitOptions;
  latency?: LatencyOptions;
  faults?: FaultRates;
  /** The consent page approves every organisation at once, without showing a form. */
  autoApprove?: boolean;
  /** Default: one web client and one custom-connection client (see `DEFAULT_CLIENTS`). */
  clients?: SandboxClient[];
}

/** The clients a sandbox accepts unless told otherwise. Printed by `xero-scim sandbox`; not secrets of anything real. */
export const DEFAULT_CLIENTS: { web: SandboxClient; custom: SandboxClient } = {
  web: {
    clientId: 'SANDBOXWEBCLIENT00000000000000001',
    clientSecret: 'sandbox-web-secret-not-for-production',
    kind: 'web',
    redirectUris: ['https://localhost:8080'],
    appName: 'xero-scim sandbox (web app)',
  },
  custom: {
    clientId: 'SANDBOXCUSTOMCONNECTION000000002',
    clientSecret: 'sandbox-custom-secret-not-for-production',
    kind: 'custom',
    appName: 'xero-scim sandbox (custom connection)',
  },
};
