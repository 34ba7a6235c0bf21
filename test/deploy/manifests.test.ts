/**
 * deploy/kubernetes and the Dockerfile, read as a cluster and a builder would: what `kubectl apply -k
 * deploy/kubernetes/` applies (rendered by `kubectl kustomize`), the fields a safe deployment needs, agreeing with
 * each other (names, ports, labels, the state volume, the image's user and paths), no Secret that could overwrite
 * the user's, and each probe's path answering as kubelet expects on the port the manifest names, from the real
 * server started with the manifest's own environment.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { parseCommandLine } from '../../src/cli';
import { directoryOptions } from '../../src/commands/directory-options';
import { runServe } from '../../src/commands/serve';
import { loadConfig } from '../../src/config';
import { createXeroDirectory } from '../../src/directory/sync';
import { silentLogger } from '../../src/log';
import { createSandbox } from '../../src/sandbox';
import { createApp } from '../../src/http/app';
import { listen } from '../../src/http/listen';
import { V8_FLAGS } from '../../src/runtime';
import { ROOT, globalArgs, lastOf, readDockerfile, stageEnv } from './dockerfile';
import { KUBERNETES, type Json, only, render, secretReferences } from './kustomize';
import { webAppEnvironment } from '../support/sandbox';

const manifests = render('.');
const secret = YAML.parse(readFileSync(path.join(KUBERNETES, 'secret.example.yaml'), 'utf8')) as Json;
const deployment = only(manifests, 'Deployment');
const service = only(manifests, 'Service');
const pvc = only(manifests, 'PersistentVolumeClaim');
const ingress = only(manifests, 'Ingress');
const networkPolicy = only(manifests, 'NetworkPolicy');
const pod = deployment.spec.template.spec as Json;
const container = (pod.containers as Json[])[0]!;
const env = Object.fromEntries((container.env as { name: string; value: string }[]).map((e) => [e.name, e.value]));
const containerPort = (name: string | number): number => {
  if (typeof name === 'number') return name;
  const port = (container.ports as Json[]).find((p) => p.name === name);
  if (!port) throw new Error(`the container has no port named ${name}`);
  return port.containerPort as number;
};
const PROBES = ['startupProbe', 'livenessProbe', 'readinessProbe'] as const;

/** Every kustomization under deploy/kubernetes, as a directory relative to it. */
const KUSTOMIZATIONS = ['.', 'base', 'conductorone'];

describe('deploy/kubernetes: what `kubectl apply -k` applies', () => {
  it('renders the Deployment, its volume claim, Service, Ingress and NetworkPolicy, each named and labelled', () => {
    expect(manifests.map((m) => m.kind).sort()).toEqual(['Deployment', 'Ingress', 'NetworkPolicy', 'PersistentVolumeClaim', 'Service']);
    for (const doc of manifests) {
      expect(doc.apiVersion).toEqual(expect.any(String));
      expect(doc.metadata.name).toBe(doc.kind === 'PersistentVolumeClaim' ? 'xero-scim-state' : 'xero-scim');
      expect(doc.metadata.labels).toEqual({ 'app.kubernetes.io/name': 'xero-scim' });
    }
  });

  // Regression: the kustomization applied secret.yaml, whose placeholders (and empty SCIM_BEARER_TOKEN) replaced
  // the Secret the README had just created, and the pod refused to start.
  it.each(KUSTOMIZATIONS)('%s applies no Secret, so it cannot overwrite the one the user created', (dir) => {
    const docs = render(dir);
    expect(docs.filter((d) => d.kind === 'Secret').map((d) => d.metadata.name)).toEqual([]);
    // What the pods read comes from the Secret the README creates.
    for (const ref of secretReferences(docs)) expect(ref).toMatch(/^xero-scim-secrets:/);
  });

  it('every file under deploy/kubernetes is applied by a kustomization or is an example applied by hand', () => {
    const listed = KUSTOMIZATIONS.flatMap((dir) => {
      const k = YAML.parse(readFileSync(path.join(KUBERNETES, dir, 'kustomization.yaml'), 'utf8')) as Json;
      const files = [...(k.resources ?? []), ...((k.configMapGenerator ?? []) as Json[]).flatMap((g) => g.files ?? [])] as string[];
      return ['kustomization.yaml', ...files].map((f) => path.join(dir, f));
    });
    const present = KUSTOMIZATIONS.flatMap((dir) =>
      readdirSync(path.join(KUBERNETES, dir), { withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => path.join(dir, e.name)),
    );
    expect(present.filter((f) => !listed.includes(f)).sort()).toEqual(['conductorone/secret.example.yaml', 'secret.example.yaml']);
  });
});

describe('secret.example.yaml (copied, filled in and applied by hand)', () => {
  it('carries the Xero app credentials under ConductorOne’s names and the SCIM bearer token', () => {
    expect(secret.kind).toBe('Secret');
    expect(secret.metadata.name).toBe('xero-scim-secrets');
    expect(secret.type).toBe('Opaque');
    expect(Object.keys(secret.stringData).sort()).toEqual(['BATON_REFRESH_TOKEN', 'BATON_XERO_CLIENT_ID', 'BATON_XERO_CLIENT_SECRET', 'SCIM_BEARER_TOKEN']);
  });

  it('uses names the server reads (as aliases of XERO_CLIENT_ID, XERO_CLIENT_SECRET, XERO_REFRESH_TOKEN)', () => {
    const config = loadConfig({ ...secret.stringData, BATON_REFRESH_TOKEN: 'refresh-1', SCIM_BEARER_TOKEN: 'token-a-0123456789,token-b-0123456789', STATE_DIR: tmpdir() });
    expect({ id: config.xeroClientId, secret: config.xeroClientSecret, refresh: config.xeroRefreshToken, tokens: config.scimBearerToken }).toEqual({
      id: secret.stringData.BATON_XERO_CLIENT_ID,
      secret: secret.stringData.BATON_XERO_CLIENT_SECRET,
      refresh: 'refresh-1',
      tokens: ['token-a-0123456789', 'token-b-0123456789'],
    });
  });

  // Regression: the placeholder was "<random token, e.g. openssl rand -base64 32>", which the comma- and
  // space-separated token list read as seven valid tokens ("token", "rand", "32>", ...) when applied unchanged.
  it('applied unchanged, accepts no SCIM token and stops start-up naming SCIM_BEARER_TOKEN', async () => {
    const config = loadConfig({ ...secret.stringData, STATE_DIR: tmpdir() });
    expect(config.scimBearerToken).toEqual([]);
    await expect(runServe(config, { logger: silentLogger, out: () => undefined })).rejects.toThrow(/SCIM_BEARER_TOKEN/);
  });
});

describe('Deployment', () => {
  it('runs `service` (ConductorOne’s argument), which the CLI reads as serve', () => {
    expect(container.args).toEqual(['service']);
    expect(parseCommandLine(container.args).command).toBe('serve');
    expect(container.command).toBeUndefined(); // the image's ENTRYPOINT runs the CLI
  });

  it('takes its secrets from the Secret', () => {
    expect(container.envFrom).toEqual([{ secretRef: { name: secret.metadata.name } }]);
  });

  it('is one replica recreated, never two: a web app’s refresh token rotates on every use', () => {
    expect(deployment.spec.replicas).toBe(1);
    expect(deployment.spec.strategy).toEqual({ type: 'Recreate' });
  });

  it('selects its own pods, and the Service and NetworkPolicy select them too', () => {
    const labels = deployment.spec.template.metadata.labels;
    expect(deployment.spec.selector.matchLabels).toEqual(labels);
    expect(service.spec.selector).toEqual(labels);
    expect(networkPolicy.spec.podSelector.matchLabels).toEqual(labels);
  });

  it('runs as non-root with a read-only root file system, no privilege escalation and no capabilities', () => {
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: expect.any(Number), seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
  });

  it('requests CPU and memory and limits memory', () => {
    expect(container.resources.requests).toEqual({ cpu: expect.any(String), memory: expect.stringMatching(/^\d+(Mi|Gi)$/) });
    expect(container.resources.limits.memory).toMatch(/^\d+(Mi|Gi)$/);
  });

  it('mounts STATE_DIR from the PersistentVolumeClaim, and gives /tmp an emptyDir (the root is read-only)', () => {
    const mountAt = (dir: string) => (container.volumeMounts as Json[]).find((m) => m.mountPath === dir);
    const volume = (name: string) => (pod.volumes as Json[]).find((v) => v.name === name);
    const state = mountAt(env.STATE_DIR!);
    expect(state).toBeDefined();
    expect(state!.readOnly).not.toBe(true);
    expect(volume(state!.name)).toEqual({ name: state!.name, persistentVolumeClaim: { claimName: pvc.metadata.name } });
    expect(volume(mountAt('/tmp')!.name)).toMatchObject({ emptyDir: expect.any(Object) });
    expect(pvc.spec.accessModes).toEqual(['ReadWriteOnce']);
  });

  it('sets only variables the server reads, with values it accepts', () => {
    const config = loadConfig({ ...env, ...secret.stringData });
    expect({ stateDir: config.stateDir, port: config.port, trustProxy: config.trustProxy }).toEqual({ stateDir: env.STATE_DIR, port: 8080, trustProxy: true });
    expect(config.syncIntervalSeconds).toBe(Number(env.SYNC_INTERVAL_SECONDS));
  });

  it('has startup, liveness and readiness probes over HTTP on the named port the server listens on', () => {
    expect(containerPort('http')).toBe(Number(env.PORT));
    for (const probe of PROBES) {
      expect(container[probe].httpGet).toEqual({ path: expect.stringMatching(/^\//), port: 'http' });
    }
    // Liveness must not depend on Xero: a Xero outage would otherwise restart a pod that serves its last snapshot.
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
  });
});

describe('Service, Ingress and NetworkPolicy', () => {
  it('route to the container’s port', () => {
    expect(service.spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }]);
    containerPort(service.spec.ports[0].targetPort);
    const backend = ingress.spec.rules[0].http.paths[0].backend.service;
    expect(backend).toEqual({ name: service.metadata.name, port: { name: 'http' } });
    expect(ingress.spec.tls[0].hosts).toEqual([ingress.spec.rules[0].host]);
    const allowed = (networkPolicy.spec.ingress as Json[]).flatMap((rule) => rule.ports.map((p: Json) => p.port));
    expect(allowed).toEqual([containerPort('http')]);
  });

  it('the Ingress publishes the SCIM API only: probes, metrics and the status page stay in the cluster', () => {
    const paths = (ingress.spec.rules as Json[]).flatMap((rule) => (rule.http.paths as Json[]).map((p) => `${p.pathType} ${p.path}`));
    expect(paths).toEqual(['Prefix /scim/v2']);
  });

  it('let the pod reach DNS and HTTPS only', () => {
    const egress = (networkPolicy.spec.egress as Json[]).flatMap((rule) => rule.ports.map((p: Json) => `${p.port}/${p.protocol}`));
    expect(egress.sort()).toEqual(['443/TCP', '53/TCP', '53/UDP']);
  });
});

/** What kubelet counts as a passing HTTP probe (any status from 200 to 399). */
const kubeletPasses = (status: number) => status >= 200 && status < 400;

describe('probes against the running server', () => {
  jest.setTimeout(60_000);

  it('startup and liveness pass at once; readiness only after the first snapshot', async () => {
    const sandbox = createSandbox({ data: 'demo' });
    const xero = await sandbox.listen(0, '127.0.0.1');
    const stateDir = mkdtempSync(path.join(tmpdir(), 'xero-scim-probes-'));
    const config = loadConfig({
      ...env,
      ...webAppEnvironment(sandbox, xero.url),
      STATE_DIR: stateDir,
    });
    const directory = createXeroDirectory(directoryOptions(config), { logger: silentLogger, policy: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 5 } });
    const app = createApp({ directory, tokens: ['t'], logger: silentLogger, trustProxy: config.trustProxy });
    // The manifest's port 8080 is this test's ephemeral port: the probe is sent where `port: http` points.
    const server = await listen(app, 0, '127.0.0.1');
    const portOf: Record<number, string> = { [containerPort('http')]: server.url };
    const probe = async (name: (typeof PROBES)[number]) => {
      const { path: probePath, port } = container[name].httpGet as { path: string; port: string };
      return (await fetch(`${portOf[containerPort(port)]}${probePath}`)).status;
    };
    try {
      expect({ startup: await probe('startupProbe'), liveness: await probe('livenessProbe'), readiness: await probe('readinessProbe') }).toEqual({
        startup: 200,
        liveness: 200,
        readiness: 503,
      });
      expect(kubeletPasses(await probe('readinessProbe'))).toBe(false);
      expect((await directory.syncOnce()).outcome).toBe('ok');
      for (const name of PROBES) expect(kubeletPasses(await probe(name))).toBe(true);
    } finally {
      await server.close();
      await directory.stop();
      await xero.close();
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it('the serve command, started with the manifest’s environment (demo data), answers every probe', async () => {
    const stateDir = mkdtempSync(path.join(tmpdir(), 'xero-scim-serve-'));
    const stop = new AbortController();
    let listening: (info: { url: string; tokens: readonly string[] }) => void = () => undefined;
    const started = new Promise<{ url: string; tokens: readonly string[] }>((resolve) => (listening = resolve));
    const token = 'a-token-as-the-Secret-would-hold-0123456789';
    const config = loadConfig({ ...env, ...secret.stringData, SCIM_BEARER_TOKEN: token, STATE_DIR: stateDir, PORT: '0', HOST: '127.0.0.1' });
    const serving = runServe(config, { demo: true, signal: stop.signal, logger: silentLogger, out: () => undefined, onListening: listening });
    try {
      const { url, tokens } = await Promise.race([started, serving.then(() => Promise.reject(new Error('serve stopped before listening')))]);
      for (const name of PROBES) {
        const { path: probePath } = container[name].httpGet as { path: string };
        expect(`${name} ${(await fetch(`${url}${probePath}`)).status}`).toBe(`${name} 200`);
      }
      // The Secret's token is the one the server accepts.
      expect(tokens).toEqual([token]);
      const users = await fetch(`${url}/scim/v2/Users?count=1`, { headers: { Authorization: `Bearer ${token}` } });
      expect(users.status).toBe(200);
    } finally {
      stop.abort();
      await serving;
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});

describe('Dockerfile', () => {
  const stages = readDockerfile();
  const runtime = stages[stages.length - 1]!;
  const last = (op: string) => lastOf(runtime, op);
  const runtimeEnv = stageEnv(runtime);

  it('is multi-stage: a build stage with the dev toolchain, production dependencies apart, a runtime stage', () => {
    expect(stages.map((s) => s.name)).toEqual(['build', 'deps', 'runtime']);
    const runs = (stage: string) => stages.find((s) => s.name === stage)!.instructions.filter((i) => i.op === 'RUN').map((i) => i.args);
    expect(runs('build')).toEqual(['npm ci --no-audit --no-fund', 'npm run build']);
    expect(runs('deps')[0]).toMatch(/^npm ci --omit=dev /);
    const copies = runtime.instructions.filter((i) => i.op === 'COPY').map((i) => i.args);
    expect(copies).toEqual(expect.arrayContaining(['--from=deps /app/node_modules ./node_modules', '--from=build /src/dist ./dist', 'openapi ./openapi']));
    // Nothing of the build toolchain reaches the runtime stage.
    expect(copies.filter((c) => c.startsWith('--from=build'))).toEqual(['--from=build /src/dist ./dist']);
  });

  it('runs as the non-root user the Deployment names, with STATE_DIR its only writable place', () => {
    expect(last('USER')).toBe(`${pod.securityContext.runAsUser}:${pod.securityContext.runAsGroup}`);
    expect(runtimeEnv.STATE_DIR).toBe(env.STATE_DIR);
    expect(last('VOLUME')).toBe(`["${env.STATE_DIR}"]`);
    expect(runtime.instructions.find((i) => i.op === 'RUN')?.args).toBe(`mkdir -p ${env.STATE_DIR} && chown 10001:10001 ${env.STATE_DIR}`);
  });

  it('listens where the Deployment expects, and checks its health at /healthz', () => {
    expect(Number(last('EXPOSE'))).toBe(containerPort('http'));
    expect(runtimeEnv.PORT).toBe(env.PORT);
    expect(runtimeEnv.HOST).toBe('0.0.0.0');
    expect(last('HEALTHCHECK')).toMatch(/^--interval=\S+ --timeout=\S+ --start-period=\S+ --retries=\d+ CMD \[.*\/healthz/);
  });

  it('has the CLI as ENTRYPOINT, with the V8 flags on Node’s command line, and serve as the default command', () => {
    expect(JSON.parse(last('ENTRYPOINT')!)).toEqual(['node', ...V8_FLAGS, 'dist/cli.js']);
    expect(JSON.parse(last('CMD')!)).toEqual(['serve']);
  });

  it('builds and runs on Node.js 24 LTS, pinned once (an ARG every stage uses), which package.json’s engines allow', () => {
    const image = globalArgs().NODE_IMAGE;
    expect(image).toMatch(/^node:24\.\d+\.\d+-[a-z]+-slim(@sha256:[0-9a-f]{64})?$/);
    expect(stages.map((s) => s.base)).toEqual(stages.map(() => image));
    const version = image!.match(/^node:(\d+\.\d+\.\d+)/)![1]!;
    const { engines } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
    expect(satisfies(version, engines.node)).toBe(true);
    // This run's Node too (CI runs the suite on the machine's Node and on the image's).
    expect(satisfies(process.versions.node, engines.node)).toBe(true);
    // Node 20 reached end of life on 2026-04-30; 22 is not tested, so not claimed.
    expect(satisfies('22.12.0', engines.node)).toBe(false);
  });

  it('.dockerignore keeps local builds, dependencies, state and git out of the context', () => {
    const ignored = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', '.git', '.state']));
  });
});

/** Whether `version` satisfies an engines range of `^x.y.z` and `>=x.y.z` alternatives joined by `||`. */
function satisfies(version: string, range: string): boolean {
  const parse = (v: string) => v.split('.').map(Number) as [number, number, number];
  const compare = (a: number[], b: number[]) => a.reduce((r, x, i) => r || x - b[i]!, 0);
  const v = parse(version);
  return range.split('||').some((alternative) => {
    const [, op, bound] = alternative.trim().match(/^(\^|>=)(\d+\.\d+\.\d+)$/) ?? [];
    if (!op || !bound) throw new Error(`unsupported engines range: ${alternative}`);
    const b = parse(bound);
    return compare(v, b) >= 0 && (op === '>=' || v[0] === b[0]);
  });
}
