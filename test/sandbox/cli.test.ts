import { parseSandboxArgs, runSandboxCommand, SandboxUsageError } from '../../src/sandbox/cli';

describe('xero-scim sandbox (runSandboxCommand)', () => {
  it('starts, prints its URL, both clients and a curl example that works as printed', async () => {
    const lines: string[] = [];
    const controller = new AbortController();
    const running = runSandboxCommand(['--port', '0', '--host', '127.0.0.1'], { out: (l) => lines.push(l), signal: controller.signal });
    while (!lines.some((l) => l.startsWith('  curl -s -u'))) await new Promise((r) => setImmediate(r));
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+)$/.exec(lines[0]!)![1]!;
    expect(lines).toContain('Data: demo data set, 3 organisations, 17 users');
    expect(lines).toContain('  client_id     SANDBOXCUSTOMCONNECTION000000002');
    expect(lines).toContain('  client_id     SANDBOXWEBCLIENT00000000000000001');

    // Follow the printed curl example with fetch: the credentials it shows are the ones the sandbox accepts.
    const [, id, secret] = /-u '([^:]+):([^']+)'/.exec(lines.find((l) => l.startsWith('  curl -s -u'))!)!;
    const token = await fetch(`${url}/connect/token`, {
      method: 'POST',
      headers: { Authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    }).then((r) => r.json() as Promise<{ access_token: string }>);
    const tenant = /xero-tenant-id: ([0-9a-f-]{36})/.exec(lines.join('\n'))![1]!;
    const users = await fetch(`${url}/api.xro/2.0/Users`, { headers: { Authorization: `Bearer ${token.access_token}`, Accept: 'application/json', 'xero-tenant-id': tenant } });
    expect(users.status).toBe(200);
    expect(((await users.json()) as { Users: unknown[] }).Users).toHaveLength(5);

    controller.abort();
    await running;
    expect(lines.at(-1)).toBe('Xero sandbox stopped.');
    await expect(fetch(`${url}/connections`)).rejects.toThrow();
  });

  it('maps flags to options: generated data, latency, no limits, auto-approve', () => {
    expect(parseSandboxArgs(['--seed', '7', '--organisations', '20', '--users-per-organisation', '5', '--latency-ms', '30', '--no-limits', '--auto-approve', '--port', '4011'])).toEqual({
      options: { data: { seed: 7, organisations: 20, usersPerOrganisation: 5 }, latency: { fixedMs: 30 }, limits: { enforce: false }, autoApprove: true },
      port: 4011,
      host: '127.0.0.1',
      help: false,
    });
    expect(parseSandboxArgs([]).options.data).toBe('demo');
  });

  it.each([
    [['--port', 'abc'], '--port must be a whole number from 0 to 65535, got "abc"'],
    [['--organisations', '-3'], /--organisations/],
    [['--bogus'], /bogus/],
  ])('refuses %j with a message naming the flag', (argv, message) => {
    expect(() => parseSandboxArgs(argv)).toThrow(SandboxUsageError);
    expect(() => parseSandboxArgs(argv)).toThrow(message);
  });

  it('prints usage for --help without starting', async () => {
    const lines: string[] = [];
    await runSandboxCommand(['--help'], { out: (l) => lines.push(l) });
    expect(lines.join('\n')).toContain('--users-per-organisation <n>');
  });
});
