/**
 * Measures STATE_DIR's directory file: loading format 2 (`directory.state`) against format 1 (`directory.json`)
 * in fresh processes, and a replica publish and adopt (gzipped JSON against format 2) in this one.
 *
 *     npx tsc -p bench/tsconfig.json && node bench/results/build/bench/state-file.js [organisations...]
 *
 * For each size (default 1,000 and 10,000 organisations of 107 users, seed 7: about 100,000 and 1,000,000
 * memberships) it generates the sandbox data, converts it to `TenantData` as the sync does, saves it in both formats
 * in a temporary STATE_DIR, then starts one process per format (with the server's V8 flags) that loads the file
 * through `FileSnapshotStore` and reports the time (read, decode, validate) and its RSS before and after. Each load
 * runs three times; the median is printed.
 */
import { spawnSync } from 'node:child_process';
import { promises as fs, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { FileSnapshotStore, type PersistedDirectory, parseOwnPersisted } from '../src/directory/persistence';
import { decodeStateFile, encodeStateFile } from '../src/directory/state-file';
import { DIRECTORY_FILE, LEGACY_DIRECTORY_FILE } from '../src/files/state-dir';
import { writeFileDurably } from '../src/files/durable-file';
import { V8_FLAGS } from '../src/runtime';
import { generateData } from '../src/sandbox';
import { persistedFrom } from '../test/support/persisted-directory';

const USERS_PER_ORGANISATION = 107;
const RUNS = 3;
const MB = 1024 * 1024;

interface LoadFigures {
  readonly ms: number;
  /** CPU time of the load (user + system, GC helper threads included): steadier than `ms` on a shared machine. */
  readonly cpuMs: number;
  readonly rssBeforeMb: number;
  readonly rssAfterMb: number;
  readonly maxRssMb: number;
  readonly memberships: number;
}

const elapsed = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e6;
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** In the child: load STATE_DIR's file and report. */
async function loadChild(stateDir: string): Promise<void> {
  const rssBefore = process.memoryUsage().rss;
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  const state = await new FileSnapshotStore(stateDir).load();
  const ms = elapsed(start);
  const used = process.cpuUsage(cpu);
  const memberships = state!.tenants.reduce((n, t) => n + t.users.length, 0);
  const figures: LoadFigures = {
    ms,
    cpuMs: (used.user + used.system) / 1000,
    rssBeforeMb: rssBefore / MB,
    rssAfterMb: process.memoryUsage().rss / MB,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
    memberships,
  };
  process.stdout.write(JSON.stringify(figures));
}

function loadInChild(stateDir: string): LoadFigures {
  const child = spawnSync(process.execPath, [...V8_FLAGS, __filename, 'load', stateDir], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (child.status !== 0) throw new Error(`load failed: ${child.stderr}`);
  return JSON.parse(child.stdout) as LoadFigures;
}

function medianLoad(stateDir: string): LoadFigures {
  const runs = Array.from({ length: RUNS }, () => loadInChild(stateDir));
  const ms = median(runs.map((r) => r.ms));
  return runs.find((r) => r.ms === ms)!;
}

async function timed<T>(work: () => T | Promise<T>): Promise<[T, number]> {
  const start = process.hrtime.bigint();
  const value = await work();
  return [value, elapsed(start)];
}

async function measure(organisations: number): Promise<void> {
  const state: PersistedDirectory = persistedFrom(generateData({ seed: 7, organisations, usersPerOrganisation: USERS_PER_ORGANISATION }));
  const memberships = state.tenants.reduce((n, t) => n + t.users.length, 0);
  const root = mkdtempSync(path.join(os.tmpdir(), 'xero-scim-state-bench-'));
  try {
    const v1Dir = path.join(root, 'v1');
    const v2Dir = path.join(root, 'v2');
    const [, saveV1Ms] = await timed(() => writeFileDurably(path.join(v1Dir, LEGACY_DIRECTORY_FILE), JSON.stringify(state)));
    const [, saveV2Ms] = await timed(() => new FileSnapshotStore(v2Dir).save(state));
    const v1Bytes = (await fs.stat(path.join(v1Dir, LEGACY_DIRECTORY_FILE))).size;
    const v2Bytes = (await fs.stat(path.join(v2Dir, DIRECTORY_FILE))).size;
    const v1 = medianLoad(v1Dir);
    const v2 = medianLoad(v2Dir);
    const publish = await measurePublish(state);
    const row = {
      organisations,
      memberships,
      format1: { fileMb: v1Bytes / MB, saveMs: saveV1Ms, ...v1 },
      format2: { fileMb: v2Bytes / MB, saveMs: saveV2Ms, ...v2 },
      loadRatio: v1.ms / v2.ms,
      loadCpuRatio: v1.cpuMs / v2.cpuMs,
      maxRssRatio: v1.maxRssMb / v2.maxRssMb,
      publish,
    };
    console.log(JSON.stringify(row, (_k, v: unknown) => (typeof v === 'number' && !Number.isInteger(v) ? Math.round(v * 100) / 100 : v), 2));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** A leader's publish (serialise + compress) and a follower's adopt (decompress + parse + outline check). */
async function measurePublish(state: PersistedDirectory): Promise<Record<string, number>> {
  const [jsonBody, jsonPublishMs] = await timed(() => gzipSync(JSON.stringify(state), { level: 1 }));
  const [, jsonAdoptMs] = await timed(() => parseOwnPersisted(JSON.parse(String(gunzipSync(jsonBody))), 'bench'));
  const [binary, binaryPublishMs] = await timed(() => encodeStateFile(state));
  const [, binaryAdoptMs] = await timed(() => decodeStateFile(binary, 'bench'));
  const [binaryGz, binaryGzPublishMs] = await timed(async () => gzipSync(await encodeStateFile(state), { level: 1 }));
  const [, binaryGzAdoptMs] = await timed(() => decodeStateFile(gunzipSync(binaryGz), 'bench'));
  return {
    jsonGzipMb: jsonBody.length / MB,
    jsonPublishMs,
    jsonAdoptMs,
    binaryMb: binary.length / MB,
    binaryPublishMs,
    binaryAdoptMs,
    binaryGzipMb: binaryGz.length / MB,
    binaryGzPublishMs,
    binaryGzAdoptMs,
  };
}

async function main(): Promise<void> {
  if (process.argv[2] === 'load') return loadChild(process.argv[3]!);
  const sizes = process.argv.slice(2).map(Number);
  for (const organisations of sizes.length ? sizes : [1_000, 10_000]) await measure(organisations);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
