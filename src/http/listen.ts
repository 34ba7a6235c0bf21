/**
 * The HTTP listener: timeouts chosen for life behind an ingress, fair admission of requests (src/http/fair-admission.ts),
 * Node's own error answers in SCIM form, and a graceful shutdown that Kubernetes' grace period can rely on.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { fairAdmission, type FairAdmissionOptions } from './fair-admission';
import { ScimError } from '../scim/errors';
import { expressServerClasses } from './express-server';
import { securityHeaderLines } from './security-headers';

export interface ListeningServer {
  readonly server: http.Server;
  /** e.g. http://127.0.0.1:8080 */
  readonly url: string;
  /** Stops accepting, lets in-flight requests finish (up to `graceMs`), then closes what is left. */
  close(graceMs?: number): Promise<void>;
}

/** Ingress-friendly timeouts: keep-alive longer than a load balancer's idle timeout (commonly 60 s). */
export const TIMEOUTS = { keepAliveMs: 65_000, headersMs: 66_000, requestMs: 30_000, maxHeaderBytes: 16 * 1024 } as const;

/** The listener's limits; tests shorten them to watch a slow client being cut off without waiting a minute. */
export interface ListenLimits {
  readonly keepAliveMs: number;
  readonly headersMs: number;
  readonly requestMs: number;
  readonly maxHeaderBytes: number;
  /** How often Node checks headersMs/requestMs (its default, 30 s, is fine against 66 s). */
  readonly checkIntervalMs?: number;
}

/** Headers of answers Node sends itself, before Express runs: the same security headers as every other answer. */
const BARE_ERROR_HEADERS = [
  'Content-Type: application/scim+json; charset=utf-8',
  securityHeaderLines(),
  'Cache-Control: no-store',
  'Connection: close',
].join('\r\n');

/**
 * A request Node cannot parse (bad syntax, headers over the limit, too slow) never reaches the app; Node's default
 * answer has no body and no security headers. This one is an RFC 7644 §3.12 error with the same headers as the rest.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const detail =
    status === 431 ? 'The request headers are too large.' : status === 408 ? 'The request took too long to arrive.' : 'The request is not valid HTTP.';
  const body = JSON.stringify(new ScimError(status, detail).toJSON());
  socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\n${BARE_ERROR_HEADERS}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

/** Listens with `app`: an Express app, or any request listener (tests run the listener with a bare handler). */
export async function listen(
  app: http.RequestListener,
  port: number,
  host: string,
  limits: ListenLimits = TIMEOUTS,
  admission: FairAdmissionOptions = {},
): Promise<ListeningServer> {
  let draining = false;
  const server = http.createServer({
    // Requests and responses born with the app's prototypes: Express would otherwise swap them on every request,
    // which V8 punishes with slow objects and old-generation garbage (src/http/express-server.ts).
    ...expressServerClasses(app),
    maxHeaderSize: limits.maxHeaderBytes,
    ...(limits.checkIntervalMs === undefined ? {} : { connectionsCheckingInterval: limits.checkIntervalMs }),
  });
  // Requests take turns with accepting connections (src/http/fair-admission.ts): without it, a burst of new
  // connections against a busy server waits seconds to be accepted, one per event-loop turn.
  const { admit, connectionAccepted } = fairAdmission((req: http.IncomingMessage, res: http.ServerResponse) => {
    // While draining, every answer closes its connection, so keep-alive clients reconnect to another replica. Checked
    // when the request runs, so a request that waited in the queue while close() began is answered the same way.
    if (draining) res.shouldKeepAlive = false;
    app(req, res);
  }, admission);
  server.on('request', admit);
  server.on('connection', connectionAccepted);
  server.on('clientError', answerClientError);
  server.keepAliveTimeout = limits.keepAliveMs;
  server.headersTimeout = limits.headersMs;
  server.requestTimeout = limits.requestMs;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    server,
    url: `http://${shownHost === '0.0.0.0' || shownHost === '[::]' ? '127.0.0.1' : shownHost}:${address.port}`,
    close: (graceMs = 20_000) =>
      new Promise<void>((resolve) => {
        draining = true;
        // In-flight requests finish (and close their connections); idle keep-alive sockets close now; what is still
        // open at the grace deadline is cut.
        const force = setTimeout(() => server.closeAllConnections(), graceMs);
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
