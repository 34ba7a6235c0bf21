/**
 * What the reliability campaigns share: their size (short in `npm test`, long under `npm run test:soak`), a seeded
 * random source so a failing campaign can be replayed, each campaign's figures, and a captured logger.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/log';

/** `SOAK=1` (npm run test:soak) runs the long campaigns. */
export const SOAK = process.env.SOAK === '1';

/** The short campaign's size in `npm test`, the long one's under SOAK. */
export function size(short: number, soak: number): number {
  return SOAK ? soak : short;
}

/**
 * The campaign seed: fixed in `npm test` (a red CI run replays exactly), fresh under SOAK (more ground covered);
 * `RELIABILITY_SEED` replays either.
 */
export function campaignSeed(fixed: number): number {
  const given = process.env.RELIABILITY_SEED;
  if (given !== undefined && given !== '') return Number(given) >>> 0;
  return SOAK ? (SOAK_BASE + fixed) >>> 0 : fixed;
}

/** One fresh base per soak process, so every seed a campaign derives from it is printed and replayable. */
const SOAK_BASE = (Date.now() ^ (process.pid << 8)) >>> 0;

/** mulberry32: small, fast, and good enough to pick faults and mutations reproducibly. */
export class Dice {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from nothing');
    return items[Math.floor(this.next() * items.length)]!;
  }
}

/** Runs a campaign step; a failure names the seed (and step) so `RELIABILITY_SEED=<seed>` replays it. */
export async function replayable<T>(seed: number, step: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof Error) err.message = `[replay with RELIABILITY_SEED=${seed}; failed at ${step}]\n${err.message}`;
    throw err;
  }
}

/**
 * Prints a campaign's figures and, with `RELIABILITY_FIGURES=<file>`, appends them as one JSON line (the soak run
 * collects them in test-artifacts/reliability-soak.jsonl).
 */
export function reportFigures(campaign: string, figures: Record<string, unknown>): void {
  const line = JSON.stringify({ campaign, soak: SOAK, at: new Date().toISOString(), ...figures });
  process.stdout.write(`reliability figures: ${line}\n`);
  const file = process.env.RELIABILITY_FIGURES;
  if (file) {
    mkdirSync(path.dirname(file), { recursive: true });
    appendFileSync(file, `${line}\n`);
  }
}

/** A logger (the production one, with its redaction) whose every line is kept for scanning. */
export function capturedLogger(level = 'debug'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { logger: createLogger({ level, destination }), lines };
}

/** Polls until `check` holds, in real time (for real I/O: child processes, sockets). */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const ROOT = path.resolve(__dirname, '..', '..');
/** The built CLI, as an operator runs it. */
export const CLI = path.join(ROOT, 'dist', 'cli.js');

/** The newest modification time under a folder (to tell whether dist/ is older than src/). */
function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(full) : statSync(full).mtimeMs);
  }
  return latest;
}

/** Builds dist/ when it is missing or older than src/ (`npm test` builds first; `npx jest test/reliability` may not). */
export function ensureBuilt(): void {
  let built = 0;
  try {
    built = statSync(CLI).mtimeMs;
  } catch {
    // not built yet
  }
  if (built >= newest(path.join(ROOT, 'src'))) return;
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
}
