import { parseArgs } from 'node:util';
import { createSandbox, type SandboxOptions } from './index';

/** A command-line mistake: the message names the flag, and the caller prints it with the usage. */
export class SandboxUsageError extends Error {
  override name = 'SandboxUsageError';
}

export const SANDBOX_USAGE = `Usage: xero-scim sandbox [options]

Runs the Xero sandbox alone: Xero's identity, connections and accounting APIs on one origin.

  --port <n>                     port to listen on (default 4010; 0 picks a free one)
  --host <address>               address to listen on (default 127.0.0.1)
  --seed <n|text>                generate data from this seed instead of the demo data set
  --organisations <n>            generated organisations (default 10; implies generated data)
  --users-per-organisation <n>   generated users per organisation (default 20; implies generated data)
  --latency-ms <n>               added to every API call (default 0)
  --no-limits                    do not answer 429 (the Remaining headers are still sent)
  --auto-approve                 the consent page approves every organisation at once
  -h, --help                     print this
`;

export interface SandboxCommandIo {
  /** Where lines go; default stdout. */
  out?: (line: string) => void;
  /** Stops the sandbox when aborted; default SIGINT/SIGTERM. */
  signal?: AbortSignal;
}

function whole(flag: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < min || n > max) throw new SandboxUsageError(`${flag} must be a whole number from ${min} to ${max}, got "${value}"`);
  return n;
}

/** Parses `xero-scim sandbox` flags into sandbox options and a listen address. */
export function parseSandboxArgs(argv: string[]): { options: SandboxOptions; port: number; host: string; help: boolean } {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        seed: { type: 'string' },
        organisations: { type: 'string' },
        'users-per-organisation': { type: 'string' },
        'latency-ms': { type: 'string' },
        'no-limits': { type: 'boolean' },
        'auto-approve': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new SandboxUsageError((error as Error).message);
  }
  const organisations = whole('--organisations', values.organisations, 1, 100_000);
  const usersPerOrganisation = whole('--users-per-organisation', values['users-per-organisation'], 1, 10_000);
  const generated = values.seed !== undefined || organisations !== undefined || usersPerOrganisation !== undefined;
  const seed = values.seed === undefined ? 1 : /^\d+$/.test(values.seed) ? Number(values.seed) : values.seed;
  const options: SandboxOptions = {
    data: generated ? { seed, organisations, usersPerOrganisation } : 'demo',
    latency: { fixedMs: whole('--latency-ms', values['latency-ms'], 0, 600_000) ?? 0 },
    limits: { enforce: !values['no-limits'] },
    autoApprove: values['auto-approve'] ?? false,
  };
  return {
    options,
    port: whole('--port', values.port, 0, 65_535) ?? 4010,
    host: values.host ?? '127.0.0.1',
    help: values.help ?? false,
  };
}

/**
 * `xero-scim sandbox`: starts the sandbox and prints its URL, the clients it accepts and curl examples; resolves
 * once it has stopped (SIGINT/SIGTERM, or `io.signal`). The client secrets printed are the sandbox's own.
 */
export async function runSandboxCommand(argv: string[], io: SandboxCommandIo = {}): Promise<void> {
  const out = io.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const { options, port, host, help } = parseSandboxArgs(argv);
  if (help) {
    out(SANDBOX_USAGE);
    return;
  }
  const sandbox = createSandbox(options);
  const server = await sandbox.listen(port, host);
  const { web, custom } = sandbox.clients;
  const organisations = sandbox.data.organisations();
  const customOrg = organisations.find((o) => o.organisationId === custom.tenantIds?.[0]);
  const users = organisations.reduce((n, o) => n + o.userCount, 0);
  const url = server.url;
  out(`Xero sandbox listening on ${url}`);
  out(`Data: ${options.data === 'demo' ? 'demo data set' : 'generated'}, ${organisations.length} organisations, ${users} users`);
  out('');
  out(`Point xero-scim at it: XERO_API_URL=${url} XERO_IDENTITY_URL=${url} XERO_LOGIN_URL=${url}`);
  out('');
  out('Custom connection (grant_type=client_credentials):');
  out(`  client_id     ${custom.clientId}`);
  out(`  client_secret ${custom.clientSecret}`);
  out(`  organisation  ${customOrg?.name ?? '?'} (${customOrg?.organisationId ?? '?'})`);
  out('Web app (authorization code, PKCE optional; refresh tokens rotate):');
  out(`  client_id     ${web.clientId}`);
  out(`  client_secret ${web.clientSecret}`);
  out(`  redirect_uri  ${(web.redirectUris ?? ['https://localhost:8080']).join(', ')} or any http://localhost:* / http://127.0.0.1:*`);
  out(`  consent page  ${url}/identity/connect/authorize?response_type=code&client_id=${web.clientId}&redirect_uri=https%3A%2F%2Flocalhost%3A8080&scope=offline_access%20accounting.settings.read&state=demo`);
  out('');
  out('Try:');
  out(`  curl -s -u '${custom.clientId}:${custom.clientSecret}' -d grant_type=client_credentials ${url}/connect/token`);
  out(`  curl -s -H "Authorization: Bearer $ACCESS_TOKEN" -H 'Accept: application/json' -H 'xero-tenant-id: ${customOrg?.organisationId ?? ''}' ${url}/api.xro/2.0/Users`);
  out(`  curl -s ${url}/__sandbox/counters`);

  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    if (io.signal) {
      if (io.signal.aborted) stop();
      else io.signal.addEventListener('abort', stop, { once: true });
    } else {
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    }
  });
  await server.close();
  out('Xero sandbox stopped.');
}
