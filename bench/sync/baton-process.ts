/**
 * baton-xero's sync pattern, as a small script against the same sandbox: a token refresh, `/connections`, then for
 * each organisation, one call after another, `GET Organisation`, `GET Users` and one `GET Users?where=
 * OrganisationRole=="…"` per role slug it knows — 8 calls per organisation. (baton-xero spells the adviser role
 * FINANCIALADVISOR, which Xero does not have, so that query finds no one; the call is made all the same.)
 */
import { childInput, failStartup, serveParent } from '../ipc';

interface Input {
  url: string;
  clientId: string;
  clientSecret: string;
  refreshToken: string;
}

const BATON_ROLES = ['READONLY', 'INVOICEONLY', 'STANDARD', 'FINANCIALADVISOR', 'MANAGEDCLIENT', 'CASHBOOKCLIENT'];

export interface BatonRun {
  organisations: number;
  wallMs: number;
  /** Wall time of the per-organisation calls only (after token and /connections), per organisation. */
  perOrganisationMs: number;
  callsPerOrganisation: number;
  calls: number;
  statuses: Record<string, number>;
}

async function run(input: Input, organisations: number): Promise<BatonRun> {
  const statuses: Record<string, number> = {};
  let calls = 0;
  const call = async (url: string, init: RequestInit): Promise<Response> => {
    calls++;
    const response = await fetch(url, init);
    statuses[response.status] = (statuses[response.status] ?? 0) + 1;
    return response;
  };
  const started = Date.now();
  const token = await call(`${input.url}/connect/token`, {
    method: 'POST',
    headers: {
      Authorization: `Basic ${Buffer.from(`${input.clientId}:${input.clientSecret}`).toString('base64')}`,
      'Content-Type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: input.refreshToken }).toString(),
  });
  const { access_token: accessToken } = (await token.json()) as { access_token: string };
  const auth = { Authorization: `Bearer ${accessToken}`, Accept: 'application/json' };
  const connections = (await (await call(`${input.url}/connections`, { headers: auth })).json()) as { tenantId: string }[];
  const orgsStarted = Date.now();
  const callsBefore = calls;
  const chosen = connections.slice(0, organisations);
  for (const { tenantId } of chosen) {
    const headers = { ...auth, 'xero-tenant-id': tenantId };
    await (await call(`${input.url}/api.xro/2.0/Organisation`, { headers })).text();
    await (await call(`${input.url}/api.xro/2.0/Users`, { headers })).text();
    for (const role of BATON_ROLES) {
      const where = encodeURIComponent(`OrganisationRole=="${role}"`);
      await (await call(`${input.url}/api.xro/2.0/Users?where=${where}`, { headers })).text();
    }
  }
  const finished = Date.now();
  return {
    organisations: chosen.length,
    wallMs: finished - started,
    perOrganisationMs: Math.round((finished - orgsStarted) / Math.max(1, chosen.length)),
    callsPerOrganisation: (calls - callsBefore) / Math.max(1, chosen.length),
    calls,
    statuses,
  };
}

async function main(): Promise<void> {
  const input = childInput<Input>();
  serveParent({ run: ({ organisations, refreshToken }: { organisations: number; refreshToken: string }) => run({ ...input, refreshToken }, organisations) }).ready({});
}

main().catch(failStartup);
