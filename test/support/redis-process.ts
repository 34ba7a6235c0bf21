/**
 * A real `redis-server` (Debian's package) on a free loopback port with a temporary directory, stopped by PID: what
 * the tests that need Redis start (`redis-server.ts` adds the jest side), and what the replicas benchmark starts.
 * REDIS_SERVER_BIN overrides the binary.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './free-port';

export const REDIS_SERVER = process.env.REDIS_SERVER_BIN ?? 'redis-server';

export interface RedisServerOptions {
  /** `appendonly yes`; default true. */
  readonly appendOnly?: boolean;
  /** `appendfsync`: `always` by default (nothing lost on a kill); `everysec` as a deployment runs it. */
  readonly appendFsync?: 'always' | 'everysec';
  /** `requirepass`. */
  readonly password?: string;
  /** Extra `--name value` arguments. */
  readonly args?: readonly string[];
}

export class RedisServer {
  readonly dir: string;
  private child: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    private readonly options: RedisServerOptions,
  ) {
    this.dir = mkdtempSync(path.join(tmpdir(), 'xero-scim-redis-'));
  }

  /** Starts one on a free port; `await server.stop()` (or `destroy()`) when done. */
  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const server = new RedisServer(await freePort(), options);
    await server.restart();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts it again on the same port and directory (after `kill` or `stop`): what it kept on disk is loaded. */
  async restart(options: RedisServerOptions = this.options): Promise<void> {
    if (this.child) throw new Error('redis-server is already running');
    const args = [
      '--port', String(this.port),
      '--bind', '127.0.0.1',
      '--dir', this.dir,
      '--save', '',
      '--appendonly', options.appendOnly === false ? 'no' : 'yes',
      '--appendfsync', options.appendFsync ?? 'always',
      '--maxmemory-policy', 'noeviction',
      ...(options.password ? ['--requirepass', options.password] : []),
      ...(options.args ?? []),
    ];
    // Its own process group: a background AOF rewrite is a forked child, and a signal to the group reaches it too.
    const child = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    this.child = child;
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += String(chunk)));
    child.once('exit', () => {
      if (this.child === child) this.child = undefined;
    });
    const deadline = Date.now() + 10_000;
    while (!(await this.answersPing())) {
      if (!this.child) throw new Error(`redis-server exited at start: ${stderr}`);
      if (Date.now() > deadline) throw new Error(`redis-server did not answer on port ${this.port} within 10 s: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /** SIGKILL: gone at once, with whatever it had not written. */
  async kill(): Promise<void> {
    await this.signalAndWait('SIGKILL');
  }

  /** SIGTERM: a clean shutdown. */
  async stop(): Promise<void> {
    await this.signalAndWait('SIGTERM');
  }

  /** Pauses (SIGSTOP) or resumes (SIGCONT) the process. */
  pause(): void {
    this.signalGroup('SIGSTOP');
  }

  resume(): void {
    this.signalGroup('SIGCONT');
  }

  /** Stops it and removes its directory. */
  async destroy(): Promise<void> {
    this.resume();
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true, maxRetries: 20, retryDelay: 50 });
  }

  /** One command through a raw socket (`command(FLUSHALL)`): its first reply line, raw RESP. For simple replies. */
  async command(...parts: string[]): Promise<string> {
    const auth = this.options.password ? [['AUTH', this.options.password]] : [];
    const encode = (words: readonly string[]) => `*${words.length}\r\n${words.map((w) => `$${Buffer.byteLength(w)}\r\n${w}\r\n`).join('')}`;
    return new Promise((resolve, reject) => {
      const socket = connect(this.port, '127.0.0.1', () => socket.write([...auth, parts].map(encode).join('')));
      let reply = '';
      socket.on('data', (chunk) => {
        reply += String(chunk);
        const lines = reply.split('\r\n').filter(Boolean);
        if (lines.length > auth.length) socket.end();
      });
      socket.on('close', () => resolve(reply.split('\r\n').slice(auth.length).join('\r\n')));
      socket.on('error', reject);
    });
  }

  /** Signals the whole process group (the server and any AOF-rewrite child), and waits until every one has exited. */
  private async signalAndWait(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child?.pid) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    this.signalGroup(signal);
    await exited;
    const deadline = Date.now() + 10_000;
    while (groupAlive(child.pid) && Date.now() < deadline) {
      if (signal === 'SIGKILL') this.signalGroup('SIGKILL', child.pid);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  private signalGroup(signal: NodeJS.Signals, pid = this.child?.pid): void {
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // the group is gone already
    }
  }

  private async answersPing(): Promise<boolean> {
    try {
      const reply = await this.command('PING');
      return reply.includes('PONG') || reply.includes('NOAUTH');
    } catch {
      return false;
    }
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}
