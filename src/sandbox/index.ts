import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { accountingRouter } from './accounting';
import { adminRouter, createDataApi, type SandboxDataApi } from './admin';
import { connectionsRouter } from './connections';
import type { SandboxContext } from './context';
import { CallCounters } from './counters';
import { cloneData, type SandboxData } from './data';
import { demoData } from './demo';
import { HeldRequests, sendNotFound, sendProblem } from './errors';
import { FaultPlan } from './faults';
import { generateData, type GenerateOptions } from './generate';
import { authorizeRouter } from './identity/authorize';
import { Grants } from './identity/grants';
import { oidcRouter } from './identity/oidc';
import { tokenRouter } from './identity/token';
import { DEFAULT_LIMITS, RateLimiter } from './limits';
import { DEFAULT_CLIENTS, systemClock, type SandboxClient, type SandboxOptions } from './options';
import { SandboxStore } from './store';

export type { Clock, FaultRates, LatencyOptions, RateLimitOptions, SandboxClient, SandboxOptions } from './options';
export { DEFAULT_CLIENTS } from './options';
export type { OrganisationRole, SandboxData, SandboxOrganisation, SandboxUser } from './data';
export { ORGANISATION_ROLES } from './data';
export type { GenerateOptions } from './generate';
export { generateData } from './generate';
export { demoData } from './demo';
export type { SandboxDataApi, OrganisationSummary } from './admin';
export type { SandboxCounters, TenantCounts } from './counters';
export type { FaultKind, FaultPath, ScriptedFault } from './faults';
export type { Connection } from './identity/grants';
export type { NewOrganisation, NewUser } from './store';
export { SandboxAdminError } from './store';

export interface Sandbox {
  /** Mountable; serves every route on one origin, so API, identity and login URLs are all the sandbox's URL. */
  readonly app: Express;
  /** Listens on 127.0.0.1 and an ephemeral port by default. `url` has no trailing slash. */
  listen(port?: number, host?: string): Promise<{ url: string; close(): Promise<void> }>;
  readonly clients: { web: SandboxClient; custom: SandboxClient };
  readonly data: SandboxDataApi;
}

function resolveData(data: SandboxOptions['data']): SandboxData {
  if (data === undefined || data === 'demo') return demoData();
  if (isSandboxData(data)) return cloneData(data);
  return generateData(data);
}

function isSandboxData(data: SandboxData | GenerateOptions): data is SandboxData {
  return Array.isArray((data as Partial<SandboxData>).organisations);
}

function positive(name: string, value: number): number {
  if (!(Number.isFinite(value) && value > 0)) throw new RangeError(`createSandbox: ${name} must be a positive number of seconds, got ${value}`);
  return value;
}

export function createSandbox(options: SandboxOptions = {}): Sandbox {
  const clock = options.clock ?? systemClock;
  const store = new SandboxStore(resolveData(options.data), clock);
  const firstOrganisation = store.organisations()[0]?.organisationId;

  const configured = options.clients ?? [DEFAULT_CLIENTS.web, DEFAULT_CLIENTS.custom];
  const clients = configured.map((client): SandboxClient => {
    if (client.kind !== 'custom') return { ...client };
    const tenantIds = client.tenantIds ?? (firstOrganisation ? [firstOrganisation] : []);
    if (tenantIds.length !== 1) throw new RangeError(`createSandbox: custom client ${client.clientId} needs exactly one organisation`);
    for (const id of tenantIds) store.get(id);
    return { ...client, tenantIds };
  });
  const web = clients.find((c) => c.kind === 'web');
  const custom = clients.find((c) => c.kind === 'custom');
  if (!web || !custom) throw new RangeError('createSandbox: clients needs at least one web and one custom client');

  const ctx: SandboxContext = {
    clock,
    store,
    grants: new Grants(clients, store, clock, {
      accessTokenTtlSeconds: positive('accessTokenTtlSeconds', options.accessTokenTtlSeconds ?? 1800),
      refreshGraceSeconds: positive('refreshGraceSeconds', options.refreshGraceSeconds ?? 1800),
      refreshTokenTtlSeconds: positive('refreshTokenTtlSeconds', options.refreshTokenTtlSeconds ?? 60 * 86_400),
    }),
    limiter: new RateLimiter({ ...DEFAULT_LIMITS, ...options.limits }),
    faults: new FaultPlan(options.faults, options.latency),
    counters: new CallCounters(),
    held: new HeldRequests(),
    clients: { web, custom },
    autoApprove: options.autoApprove ?? false,
  };
  const data = createDataApi(ctx);

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use((req, res, next) => {
    if (!req.path.startsWith('/__sandbox')) {
      res.on('finish', () => ctx.counters.answered(res.statusCode, res.locals.tenantId as string | undefined));
    }
    next();
  });
  app.use('/__sandbox', adminRouter(ctx, data));
  app.use(tokenRouter(ctx));
  app.use(oidcRouter(ctx));
  app.use(authorizeRouter(ctx));
  app.use(connectionsRouter(ctx));
  app.use('/api.xro/2.0', accountingRouter(ctx));
  app.use((_req, res) => sendNotFound(res));
  // Bad input never crashes the sandbox: a malformed body is a 400; anything else a Xero-shaped 500 without internals.
  app.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(error);
    const status = (error as { status?: unknown }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      res.status(status).json({ error: 'invalid_request' });
      return;
    }
    sendProblem(res, 500, 'An unexpected error occurred');
  });

  return {
    app,
    clients: { web, custom },
    data,
    listen: (port = 0, host = '127.0.0.1') => listen(app, ctx, port, host),
  };
}

function listen(app: Express, ctx: SandboxContext, port: number, host: string): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer(app);
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const address = server.address();
      const actualPort = typeof address === 'object' && address ? address.port : port;
      const shownHost = host.includes(':') ? `[${host}]` : host;
      resolve({
        url: `http://${shownHost}:${actualPort}`,
        close: () =>
          new Promise<void>((done, fail) => {
            ctx.held.releaseAll();
            server.close((error) => (error ? fail(error) : done()));
            for (const socket of sockets) socket.destroy();
          }),
      });
    });
  });
}
