/** One timed load against a server process: its requests a second and the CPU it spent per request (from /proc). */
import type { LoadRequest, LoadResult, WorkloadName } from './driver/driver-process';
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
