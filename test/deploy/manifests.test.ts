/**
 * deploy/kubernetes and the Dockerfile, read as a cluster and a builder would: every document parses, the fields a
 * safe deployment needs are there and agree with each other (names, ports, labels, the state volume, the image's
 * user and paths), and each probe's path answers as kubelet expects on the port the manifest names, from the real
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
import { composeApp, listen } from '../../src/server';
import { ROOT, lastOf, readDockerfile, stageEnv } from './dockerfile';
import { webAppEnvironment } from '../support/sandbox';

const KUBERNETES = path.join(ROOT, 'deploy', 'kubernetes');

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- manifests are free-form YAML

interface Manifest {
  readonly file: string;
  readonly doc: Json;
}

function readManifests(): Manifest[] {
  return readdirSync(KUBERNETES)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .flatMap((file) => {
      const documents = YAML.parseAllDocuments(readFileSync(path.join(KUBERNETES, file), 'utf8'));
      for (const d of documents) if (d.errors.length) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
      return documents.map((d) => ({ file, doc: d.toJS() as Json })).filter((m) => m.doc !== null);
    });
}

const manifests = readManifests();
const resources = manifests.filter((m) => m.doc.kind !== 'Kustomization');
const only = (kind: string): Json => {
  const found = resources.filter((m) => m.doc.kind === kind);
  expect(found).toHaveLength(1);
  return found[0]!.doc;
};

const secret = only('Secret');
const deployment = only('Deployment');
const service = only('Service');
const pvc = only('PersistentVolumeClaim');
const ingress = only('Ingress');
const networkPolicy = only('NetworkPolicy');
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

describe('deploy/kubernetes: every document', () => {
  it('parses, and the kustomization lists exactly the other files', () => {
    const kustomization = manifests.filter((m) => m.doc.kind === 'Kustomization');
    expect(kustomization).toHaveLength(1);
    expect([...kustomization[0]!.doc.resources].sort()).toEqual([...new Set(resources.map((m) => m.file))].sort());
    expect(resources.map((m) => m.doc.kind).sort()).toEqual(['Deployment', 'Ingress', 'NetworkPolicy', 'PersistentVolumeClaim', 'Secret', 'Service']);
  });

  it.each(resources.map((m) => [`${m.doc.kind} (${m.file})`, m.doc] as const))('%s has apiVersion, kind, a name and the app label', (_name, doc) => {
    expect(doc.apiVersion).toEqual(expect.any(String));
    expect(doc.metadata.name).toBe(doc.kind === 'Secret' ? 'xero-scim-secrets' : doc.kind === 'PersistentVolumeClaim' ? 'xero-scim-state' : 'xero-scim');
    expect(doc.metadata.labels).toEqual({ 'app.kubernetes.io/name': 'xero-scim' });
  });
});

describe('Secret', () => {
  it('carries the Xero app credentials under ConductorOne’s names and the SCIM bearer token', () => {
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
    const { app } = composeApp({ directory, tokens: ['t'], logger: silentLogger, trustProxy: config.trustProxy });
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

  it('has the CLI as ENTRYPOINT and serve as the default command', () => {
    expect(JSON.parse(last('ENTRYPOINT')!)).toEqual(['node', 'dist/cli.js']);
    expect(JSON.parse(last('CMD')!)).toEqual(['serve']);
  });

  it('.dockerignore keeps local builds, dependencies, state and git out of the context', () => {
    const ignored = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', '.git', '.state']));
  });
});
