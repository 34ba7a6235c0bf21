import type { Request, Response } from 'express';
import type { SandboxContext } from './context';
import { sendProblem } from './errors';
import type { AccessGrant } from './identity/grants';
import { expiryStamp } from './wire';

/**
 * RFC 6750 bearer token check with Xero's answers: no or unknown token → 401 `AuthenticationUnsuccessful`,
 * expired → 401 `TokenExpired: token expired at …`. Sends the answer and returns undefined when refused.
 */
export function bearerGrant(ctx: SandboxContext, req: Request, res: Response): AccessGrant | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '');
  const found = match?.[1] === undefined ? undefined : ctx.grants.accessGrant(match[1]);
  if (!found) {
    sendProblem(res, 401, 'AuthenticationUnsuccessful');
    return undefined;
  }
  if (found.expired) {
    sendProblem(res, 401, `TokenExpired: token expired at ${expiryStamp(found.grant.expiresAt)}`);
    return undefined;
  }
  return found.grant;
}
