/**
 * One real `xero-scim serve` process for the scale bench: the bench's build of src/cli.ts run with the V8 flags the
 * image passes (src/runtime.ts), its environment given in full (nothing inherited but PATH), on a port chosen
 * beforehand so it can be polled from the moment it is spawned. It leads a process group of its own, which is
 * killed whole on stop, on failure and when the bench itself exits or is interrupted, so no server outlives a run.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { freePort } from '../../test/support/free-port';
import path from 'node:path';
import { V8_FLAGS } from '../../src/runtime';

/** The bench's own build of the CLI (bench/tsconfig.json includes src/cli.ts). */
const CLI = path.resolve(__dirname, '..', '..', 'src', 'cli.js');
/** What is kept of the server's output for error messages (the rest is read and dropped, so the pipe never fills). */
const OUTPUT_TAIL = 16_384;

const running = new Set<ServeProcess>();
let exitHook = false;


export class ServeProcess {
  private output = '';

  private constructor(
    readonly name: string,
    readonly url: string,
    private readonly child: ChildProcess,
  ) {}

  /** Spawns `xero-scim serve` with exactly `env` (PORT and HOST set here); answers at once, before it listens. */
  static async spawn(name: string, env: NodeJS.ProcessEnv): Promise<ServeProcess> {
    const port = await freePort();
    const child = spawn(process.execPath, [...V8_FLAGS, CLI, 'serve'], {
      env: { PATH: process.env.PATH, ...env, HOST: '127.0.0.1', PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const serve = new ServeProcess(name, `http://127.0.0.1:${port}`, child);
    const keep = (data: Buffer) => {
      serve.output = (serve.output + String(data)).slice(-OUTPUT_TAIL);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    running.add(serve);
    child.once('exit', () => running.delete(serve));
    if (!exitHook) {
      exitHook = true;
      const killAll = () => {
        for (const s of running) s.signalGroup('SIGKILL');
      };
      process.once('exit', killAll);
      // A group of its own does not get the terminal's Ctrl+C, and Node runs no 'exit' handler on a signal.
      for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
        process.once(signal, () => {
          killAll();
          process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1));
        });
      }
    }
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    return serve;
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The end of what the server printed, for error messages (its log never holds a token or an e-mail by default). */
  tail(chars = 4_000): string {
    return this.output.slice(-chars);
  }

  /** Throws, with the server's last output, when it has exited. */
  assertAlive(step: string): void {
    if (!this.alive) throw new Error(`${this.name} exited (${this.child.exitCode ?? this.child.signalCode}) during ${step}; its last output:\n${this.tail()}`);
  }

  /** SIGTERM (a graceful stop: requests finished, the sync loop ended); SIGKILL to the group after `graceMs`. */
  async stop(graceMs: number): Promise<{ graceful: boolean }> {
    if (!this.alive) return { graceful: true };
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)));
    const outcome = await Promise.race([exited.then(() => 'exited' as const), late]);
    clearTimeout(timer);
    if (outcome === 'exited') return { graceful: true };
    await this.kill();
    return { graceful: false };
  }

  /** SIGKILL to the whole process group; resolves once the server has exited. */
  async kill(): Promise<void> {
    if (!this.alive) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.signalGroup('SIGKILL');
    await exited;
  }

  private signalGroup(signal: NodeJS.Signals): void {
    try {
      process.kill(-this.pid, signal);
    } catch {
      // Already gone.
    }
  }
}
