import request from 'supertest';
import type { Clock, Sandbox } from '../../src/sandbox';

/** A clock the test moves by hand, so expiry, grace and limit windows need no waiting. */
export class ManualClock implements Clock {
  constructor(private ms = Date.UTC(2026, 0, 15, 9, 0, 0)) {}
  now(): number {
    return this.ms;
  }
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function basic(clientId: string, clientSecret: string): string {
  return `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`;
}

/** An access token of the custom connection (client credentials), optionally with chosen scopes. */
export async function customToken(sandbox: Sandbox, scope?: string): Promise<string> {
  const { clientId, clientSecret } = sandbox.clients.custom;
  const form: Record<string, string> = { grant_type: 'client_credentials' };
  if (scope !== undefined) form.scope = scope;
  const res = await request(sandbox.app).post('/connect/token').set('Authorization', basic(clientId, clientSecret)).type('form').send(form);
  if (res.status !== 200) throw new Error(`client_credentials failed: ${res.status} ${res.text}`);
  return (res.body as { access_token: string }).access_token;
}

/** An access token of the web client for the given organisations, skipping the consent page. */
export async function webToken(sandbox: Sandbox, tenantIds: string[]): Promise<string> {
  const { clientId, clientSecret } = sandbox.clients.web;
  const refreshToken = sandbox.data.issueRefreshToken(clientId, tenantIds);
  const res = await request(sandbox.app)
    .post('/connect/token')
    .set('Authorization', basic(clientId, clientSecret))
    .type('form')
    .send({ grant_type: 'refresh_token', refresh_token: refreshToken });
  if (res.status !== 200) throw new Error(`refresh failed: ${res.status} ${res.text}`);
  return (res.body as { access_token: string }).access_token;
}
