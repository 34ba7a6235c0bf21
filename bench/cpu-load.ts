/** Loading a server process from the bench: the driver's arguments from a corpus, and one timed load with its CPU per request (from /proc). */
import { readCorpus } from './corpus';
import type { LoadArguments, LoadRequest, LoadResult, WorkloadName } from './driver/driver-process';
import type { Child } from './ipc';
import { cpuMs, waitIdle } from './proc';

export interface CpuLoad {
  readonly rps: number;
  /** Server CPU (user + system) per answered request, µs. */
  readonly micros: number;
}

/** Runs `workload` for `seconds` with 32 connections once the server is idle. */
export async function cpuLoad(driver: Child, server: Child<{ url: string }>, token: string, workload: WorkloadName, seconds: number): Promise<CpuLoad> {
  await waitIdle(server.pid, 10_000);
  const before = cpuMs(server.pid);
  const result = await driver.call<LoadResult>('load', {
    url: server.info.url,
    token,
    workload,
    connections: 32,
    durationSeconds: seconds,
    timeoutSeconds: 60,
  } satisfies LoadRequest);
  if (result.non2xx > 0) throw new Error(`${server.name}: ${result.non2xx} answers were not 2xx under workload ${workload}`);
  return { rps: result.requestsPerSecond, micros: ((cpuMs(server.pid) - before) * 1000) / result.requests };
}

/** Gives the load driver every user of the corpus in `corpusDir` to draw its random ids and userNames from. */
export async function argueFromCorpus(driver: Child, corpusDir: string): Promise<void> {
  const users = readCorpus(corpusDir).users.map((text) => JSON.parse(text) as { id: string; userName: string });
  const ids = users.map((user) => user.id);
  await driver.call('setArguments', { ids, userNames: users.map((user) => user.userName), totalUsers: ids.length } satisfies LoadArguments);
}
