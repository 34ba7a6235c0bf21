import { createServer, type RequestListener, type ServerOptions } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Listens on loopback only, on an ephemeral port; answers the base URL (no trailing slash). A plain
 * `http.createServer(app)`, as Express's documentation shows, unless `options` say otherwise (bench/ablation.ts).
 */
export function listenLoopback(app: RequestListener, options: ServerOptions = {}): Promise<string> {
  const server = createServer(options, app);
  // autocannon keeps 32 connections open; Node's default keep-alive timeout (5 s) would drop idle ones between runs.
  server.keepAliveTimeout = 120_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
  });
}

/** Heap figures after a full collection (the process runs with --expose-gc), MiB. */
export function heapAfterGc(): { heapUsedMiB: number; externalMiB: number; rssMiB: number } {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    gc();
  }
  const m = process.memoryUsage();
  const mib = (n: number) => Math.round((n / 1048576) * 10) / 10;
  // `external` already includes `arrayBuffers` (Buffers).
  return { heapUsedMiB: mib(m.heapUsed), externalMiB: mib(m.external), rssMiB: mib(m.rss) };
}
