/**
 * A/B: xero-scim built from two trees, serving the same synced directory, server processes of each build taking
 * turns (A then B, then B then A, …) so drift in the machine's load favours neither, CPU per request from /proc. For a
 * change whose effect is smaller than the spread between full `npm run bench` runs. Not part of `npm run bench`:
 *
 *   git stash && npx tsc -p bench/tsconfig.json && rm -rf bench/results/baseline \
 *     && cp -r bench/results/build bench/results/baseline && git stash pop      # A: the tree without the change
 *   npx tsc -p bench/tsconfig.json                                              # B: the tree with it
 *   node bench/results/build/bench/ab.js bench/results/baseline [users] [rounds] [workloads]
 *
 * Defaults: 100,000 users, 3 rounds, workloads a,c. Each round starts one server of each build (the product's app on
 * the product's listener, with the V8 flags), warms each workload for 2 s and times it for 4 s; the medians of the
 * rounds are printed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { argueFromCorpus, cpuLoad, type CpuLoad } from './cpu-load';
import { dataFor } from './dataset';
import type { WorkloadName } from './driver/driver-process';
import { Child } from './ipc';
import type { SandboxInfo } from './servers/sandbox-process';
import { V8_FLAGS } from '../src/runtime';

const TOKEN = 'bench-token-ab';
const PUBLIC_URL = 'https://scim.bench.invalid';
const WORKLOADS: readonly WorkloadName[] = ['a', 'b', 'c', 'd'];

const median = (values: readonly number[]): number => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;

async function main(): Promise<void> {
  const [baseline, usersArg, roundsArg, workloadsArg] = process.argv.slice(2);
  if (!baseline) throw new Error('usage: ab.js <baseline build directory> [users] [rounds] [workloads]');
  const builds = { A: path.resolve(baseline), B: path.resolve(__dirname, '..') };
  const users = Number(usersArg ?? 100_000);
  const rounds = Number(roundsArg ?? 3);
  const workloads = (workloadsArg ?? 'a,c').split(',') as WorkloadName[];
  const unknown = workloads.filter((w) => !WORKLOADS.includes(w));
  if (!Number.isInteger(users) || users < 1 || !Number.isInteger(rounds) || rounds < 1 || unknown.length > 0) {
    throw new Error(`users and rounds must be positive integers, workloads among a,b,c,d (got ${unknown.join(',') || 'bad numbers'})`);
  }

  const work = mkdtempSync(path.join(os.tmpdir(), 'xero-scim-ab-'));
  const corpusDir = path.join(work, 'corpus');
  const driver = await Child.start('driver', { script: 'driver/driver-process.js', input: {} });
  const sandbox = await Child.start<SandboxInfo>('sandbox', { script: 'servers/sandbox-process.js', input: { data: dataFor(users) } });
  const figures: Record<'A' | 'B', Map<WorkloadName, CpuLoad[]>> = { A: new Map(), B: new Map() };
  try {
    for (let round = 0; round < rounds; round++) {
      for (const which of round % 2 === 0 ? (['A', 'B'] as const) : (['B', 'A'] as const)) {
        const refreshToken = await sandbox.call<string>('refreshToken');
        const script = path.relative(__dirname, path.join(builds[which], 'bench/servers/xero-scim-process.js'));
        const server = await Child.start<{ url: string }>(which, {
          script,
          input: {
            variant: 'full',
            listener: 'product',
            sandbox: { ...sandbox.info, refreshToken },
            token: TOKEN,
            publicUrl: PUBLIC_URL,
            stateDir: path.join(work, `${which}${round}`),
            corpusDir,
          },
          execArgv: [...V8_FLAGS, '--expose-gc'],
        });
        try {
          if (round === 0 && which === 'A') {
            await argueFromCorpus(driver, corpusDir);
          }
          for (const workload of workloads) {
            await cpuLoad(driver, server, TOKEN, workload, 2);
            const timed = await cpuLoad(driver, server, TOKEN, workload, 4);
            const runs = figures[which].get(workload) ?? [];
            figures[which].set(workload, [...runs, timed]);
            console.log(`round ${round + 1} ${which} (${workload}): ${Math.round(timed.rps)} req/s, ${timed.micros.toFixed(1)} µs CPU/req`);
          }
        } finally {
          await server.stop();
        }
      }
    }
  } finally {
    await sandbox.stop();
    await driver.stop();
    rmSync(work, { recursive: true, force: true });
  }
  const rows = workloads.map((workload) => {
    const [a, b] = (['A', 'B'] as const).map((which) => {
      const runs = figures[which].get(workload)!;
      return { micros: median(runs.map((r) => r.micros)), rps: median(runs.map((r) => r.rps)) };
    });
    return `| (${workload}) | ${a!.micros.toFixed(1)} µs, ${Math.round(a!.rps)} req/s | ${b!.micros.toFixed(1)} µs, ${Math.round(b!.rps)} req/s | ${(b!.micros / a!.micros).toFixed(2)} |`;
  });
  console.log(
    `\n${users} users, ${rounds} rounds, medians; A: ${builds.A}, B: ${builds.B}\n| workload | A | B | B ÷ A, CPU per request |\n|---|---|---|---|\n${rows.join('\n')}`,
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
