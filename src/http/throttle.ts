/**
 * Failed authentication is throttled per client address: each client has a small token bucket that every 401 drains
 * and time refills. An empty bucket answers 429 with an integer `Retry-After` (RFC 6585 §4, RFC 9110 §10.2.3) to
 * every SCIM request from that address, the right token included: otherwise a guesser could tell a hit (200) from a
 * miss (429) and the throttle would limit nothing. Guessing a 32-byte token is hopeless anyway; this keeps a
 * misconfigured or hostile client from filling logs and burning CPU on digests.
 *
 * It wraps the authentication middleware rather than watching responses, so a failure is counted synchronously,
 * before the next request from a burst is admitted.
 */
import type { Request, RequestHandler } from 'express';
import { ScimError, tooManyRequests } from '../scim/errors';

export interface AuthThrottleOptions {
  /** Failed attempts a client may make in a burst; default 20. */
  readonly burst?: number;
  /** Failed attempts a client regains per second; default 0.5 (30 a minute). */
  readonly refillPerSecond?: number;
  /** Clients remembered at once; the least recently seen are forgotten first (memory stays bounded). Default 10,000. */
  readonly maxClients?: number;
  readonly clock?: { now(): number };
}

interface Bucket {
  tokens: number;
  at: number;
}

export const AUTH_THROTTLE_DEFAULTS = { burst: 20, refillPerSecond: 0.5, maxClients: 10_000 } as const;

/** `auth` runs only for clients with attempts left; each 401 it produces costs one. */
export function throttleFailedAuth(auth: RequestHandler, options: AuthThrottleOptions = {}): RequestHandler {
  const burst = options.burst ?? AUTH_THROTTLE_DEFAULTS.burst;
  const refill = options.refillPerSecond ?? AUTH_THROTTLE_DEFAULTS.refillPerSecond;
  const maxClients = options.maxClients ?? AUTH_THROTTLE_DEFAULTS.maxClients;
  const clock = options.clock ?? Date;
  const buckets = new Map<string, Bucket>();

  const current = (client: string, now: number): Bucket => {
    const bucket = buckets.get(client);
    if (!bucket) return { tokens: burst, at: now };
    buckets.delete(client); // re-inserted by the caller, so Map order is least recently seen first
    return { tokens: Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * refill), at: now };
  };

  const remember = (client: string, bucket: Bucket): void => {
    // A full bucket is the default state: forgetting it costs nothing and keeps the map to active offenders.
    if (bucket.tokens >= burst) return;
    buckets.set(client, bucket);
    while (buckets.size > maxClients) buckets.delete(buckets.keys().next().value as string);
  };

  return (req, res, next) => {
    const client = clientOf(req);
    const now = clock.now();
    const bucket = current(client, now);
    if (bucket.tokens < 1) {
      remember(client, bucket);
      const retryAfter = Math.max(1, Math.ceil((1 - bucket.tokens) / refill));
      next(tooManyRequests(`Too many failed authentication attempts from this address; retry after ${retryAfter} seconds.`, retryAfter));
      return;
    }
    auth(req, res, (err?: unknown) => {
      if (err instanceof ScimError && err.status === 401) bucket.tokens -= 1;
      remember(client, bucket);
      next(err);
    });
  };
}

/** The client's address: the socket peer, or X-Forwarded-For's client when `trust proxy` is set (Express' `req.ip`). */
function clientOf(req: Request): string {
  // Without X-Forwarded-For, `req.ip` is the socket's address whatever `trust proxy` says, and skips proxy-addr.
  const address = req.headers['x-forwarded-for'] === undefined ? req.socket.remoteAddress : req.ip;
  return address ?? 'unknown';
}
