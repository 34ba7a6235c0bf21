import { type Request, type Response, Router } from 'express';
import { bearerGrant } from './bearer';
import { delay, type SandboxContext } from './context';
import { sendFault, sendNotFound, sendTooManyRequests } from './errors';
import { connectionDate } from './wire';

/** The caller's grant when its bearer token is valid and the app is under its minute limit; else answered here. */
function admitted(ctx: SandboxContext, req: Request, res: Response): ReturnType<typeof bearerGrant> {
  const grant = bearerGrant(ctx, req, res);
  if (!grant) return undefined;
  const admission = ctx.limiter.admitApp(grant.clientId, ctx.clock.now());
  res.set(admission.headers);
  if (!admission.admitted) {
    sendTooManyRequests(res, admission.problem, admission.retryAfterSeconds);
    return undefined;
  }
  return grant;
}

/** `GET /connections` (bare array) and `DELETE /connections/{id}` (204). No tenant, so only the app limit applies. */
export function connectionsRouter(ctx: SandboxContext): Router {
  const router = Router();

  router.get('/connections', async (req, res) => {
    ctx.counters.call('GET /connections');
    const grant = admitted(ctx, req, res);
    if (!grant) return;
    const fault = ctx.faults.take('connections', undefined);
    if (fault && fault.kind !== 'empty') {
      sendFault(res, fault, ctx.counters, ctx.held);
      return;
    }
    await delay(ctx.faults.delayMs());
    if (fault) {
      res.json([]);
      return;
    }
    const authEventId = typeof req.query.authEventId === 'string' ? req.query.authEventId.toLowerCase() : undefined;
    const body = ctx.grants
      .connections(grant.clientId)
      .filter((c) => authEventId === undefined || c.authEventId.toLowerCase() === authEventId)
      .map((c) => {
        const org = ctx.store.find(c.tenantId);
        return {
          id: c.id,
          authEventId: c.authEventId,
          tenantId: c.tenantId,
          tenantType: org?.tenantType ?? 'ORGANISATION',
          tenantName: org?.name ?? null,
          createdDateUtc: connectionDate(c.createdAt),
          updatedDateUtc: connectionDate(c.updatedAt),
        };
      });
    res.json(body);
  });

  router.delete('/connections/:id', async (req, res) => {
    ctx.counters.call('DELETE /connections/{id}');
    const grant = admitted(ctx, req, res);
    if (!grant) return;
    await delay(ctx.faults.delayMs());
    if (!ctx.grants.deleteConnection(grant.clientId, String(req.params.id))) {
      sendNotFound(res);
      return;
    }
    res.status(204).end();
  });
  return router;
}
