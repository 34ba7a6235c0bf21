import { randomUUID } from 'node:crypto';
import express, { Router, type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import type { SandboxContext } from './context';
import type { SandboxCounters } from './counters';
import { ORGANISATION_ROLES, type OrganisationRole, type SandboxOrganisation, type SandboxUser } from './data';
import { FAULT_KINDS, FAULT_PATHS, type ScriptedFault } from './faults';
import { OAuthError, type Connection } from './identity/grants';
import type { FaultRates, LatencyOptions, RateLimitOptions } from './options';
import { SandboxAdminError, type NewOrganisation, type NewUser } from './store';

/** An organisation as the admin API lists it: everything but its users, plus how many it has. */
export type OrganisationSummary = Omit<SandboxOrganisation, 'users'> & { userCount: number };

/** The admin API, programmatically. Every method is also served over HTTP under `/__sandbox` (see README.md). */
export interface SandboxDataApi {
  organisations(): OrganisationSummary[];
  users(organisationId: string): SandboxUser[];
  addUser(organisationId: string, user: NewUser): SandboxUser;
  removeUser(organisationId: string, userId: string): void;
  /** Bumps the user's UpdatedDateUTC to the clock's now. */
  setRole(organisationId: string, userId: string, role: OrganisationRole): SandboxUser;
  addOrganisation(organisation: NewOrganisation): OrganisationSummary;
  /** Connects the organisation to the web client (a new auth event), so it appears in its `/connections`. */
  connect(organisationId: string): Connection;
  /** Disconnects it from the web client: its calls for that tenant then answer 403. */
  disconnect(organisationId: string): void;
  /** A refresh token as if someone had consented for these organisations; lets tests skip the consent page. */
  issueRefreshToken(clientId: string, tenantIds: string[], scopes?: string[]): string;
  scriptFault(fault: ScriptedFault): void;
  setFaults(rates: FaultRates): void;
  setLatency(latency: LatencyOptions): void;
  setLimits(limits: RateLimitOptions): void;
  counters(): SandboxCounters;
  resetCounters(): void;
  /** Calls to this organisation's accounting endpoints admitted and not yet closed, over all clients. */
  inFlight(organisationId: string): number;
}

/** Validates admin input; a mistake becomes a 400 SandboxAdminError whose message names the field. */
function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (!result.success) throw new SandboxAdminError(400, z.prettifyError(result.error));
  return result.data;
}

function summary(org: SandboxOrganisation): OrganisationSummary {
  const { users, ...rest } = org;
  return { ...rest, userCount: users.length };
}

export function createDataApi(ctx: SandboxContext): SandboxDataApi {
  const web = ctx.clients.web.clientId;
  return {
    organisations: () => ctx.store.organisations().map(summary),
    users: (organisationId) => ctx.store.get(organisationId).users.map((user) => ({ ...user })),
    addUser: (organisationId, user) => ctx.store.addUser(organisationId, user),
    removeUser: (organisationId, userId) => ctx.store.removeUser(organisationId, userId),
    setRole: (organisationId, userId, role) => ctx.store.setRole(organisationId, userId, role),
    addOrganisation: (organisation) => summary({ ...ctx.store.addOrganisation(organisation), users: [] }),
    connect: (organisationId) => ctx.grants.connect(web, organisationId, randomUUID()),
    disconnect: (organisationId) => {
      ctx.store.get(organisationId);
      if (!ctx.grants.disconnect(web, organisationId)) throw new SandboxAdminError(404, `organisation ${organisationId} is not connected`);
    },
    issueRefreshToken: (clientId, tenantIds, scopes) => {
      for (const id of tenantIds) ctx.store.get(id);
      try {
        return ctx.grants.issueRefreshToken(clientId, tenantIds, scopes);
      } catch (error) {
        if (error instanceof OAuthError) throw new SandboxAdminError(400, `${clientId} is not a web client of this sandbox`);
        throw error;
      }
    },
    scriptFault: (fault) => ctx.faults.script(parse(scriptedFault, fault)),
    setFaults: (rates) => ctx.faults.setRates(parse(faultRates, rates)),
    setLatency: (latency) => ctx.faults.setLatency(parse(latencySchema, latency)),
    setLimits: (limits) => ctx.limiter.configure(parse(limitsSchema, limits)),
    counters: () => ctx.counters.snapshot(),
    resetCounters: () => ctx.counters.reset(),
    inFlight: (organisationId) => ctx.limiter.inFlight(organisationId),
  };
}

const rate = z.number().min(0).max(1);
const faultRates = z.strictObject({ serverErrorRate: rate.optional(), rateLimitRate: rate.optional(), timeoutRate: rate.optional(), dropRate: rate.optional(), seed: z.number().int().optional() });
const latencySchema = z.strictObject({ fixedMs: z.number().int().min(0).optional(), jitterMs: z.number().int().min(0).optional() });
const limitsSchema = z.strictObject({
  enforce: z.boolean().optional(),
  concurrent: z.number().int().min(1).optional(),
  perMinute: z.number().int().min(1).optional(),
  perDay: z.number().int().min(1).optional(),
  appPerMinute: z.number().int().min(1).optional(),
});
const scriptedFault = z.strictObject({
  path: z.enum(FAULT_PATHS as [ScriptedFault['path'], ...ScriptedFault['path'][]]),
  tenantId: z.string().optional(),
  count: z.number().int().min(1),
  kind: z.union(FAULT_KINDS.map((k) => z.literal(k)) as unknown as [z.ZodLiteral<503>, z.ZodLiteral<500>, ...z.ZodLiteral<ScriptedFault['kind']>[]]),
  retryAfterSeconds: z.number().int().min(0).optional(),
})
  .refine((fault) => fault.kind !== 'lose-token-response' || fault.path === 'token', { message: "kind 'lose-token-response' needs path 'token'", path: ['kind'] })
  .refine((fault) => fault.kind !== 'empty' || fault.path === 'connections' || fault.path === 'Users', { message: "kind 'empty' needs path 'connections' or 'Users'", path: ['kind'] });
const role = z.enum(ORGANISATION_ROLES);
const newUser = z.strictObject({ email: z.string().min(3), firstName: z.string(), lastName: z.string(), role, isSubscriber: z.boolean().optional() });
const newOrganisation = z.object({
  name: z.string().min(1),
  organisationId: z.uuid().optional(),
  organisationType: z.string().optional(),
  countryCode: z.string().optional(),
  baseCurrency: z.string().optional(),
  version: z.string().optional(),
  edition: z.enum(['BUSINESS', 'PARTNER']).optional(),
  class: z.string().optional(),
  timezone: z.string().optional(),
  tenantType: z.enum(['ORGANISATION', 'PRACTICE']).optional(),
});
const refreshTokenRequest = z.strictObject({ clientId: z.string().optional(), tenantIds: z.array(z.string()).min(1), scopes: z.array(z.string()).optional() });

/** `/__sandbox/...`: JSON in, JSON out; mistakes answer 400/404/409 `{"error":"…"}`. */
export function adminRouter(ctx: SandboxContext, api: SandboxDataApi): Router {
  const router = Router();
  router.use(express.json({ limit: '1mb' }));
  const body = (req: Request): unknown => req.body ?? {};

  router.get('/organisations', (_req, res) => {
    res.json(api.organisations());
  });
  router.post('/organisations', (req, res) => {
    res.status(201).json(api.addOrganisation(parse(newOrganisation, body(req))));
  });
  router.get('/organisations/:orgId/users', (req, res) => {
    res.json(api.users(String(req.params.orgId)));
  });
  router.post('/organisations/:orgId/users', (req, res) => {
    res.status(201).json(api.addUser(String(req.params.orgId), parse(newUser, body(req))));
  });
  router.delete('/organisations/:orgId/users/:userId', (req, res) => {
    api.removeUser(String(req.params.orgId), String(req.params.userId));
    res.status(204).end();
  });
  router.put('/organisations/:orgId/users/:userId/role', (req, res) => {
    const { role: newRole } = parse(z.strictObject({ role }), body(req));
    res.json(api.setRole(String(req.params.orgId), String(req.params.userId), newRole));
  });
  router.post('/organisations/:orgId/connect', (req, res) => {
    res.status(201).json(api.connect(String(req.params.orgId)));
  });
  router.post('/organisations/:orgId/disconnect', (req, res) => {
    api.disconnect(String(req.params.orgId));
    res.status(204).end();
  });
  router.post('/refresh-tokens', (req, res) => {
    const input = parse(refreshTokenRequest, body(req));
    res.status(201).json({ refresh_token: api.issueRefreshToken(input.clientId ?? ctx.clients.web.clientId, input.tenantIds, input.scopes) });
  });
  router.post('/faults', (req, res) => {
    api.scriptFault(parse(scriptedFault, body(req)));
    res.status(204).end();
  });
  router.put('/faults', (req, res) => {
    api.setFaults(parse(faultRates, body(req)));
    res.status(204).end();
  });
  router.put('/latency', (req, res) => {
    api.setLatency(parse(latencySchema, body(req)));
    res.status(204).end();
  });
  router.put('/limits', (req, res) => {
    api.setLimits(parse(limitsSchema, body(req)));
    res.status(204).end();
  });
  router.get('/counters', (_req, res) => {
    res.json(api.counters());
  });
  router.delete('/counters', (_req, res) => {
    api.resetCounters();
    res.status(204).end();
  });
  router.use((_req, res) => {
    res.status(404).json({ error: 'no such admin route; see src/sandbox/README.md' });
  });
  router.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (error instanceof SandboxAdminError) res.status(error.status).json({ error: error.message });
    else if (error instanceof SyntaxError) res.status(400).json({ error: 'request body is not valid JSON' });
    else next(error);
  });
  return router;
}
