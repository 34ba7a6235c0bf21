/**
 * What each layer of xero-scim's HTTP stack costs per request: the same synced directory served by the product's
 * `createApp` and by variants that leave layers out (see `AppVariant`), against the floor, on workloads (a) and (c).
 * Not part of `npm run bench`; run it when a serving target is missed:
 *
 *   npx tsc -p bench/tsconfig.json && node bench/results/build/bench/ablation.js [users]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dataFor } from './dataset';
import { argueFromCorpus, cpuLoad } from './cpu-load';
import type { WorkloadName } from './driver/driver-process';
import { Child } from './ipc';
import type { SandboxInfo } from './servers/sandbox-process';
import type { AppVariant } from './servers/xero-scim-process';
import { V8_FLAGS } from '../src/runtime';

const TOKEN = 'bench-token-ablation';
const PUBLIC_URL = 'https://scim.bench.invalid';
/**
 * xero-scim's app variants on the product's listener (`full` is the product), `full` on a plain `http.createServer`,
 * and the floor both as in `npm run bench` (plain) and on a server that builds requests with Express's prototypes.
 */
type Variant = { name: string; app: AppVariant; listener: 'product' | 'plain' } | { name: string; floor: 'plain' | 'prototypes'; sameHead?: boolean };
const VARIANTS: readonly Variant[] = [
  { name: 'full', app: 'full', listener: 'product' },
  { name: 'full, plain listener', app: 'full', listener: 'plain' },
  { name: 'no-headers', app: 'no-headers', listener: 'product' },
  { name: 'no-headers-no-log', app: 'no-headers-no-log', listener: 'product' },
  { name: 'router-only', app: 'router-only', listener: 'product' },
  { name: 'floor', floor: 'plain' },
  { name: 'floor, requests built with prototypes', floor: 'prototypes' },
  { name: "floor, with xero-scim's head fields", floor: 'plain', sameHead: true },
];
const WORKLOADS: readonly WorkloadName[] = ['a', 'c'];

async function main(): Promise<void> {
  const users = Number(process.argv[2] ?? 10_000);
  const work = mkdtempSync(path.join(os.tmpdir(), 'xero-scim-ablation-'));
  const corpusDir = path.join(work, 'corpus');
  const driver = await Child.start('driver', { script: 'driver/driver-process.js', input: {} });
  const sandbox = await Child.start<SandboxInfo>('sandbox', { script: 'servers/sandbox-process.js', input: { data: dataFor(users) } });
  const rows: string[] = [];
  try {
    for (const variant of VARIANTS) {
      const refreshToken = await sandbox.call<string>('refreshToken');
      const server =
        'floor' in variant
          ? await Child.start<{ url: string }>('floor', { script: 'servers/floor-process.js', input: { corpusDir, token: TOKEN, listener: variant.floor, sameHead: variant.sameHead === true } })
          : await Child.start<{ url: string }>(variant.app, {
              script: 'servers/xero-scim-process.js',
              input: {
                variant: variant.app,
                listener: variant.listener,
                sandbox: { ...sandbox.info, refreshToken },
                token: TOKEN,
                publicUrl: PUBLIC_URL,
                stateDir: path.join(work, variant.name.replace(/\W+/g, '-')),
                corpusDir,
              },
              execArgv: [...V8_FLAGS, '--expose-gc'],
            });
      if (variant === VARIANTS[0]) {
        await argueFromCorpus(driver, corpusDir);
      }
      const cells: string[] = [];
      for (const workload of WORKLOADS) {
        const run = (seconds: number) => cpuLoad(driver, server, TOKEN, workload, seconds);
        await run(2);
        const runs = [await run(4), await run(4)];
        cells.push(`${Math.round((runs[0]!.rps + runs[1]!.rps) / 2)} req/s, ${Math.round((runs[0]!.micros + runs[1]!.micros) / 2)} µs CPU/req`);
      }
      rows.push(`| ${variant.name} | ${cells.join(' | ')} |`);
      console.log(rows[rows.length - 1]);
      await server.stop();
    }
  } finally {
    await sandbox.stop();
    await driver.stop();
    rmSync(work, { recursive: true, force: true });
  }
  console.log(`\n${users} users\n| variant | (a) GET /Users/{id} | (c) userName eq |\n|---|---|---|\n${rows.join('\n')}`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
