/**
 * `xero-scim serve --demo` as a newcomer sees it in a terminal: the banner first, the JSON logs after it, and an
 * address that says the truth: loopback only by default, every interface only when HOST asks for it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { CLI, ensureBuilt } from '../reliability/support';

beforeAll(ensureBuilt, 120_000);

/** An address of this machine other than 127.0.0.1: what another machine would connect to. */
function otherAddress(): string {
  const external = Object.values(networkInterfaces())
    .flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal);
  // Linux routes all of 127.0.0.0/8 to loopback: 127.0.0.2 reaches a socket bound to 0.0.0.0 but not 127.0.0.1.
  return external?.address ?? '127.0.0.2';
}

function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(5_000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

interface Demo {
  child: ChildProcess;
  /** Everything written to stdout so far. */
  stdout(): string;
  /** Resolves once `pattern` appears on stdout. */
  waitFor(pattern: RegExp): Promise<RegExpMatchArray>;
  stop(): Promise<number | null>;
}

function startDemo(env: Record<string, string>): Demo {
  const { HOST: _host, PORT: _port, ...inherited } = process.env;
  const child = spawn(process.execPath, [CLI, 'serve', '--demo'], { env: { ...inherited, PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => (stdout += String(chunk)));
  child.stderr!.on('data', (chunk) => (stderr += String(chunk)));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return {
    child,
    stdout: () => stdout,
    waitFor: (pattern) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${pattern} within 30 s:\n${stdout}\n${stderr}`)), 30_000);
        const check = () => {
          const match = pattern.exec(stdout);
          if (match) {
            clearTimeout(timer);
            child.stdout!.off('data', check);
            resolve(match);
          }
        };
        child.stdout!.on('data', check);
        void exited.then((code) => reject(new Error(`the demo exited (${code}):\n${stdout}\n${stderr}`)));
        check();
      }),
    stop: () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

describe('npm run demo (xero-scim serve --demo)', () => {
  jest.setTimeout(60_000);

  it('prints its banner before any log line, then the logs, and listens on loopback only by default', async () => {
    const demo = startDemo({});
    try {
      const [, url] = await demo.waitFor(/SCIM 2\.0 on (http:\/\/\S+)\/scim\/v2/);
      const port = Number(new URL(url!).port);
      await demo.waitFor(/"msg":"xero-scim listening"/);
      const lines = demo.stdout().split('\n');
      const firstLog = lines.findIndex((line) => line.startsWith('{'));
      const statusLine = lines.findIndex((line) => line.startsWith('Status page: '));
      expect(lines.find((line) => line.trim() !== '')).toMatch(/^xero-scim demo: SCIM 2\.0 on http:\/\/127\.0\.0\.1:\d+\/scim\/v2/);
      expect(statusLine).toBeGreaterThan(0);
      expect(firstLog).toBeGreaterThan(statusLine);
      expect(lines[firstLog - 1]).toBe('Logs follow, as JSON lines (LOG_LEVEL=warn for fewer):');
      // Every log line of the start (the first sync included) is there, after the banner, as JSON.
      const logs = lines.slice(firstLog).filter(Boolean).map((line) => JSON.parse(line) as { msg: string });
      expect(logs.map((l) => l.msg)).toEqual(expect.arrayContaining(['sync finished', 'xero-scim listening']));

      expect(demo.stdout()).toContain(`Listening on 127.0.0.1:${port}: this machine only (HOST=0.0.0.0 opens it to the network).`);
      expect(await reachable('127.0.0.1', port)).toBe(true);
      expect(await reachable(otherAddress(), port)).toBe(false);

      // The status page charts the syncs the server ran: here the first one, for each demo organisation.
      const [, token] = await demo.waitFor(/Bearer token: (\S+)/);
      const status = await fetch(`${url}/`, { headers: { Authorization: `Basic ${Buffer.from(`demo:${token}`).toString('base64')}` } });
      const html = await status.text();
      expect(html.match(/<figure data-organisation=/g)).toHaveLength(3);
      expect(html.match(/<figcaption><strong>[^<]+<\/strong><br>1 sync · \d+ users now/g)).toHaveLength(3);
    } finally {
      expect(await demo.stop()).toBe(0);
    }
  });

  it('listens on every interface when HOST=0.0.0.0, and says so', async () => {
    const demo = startDemo({ HOST: '0.0.0.0' });
    try {
      const [, url] = await demo.waitFor(/SCIM 2\.0 on (http:\/\/\S+)\/scim\/v2/);
      const port = Number(new URL(url!).port);
      await demo.waitFor(/^Logs follow/m); // the whole banner
      // The printed commands still use 127.0.0.1: they are run on this machine.
      expect(url).toBe(`http://127.0.0.1:${port}`);
      expect(demo.stdout()).toContain(`Listening on 0.0.0.0:${port}: every network interface, so other machines can reach it too.`);
      expect(await reachable(otherAddress(), port)).toBe(true);
      // The log line says where it listens, too.
      const [listening] = await demo.waitFor(/\{[^\n]*"msg":"xero-scim listening"\}/);
      expect(JSON.parse(listening!)).toMatchObject({ url: `http://127.0.0.1:${port}`, address: `0.0.0.0:${port}` });
    } finally {
      expect(await demo.stop()).toBe(0);
    }
  });
});
