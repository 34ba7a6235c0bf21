/**
 * V8 settings for the server process, given on Node's command line: the image's ENTRYPOINT carries them, and
 * `xero-scim serve` started without them (`node dist/cli.js serve`, `npm start`) runs itself again with them, so
 * V8 has them from its first allocation. Changing V8 flags in a running process (`v8.setFlagsFromString`) is what
 * Node's documentation calls undefined behaviour, and `NODE_OPTIONS` does not accept these flags.
 *
 * Allocation-site pretenuring is off: a snapshot build, whose objects all survive, teaches V8 to allocate some sites
 * straight into the old generation, and the per-request garbage from those sites then waits for a major collection
 * while the heap climbs. Figures: BENCHMARKS.md, "Allocation-site pretenuring off".
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';

export const V8_FLAGS = ['--no-allocation-site-pretenuring'] as const;

/** The flags of `V8_FLAGS` a process started with `execArgv` lacks. */
export function missingV8Flags(execArgv: readonly string[] = process.execArgv): string[] {
  return V8_FLAGS.filter((flag) => !execArgv.includes(flag));
}

/** Signals passed on to the child: what Kubernetes, a supervisor, a terminal or `kill` send to stop a server. */
const FORWARDED = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

/**
 * Runs `script` with `args` again in a child Node with this process's flags and `V8_FLAGS`, with the same
 * environment and standard streams, and resolves with its exit code (128 + the signal's number if a signal ended
 * it). The child has a process group of its own, so a terminal's Ctrl+C reaches it once, through this process,
 * which passes on every signal it receives; an IPC channel tells it when this process is gone, even by SIGKILL
 * (`stopWithParent`).
 */
export function runWithV8Flags(script: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const child = spawn(process.execPath, [...process.execArgv, ...missingV8Flags(), script, ...args], {
    env,
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    detached: true,
  });
  const forward = (signal: NodeJS.Signals) => () => void child.kill(signal);
  const handlers = FORWARDED.map((signal) => [signal, forward(signal)] as const);
  for (const [signal, handler] of handlers) process.on(signal, handler);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      for (const [name, handler] of handlers) process.off(name, handler);
      resolve(code ?? 128 + (signal ? constants.signals[signal] : 0));
    });
  });
}

/**
 * In a process started by `runWithV8Flags`: when the parent is gone (its IPC channel closes), stop as on SIGTERM,
 * so no server outlives the process its supervisor knows. The channel does not keep this process alive.
 */
export function stopWithParent(): void {
  if (!process.channel) return;
  process.channel.unref();
  process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
}
