/**
 * Where a server's CPU went, from a `node --cpu-prof` profile (BENCH_PROFILE=1): self time by function and by
 * module (our `src/` files one by one, each package as a whole, Node's internals together).
 *
 *   node bench/results/build/bench/profile-summary.js bench/results/<run>/profiles/xero-scim-100000.cpuprofile [top] [from-seconds]
 *
 * `from-seconds` leaves out the samples of the profile's first seconds (a server's load and render), so what
 * remains is the serving.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function moduleOf(url: string): string {
  if (url === '') return '(native / V8)';
  if (url.startsWith('node:')) return 'node: internals';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  const own = /\/(src|bench)\/(.*)$/.exec(url);
  return own ? `${own[1]}/${own[2]!.replace(/\.js$/, '')}` : url;
}

export function summarise(profile: Profile, top = 25, fromSeconds = 0): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let elapsed = 0;
  profile.samples.forEach((id, i) => {
    elapsed += profile.timeDeltas[i] ?? 0;
    if (elapsed >= fromSeconds * 1e6) self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const idle = [...self.entries()].filter(([id]) => ['(idle)', '(program)'].includes(byId.get(id)!.callFrame.functionName)).reduce((a, [, t]) => a + t, 0);
  const busy = total - idle;
  const byFunction = new Map<string, number>();
  const byModule = new Map<string, number>();
  for (const [id, time] of self) {
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === '(idle)' || frame.functionName === '(program)') continue;
    const mod = moduleOf(frame.url);
    const key = `${frame.functionName || '(anonymous)'}  ${mod}:${frame.lineNumber + 1}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + time);
    byModule.set(mod, (byModule.get(mod) ?? 0) + time);
  }
  // Inclusive time: a function is charged for every sample with it anywhere on the stack (once per sample).
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const inclusive = new Map<string, number>();
  for (const [id, time] of self) {
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)!.callFrame;
      const mod = moduleOf(frame.url);
      if (!/^(src|bench)\/|^(helmet|body-parser|router|express|pino)$/.test(mod)) continue;
      seen.add(`${frame.functionName || '(anonymous)'}  ${mod}:${frame.lineNumber + 1}`);
    }
    for (const key of seen) inclusive.set(key, (inclusive.get(key) ?? 0) + time);
  }
  const pct = (t: number) => `${((t / busy) * 100).toFixed(1).padStart(5)} %`;
  const list = (m: Map<string, number>, n: number) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, t]) => `${pct(t)}  ${k}`)
      .join('\n');
  return [
    `busy ${(busy / 1e6).toFixed(1)} s of ${(total / 1e6).toFixed(1)} s sampled`,
    '',
    'self time by module:',
    list(byModule, 20),
    '',
    'self time by function:',
    list(byFunction, top),
    '',
    'inclusive time of our code and the HTTP middleware packages:',
    list(inclusive, top),
  ].join('\n');
}

if (require.main === module) {
  const [file, top, from] = process.argv.slice(2);
  if (!file) {
    console.error('usage: profile-summary <file.cpuprofile> [top] [from-seconds]');
    process.exit(2);
  }
  console.log(summarise(JSON.parse(readFileSync(file, 'utf8')) as Profile, top ? Number(top) : 25, from ? Number(from) : 0));
}
