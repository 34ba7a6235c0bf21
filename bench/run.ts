/**
 * `npm run bench`: the serving benchmark at each size (xero-scim vs the Express and node:http floors vs SCIMMY) and the sync
 * benchmark against the sandbox, in one run on one machine (and, when BENCH_PARTS names them, the replicas and scale
 * benchmarks). Prints tables and writes bench/results/<run>.json
 * (and latest.json). `npm run bench -- --report <file.json> [...]` prints the tables of a saved run again; it
 * refuses to put figures of different runs side by side.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Child } from './ipc';
import { benchOptions } from './options';
import { loadAverage } from './proc';
import { renderReport, sameRun, type BenchResults } from './report';
import { runServing } from './serve';
import { runReplicas } from './replicas/run-replicas';
import { runScale } from './scale/run-scale';
import { runSync } from './sync/run-sync';

const RESULTS_DIR = path.resolve(__dirname, '..', '..', '..', 'results');

async function main(argv: readonly string[]): Promise<number> {
  if (argv[0] === '--report') return reprint(argv.slice(1));
  const options = benchOptions();
  const runId = `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(3).toString('hex')}`;
  const runDir = path.join(RESULTS_DIR, runId);
  mkdirSync(runDir, { recursive: true });
  const load = loadAverage();
  console.log(`xero-scim benchmark ${runId} — ${os.cpus().length} CPUs, load average ${load.toFixed(2)}${load >= 1 ? ' (busy machine: figures will be noisy)' : ''}`);
  const results: BenchResults = {
    runId,
    startedAt: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
      loadAverageAtStart: load,
    },
    options: { ...options, parts: [...options.parts], servers: [...options.servers], workloads: [...options.workloads] },
    serving: [],
    sync: undefined,
    replicas: undefined,
    scale: undefined,
  };
  const save = () => {
    const text = `${JSON.stringify(results, null, 2)}\n`;
    writeFileSync(path.join(RESULTS_DIR, `${runId}.json`), text);
    writeFileSync(path.join(RESULTS_DIR, 'latest.json'), text);
  };

  if (options.parts.has('serve')) {
    const driver = await Child.start('driver', { script: 'driver/driver-process.js', input: {} });
    try {
      for (const users of options.sizes) {
        results.serving.push(await runServing(users, options, runDir, driver));
        save();
      }
    } finally {
      await driver.stop();
    }
  }
  if (options.parts.has('sync')) {
    results.sync = await runSync(options, runDir);
    save();
  }
  if (options.parts.has('replicas')) {
    results.replicas = await runReplicas(options);
    save();
  }
  if (options.parts.has('scale')) {
    results.scale = await runScale(options);
    save();
  }
  results.finishedAt = new Date().toISOString();
  results.machine.loadAverageAtEnd = loadAverage();
  save();
  console.log(renderReport(results));
  console.log(`\nResults: ${path.relative(process.cwd(), path.join(RESULTS_DIR, `${runId}.json`))}`);
  return 0;
}

function reprint(files: readonly string[]): number {
  if (files.length === 0) throw new Error('--report needs one or more result files');
  try {
    console.log(renderReport(sameRun(files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as BenchResults))));
    return 0;
  } catch (error) {
    console.error((error as Error).message);
    return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
