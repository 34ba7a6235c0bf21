/**
 * Every benchmark piece (sandbox, the three servers, the load driver, the sync client) runs in a process of its
 * own, forked with an IPC channel. The child announces `ready` with what the parent needs (its URL, load figures);
 * the parent then calls named methods on it and awaits the answers. Nothing here touches the network.
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';

type Handlers = Record<string, (args: never) => unknown>;

interface CallMessage {
  type: 'call';
  id: number;
  method: string;
  args: unknown;
}
type ParentMessage = { type: 'ready'; info: unknown } | { type: 'reply'; id: number; result?: unknown; error?: string } | { type: 'fatal'; error: string };

/** In a child: answer the parent's calls, and tell it when ready. Exits when the parent goes away. */
export function serveParent(handlers: Handlers): { ready(info: unknown): void } {
  if (!process.send) throw new Error('this script is started by bench/run (it needs an IPC channel)');
  process.on('message', (message: CallMessage) => {
    if (message?.type !== 'call') return;
    const handler = handlers[message.method] as ((args: unknown) => unknown) | undefined;
    Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`no method ${message.method}`);
        return handler(message.args);
      })
      .then(
        (result) => process.send!({ type: 'reply', id: message.id, result }),
        (error: unknown) => process.send!({ type: 'reply', id: message.id, error: describe(error) }),
      );
  });
  process.on('disconnect', () => process.exit(0));
  return { ready: (info) => process.send!({ type: 'ready', info }) };
}

/** In a child: report a start-up failure to the parent and exit. */
export function failStartup(error: unknown): never {
  process.send?.({ type: 'fatal', error: describe(error) });
  console.error(error);
  process.exit(1);
}

function describe(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

export interface StartOptions {
  /** Script path relative to this directory (compiled: bench/results/build/bench). */
  script: string;
  /** Passed to the child as JSON in argv[2]. */
  input: unknown;
  /** Node flags, e.g. `--expose-gc`, `--cpu-prof`. */
  execArgv?: string[];
  /** Give up waiting for `ready` after this long. */
  readyTimeoutMs?: number;
  /** Working directory (where `--cpu-prof` writes its profile). */
  cwd?: string;
}

/** A child process started by the benchmark. */
export class Child<Info = unknown> {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  private exited = false;

  private constructor(
    readonly name: string,
    readonly process: ChildProcess,
    public info: Info,
  ) {}

  get pid(): number {
    return this.process.pid!;
  }

  static start<Info>(name: string, options: StartOptions): Promise<Child<Info>> {
    const child = fork(path.join(__dirname, options.script), [JSON.stringify(options.input)], {
      execArgv: [...(options.execArgv ?? []), ...(process.env.BENCH_TRACE_GC === '1' ? ['--trace-gc'] : [])],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      ...(options.cwd ? { cwd: options.cwd } : {}),
    });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${name} was not ready within ${options.readyTimeoutMs ?? 600_000} ms`));
      }, options.readyTimeoutMs ?? 600_000);
      let handle: Child<Info> | undefined;
      child.on('message', (message: ParentMessage) => {
        if (message.type === 'ready') {
          clearTimeout(timer);
          handle = new Child<Info>(name, child, message.info as Info);
          resolve(handle);
        } else if (message.type === 'fatal') {
          clearTimeout(timer);
          reject(new Error(`${name} failed to start: ${message.error}`));
        } else if (message.type === 'reply' && handle) {
          const waiter = handle.pending.get(message.id);
          handle.pending.delete(message.id);
          if (!waiter) return;
          if (message.error !== undefined) waiter.reject(new Error(`${name}: ${message.error}`));
          else waiter.resolve(message.result);
        }
      });
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        if (handle) {
          handle.exited = true;
          for (const waiter of handle.pending.values()) waiter.reject(new Error(`${name} exited (${code ?? signal})`));
          handle.pending.clear();
        } else reject(new Error(`${name} exited before it was ready (${code ?? signal})`));
      });
    });
  }

  call<T>(method: string, args: unknown = {}): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${this.name} has exited`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.process.send({ type: 'call', id, method, args } satisfies CallMessage);
    });
  }

  /** Disconnects (the child exits on its own), then SIGTERM, then SIGKILL; resolves when it has exited. */
  stop(timeoutMs = 10_000): Promise<void> {
    if (this.exited || this.process.exitCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const killer = setTimeout(() => this.process.kill('SIGKILL'), timeoutMs);
      this.process.once('exit', () => {
        clearTimeout(killer);
        resolve();
      });
      if (this.process.connected) this.process.disconnect();
      else this.process.kill('SIGTERM');
    });
  }
}

/** The child's JSON input (argv[2]). */
export function childInput<T>(): T {
  const raw = process.argv[2];
  if (!raw) failStartup(new Error('missing JSON input argument'));
  return JSON.parse(raw) as T;
}
