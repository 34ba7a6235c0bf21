/**
 * xero-scim in a process of its own, loaded the product's way: `createXeroDirectory` syncs from the sandbox
 * (web-app refresh token, /connections, Organisation + Users per organisation) and `createApp` serves the
 * snapshot. Heap is measured after a full GC before the directory exists, after the sync, and after the User and
 * Group views are rendered and every resource serialised, so the snapshot's memory per membership comes from the
 * real thing.
 *
 * It also writes the corpus (its rendered users and groups) for the floor and the SCIMMY reference.
 */
import { itemsOf } from '../../src/scim/resource-set';
import { mkdirSync } from 'node:fs';
import { sandboxDirectory } from '../sandbox-directory';
import express, { type Express } from 'express';
import { silentLogger } from '../../src/log';
import { missingV8Flags } from '../../src/runtime';
import type { Directory } from '../../src/directory/model';
import { createApp, finish, mountScim, rootUrlResolver } from '../../src/http/app';
import { scimAuth } from '../../src/http/auth';
import { requestLog } from '../../src/http/request-log';
import { createScimRouter } from '../../src/http/scim-router';
import { ViewCache } from '../../src/scim/views';
import { writeCorpus } from '../corpus';
import { childInput, failStartup, serveParent } from '../ipc';
import { listen, TIMEOUTS } from '../../src/http/listen';
import { heapAfterGc, listenLoopback } from './listen';

/**
 * `full` is the product's `createApp`. The others leave layers out, to find what each costs (bench/ablation.ts):
 * `no-headers` drops the security headers; `no-headers-no-log` also the request id/log/metrics middleware;
 * `router-only` keeps only the bearer check and the SCIM router (no failed-auth throttle).
 */
export type AppVariant = 'full' | 'no-headers' | 'no-headers-no-log' | 'router-only';

function appFor(variant: AppVariant, directory: Directory, token: string, publicUrl: string, views: ViewCache): Express {
  const options = { directory, tokens: [token], publicUrl, views };
  if (variant === 'full') return createApp(options);
  const logger = silentLogger;
  const app = express();
  app.set('etag', false);
  app.set('x-powered-by', false);
  if (variant === 'no-headers') app.use(requestLog(logger));
  if (variant === 'router-only') {
    app.use('/scim/v2', scimAuth({ tokens: [token] }), createScimRouter({ directory, maxResults: 1000, basicAuth: false, rootUrl: rootUrlResolver(options), views }));
  } else mountScim(app, options);
  finish(app, logger);
  return app;
}

interface Input {
  variant?: AppVariant;
  sandbox: { url: string; clientId: string; clientSecret: string; refreshToken: string };
  token: string;
  publicUrl: string;
  stateDir: string;
  corpusDir?: string;
  /** `plain`: a bare `http.createServer(app)` like the reference servers', instead of the product's (ablation only). */
  listener?: 'product' | 'plain';
}

async function main(): Promise<void> {
  // Forked with the V8 flags `xero-scim serve` runs with (src/runtime.ts), as the image's ENTRYPOINT gives them.
  const missing = missingV8Flags();
  if (missing.length > 0) failStartup(new Error(`started without ${missing.join(' ')}`));
  const input = childInput<Input>();
  const before = heapAfterGc();
  const { directory } = sandboxDirectory(input.sandbox, input.stateDir);
  const report = await directory.syncOnce();
  const snapshot = directory.current();
  if (report.outcome !== 'ok' || !snapshot) throw new Error(`sync did not complete: ${JSON.stringify({ outcome: report.outcome, error: report.error })}`);
  const afterSync = heapAfterGc();

  // The app's own views, rendered here so the heap is measured with them.
  const views = new ViewCache();
  const app = appFor(input.variant ?? 'full', directory, input.token, input.publicUrl, views);
  const view = views.viewOf(snapshot, `${input.publicUrl}/scim/v2`)!;
  const users = view.resources('User');
  const groups = view.resources('Group');
  // Resources serialise lazily, on first use; the crawl sends every one, so measure them all serialised. They are
  // read as the bytes the server sends: decoding them to strings here would put 150 MB on this process's peak RSS
  // that the product never holds. Read twice, as pollers that come back read them: the render cache keeps a resource
  // at its second serialisation (src/scim/render-cache.ts), so the workloads start from what a server that has been
  // polled a while holds, as the floors start from every answer pre-rendered.
  itemsOf(users).forEach((i) => i.etag);
  itemsOf(groups).forEach((i) => i.etag);
  const userBytes = itemsOf(users).map((i) => i.bytes);
  const groupBytes = itemsOf(groups).map((i) => i.bytes);
  if (input.corpusDir) {
    mkdirSync(input.corpusDir, { recursive: true });
    writeCorpus(input.corpusDir, userBytes, groupBytes);
  }
  // How much of the rendered views is the serialised resources themselves (UTF-8, outside the JavaScript heap).
  const textMiB = [...userBytes, ...groupBytes].reduce((n, b) => n + b.length, 0) / 2 ** 20;
  userBytes.length = 0;
  groupBytes.length = 0;
  const afterRender = heapAfterGc();
  // The product's own listener (`xero-scim serve` runs on it): fair admission, requests built with Express's
  // prototypes (src/http/express-server.ts). Keep-alive as long as the reference servers' (bench/servers/listen.ts).
  const url =
    input.listener === 'plain'
      ? await listenLoopback(app)
      : (await listen(app, 0, '127.0.0.1', { ...TIMEOUTS, keepAliveMs: 120_000, headersMs: 121_000 })).url;
  serveParent({ heap: () => heapAfterGc() }).ready({
    url,
    people: snapshot.people.length,
    organisations: snapshot.organisations.length,
    memberships: snapshot.tenants.reduce((n, t) => n + t.users.length, 0),
    sync: { durationMs: report.durationMs, calls: report.calls, rateLimited: report.rateLimited, outcome: report.outcome },
    heap: { before, afterSync, afterRender, serialisedMiB: Math.round(textMiB * 10) / 10 },
  });
}

main().catch(failStartup);
