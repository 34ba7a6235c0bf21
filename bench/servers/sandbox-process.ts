/**
 * The Xero sandbox in a process of its own, so syncing from it costs the synced server nothing but the calls.
 * It issues a web-app refresh token for every organisation (as if someone had consented to all of them).
 * With `fronts`, it also answers on that many more ports, counting the calls each receives: the replicas bench gives
 * each replica one, so the calls are attributed to the replica that made them.
 * `people` answers how many SCIM users the data makes (distinct e-mails, case-insensitive), a sample of their
 * userNames and how many contain a string, so the scale bench checks answers without generating a million users in its own process.
 */
import { createServer } from 'node:http';
import { createSandbox, type GenerateOptions, type LatencyOptions, type RateLimitOptions } from '../../src/sandbox';
import { peopleOf } from '../dataset';
import { childInput, failStartup, serveParent } from '../ipc';

interface Input {
  data: GenerateOptions;
  limits?: RateLimitOptions;
  latency?: LatencyOptions;
  fronts?: number;
}

export interface SandboxInfo {
  url: string;
  clientId: string;
  clientSecret: string;
  refreshToken: string;
  organisations: number;
  memberships: number;
  generateMs: number;
  /** One URL per front (`fronts`), each reaching the same sandbox. */
  frontUrls: string[];
}

async function main(): Promise<void> {
  const input = childInput<Input>();
  const started = Date.now();
  const sandbox = createSandbox({ data: input.data, limits: input.limits ?? {}, latency: input.latency ?? {} });
  const generateMs = Date.now() - started;
  const { url } = await sandbox.listen(0, '127.0.0.1');
  const organisations = sandbox.data.organisations();
  const tenantIds = organisations.map((o) => o.organisationId);
  const web = sandbox.clients.web;
  const issue = () => sandbox.data.issueRefreshToken(web.clientId, tenantIds);
  const frontCalls: number[] = [];
  const frontUrls: string[] = [];
  for (let i = 0; i < (input.fronts ?? 0); i++) {
    frontCalls.push(0);
    const front = createServer((req, res) => {
      frontCalls[i]!++;
      sandbox.app(req, res);
    });
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    frontUrls.push(`http://127.0.0.1:${(front.address() as { port: number }).port}`);
  }
  serveParent({
    counters: () => sandbox.data.counters(),
    resetCounters: () => sandbox.data.resetCounters(),
    refreshToken: () => issue(),
    frontCalls: () => [...frontCalls],
    people: ({ sample, contains }: { sample: number; contains: string }) => peopleOf(tenantIds.map((id) => sandbox.data.users(id)), sample, contains),
    // A person joins one organisation: the next sync's version differs (the replicas bench times its spread).
    join: ({ n }: { n: number }) => {
      const organisationId = tenantIds[n % tenantIds.length]!;
      sandbox.data.addUser(organisationId, { email: `bench-joiner-${n}@example.com`, firstName: 'Bench', lastName: `Joiner ${n}`, role: 'STANDARD' });
    },
  }).ready({
    url,
    clientId: web.clientId,
    clientSecret: web.clientSecret,
    refreshToken: issue(),
    organisations: organisations.length,
    memberships: organisations.reduce((n, o) => n + o.userCount, 0),
    generateMs,
    frontUrls,
  } satisfies SandboxInfo);
}

main().catch(failStartup);
