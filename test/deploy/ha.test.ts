/**
 * deploy/kubernetes/ha as a cluster receives it (`kubectl kustomize`, as `kubectl apply -k` renders it): xero-scim as
 * three replicas on a shared Redis, and the minimal Redis beside it. Checked here: what replicas need (rolled one at a
 * time, no volume claim, a disruption budget, spread over nodes), the wiring between xero-scim and Redis (the URL,
 * the port through the Service to the container, one Secret key for both passwords, the network policies), no Secret
 * applied, and the manifest's own Redis run from its command and configuration with a real redis-server: it demands
 * the password, its process takes SIGTERM, its readiness probe answers, and it has the settings xero-scim's start-up
 * check asks for.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { loadConfig } from '../../src/config';
import { silentLogger } from '../../src/log';
import { RedisConnection } from '../../src/redis/connection';
import { KUBERNETES, type Json, only, render, secretReferences } from './kustomize';
import { freePort } from '../support/free-port';
import { describeWithRedis } from '../support/redis-server';

const HA = path.join(KUBERNETES, 'ha');
const docs = render('ha');
const single = render('.');
const secret = YAML.parse(readFileSync(path.join(HA, 'secret.example.yaml'), 'utf8')) as Json;

const deployment = only(docs, 'Deployment', 'xero-scim');
const pod = deployment.spec.template.spec as Json;
const podLabels = deployment.spec.template.metadata.labels as Record<string, string>;
const container = (pod.containers as Json[])[0]!;
/** The Deployment's plain variables (those with a value, not read from a Secret). */
const env = Object.fromEntries((container.env as Json[]).filter((e) => 'value' in e).map((e) => [e.name as string, e.value as string]));
const envFromSecret = (c: Json, name: string) => (c.env as Json[]).find((e) => e.name === name)?.valueFrom?.secretKeyRef as Json | undefined;
const service = only(docs, 'Service', 'xero-scim');

const redis = only(docs, 'StatefulSet', 'xero-scim-redis');
const redisPod = redis.spec.template.spec as Json;
const redisLabels = redis.spec.template.metadata.labels as Record<string, string>;
const redisContainer = (redisPod.containers as Json[])[0]!;
const redisService = only(docs, 'Service', 'xero-scim-redis');
const redisConfigMap = only(docs, 'ConfigMap');
const REDIS_CONF = 'redis.conf';
const redisConf = redisConfigMap.data[REDIS_CONF] as string;
const pdb = only(docs, 'PodDisruptionBudget');
const policy = only(docs, 'NetworkPolicy', 'xero-scim');
const redisPolicy = only(docs, 'NetworkPolicy', 'xero-scim-redis');

/** A redis.conf's directives, by name (the last one wins, as in Redis). */
function directives(conf: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const line of conf.split('\n').map((l) => l.trim())) {
    if (line === '' || line.startsWith('#')) continue;
    const [name, ...value] = line.split(/\s+/);
    found.set(name!.toLowerCase(), value.join(' '));
  }
  return found;
}
const redisSettings = directives(redisConf);

/** The number of a container's named port (or the number itself). */
function portOf(c: Json, port: string | number): number {
  if (typeof port === 'number') return port;
  const found = (c.ports as Json[]).find((p) => p.name === port);
  if (!found) throw new Error(`${c.name} has no port named ${port}`);
  return found.containerPort as number;
}

/** Whether a label selector (matchLabels only) selects pods with `labels`. */
function selects(selector: Json, labels: Record<string, string>): boolean {
  expect(selector.matchExpressions).toBeUndefined();
  const wanted = Object.entries(selector.matchLabels as Record<string, string>);
  return wanted.length > 0 && wanted.every(([k, v]) => labels[k] === v);
}

/** The directory the Redis container's configuration is mounted at, and the file its command reads. */
const configMount = (redisContainer.volumeMounts as Json[]).find(
  (m) => (redisPod.volumes as Json[]).find((v) => v.name === m.name)?.configMap?.name === redisConfigMap.metadata.name,
)!;
const redisScript = [...(redisContainer.command as string[]), ...(redisContainer.args as string[])];

describe('deploy/kubernetes/ha: what `kubectl apply -k deploy/kubernetes/ha/` applies', () => {
  it('renders xero-scim (Deployment, Service, Ingress, NetworkPolicy, PodDisruptionBudget) and a Redis, and no volume claim for xero-scim', () => {
    const kinds = docs.map((d) => `${d.kind} ${(d.metadata.name as string).replace(/-[a-z0-9]{10}$/, '')}`).sort();
    expect(kinds).toEqual([
      'ConfigMap xero-scim-redis-config',
      'Deployment xero-scim',
      'Ingress xero-scim',
      'NetworkPolicy xero-scim',
      'NetworkPolicy xero-scim-redis',
      'PodDisruptionBudget xero-scim',
      'Service xero-scim',
      'Service xero-scim-redis',
      'StatefulSet xero-scim-redis',
    ]);
    for (const doc of docs) expect(Object.values(doc.metadata.labels)).toEqual([doc.metadata.name.startsWith('xero-scim-redis') ? 'xero-scim-redis' : 'xero-scim']);
  });

  it('applies no Secret; every key the pods read is one the example Secret carries', () => {
    expect(docs.filter((d) => d.kind === 'Secret')).toEqual([]);
    const refs = secretReferences(docs);
    expect(refs).toEqual(expect.arrayContaining(['xero-scim-secrets:*', 'xero-scim-secrets:REDIS_PASSWORD']));
    for (const ref of refs) {
      const [name, key] = ref.split(':');
      expect(name).toBe(secret.metadata.name);
      if (key !== '*') expect(Object.keys(secret.stringData)).toContain(key);
    }
    // The example carries the single-replica keys, and Redis's password.
    const singleSecret = YAML.parse(readFileSync(path.join(KUBERNETES, 'secret.example.yaml'), 'utf8')) as Json;
    expect(Object.keys(secret.stringData).sort()).toEqual([...Object.keys(singleSecret.stringData), 'REDIS_PASSWORD'].sort());
  });

  it('every file under ha/ is applied by the kustomization or is the example applied by hand', () => {
    const k = YAML.parse(readFileSync(path.join(HA, 'kustomization.yaml'), 'utf8')) as Json;
    const listed = [
      'kustomization.yaml',
      ...(k.resources as string[]),
      ...((k.configMapGenerator ?? []) as Json[]).flatMap((g) => g.files ?? []),
      ...((k.patches ?? []) as Json[]).flatMap((p) => (p.path ? [p.path] : [])),
    ];
    expect(readdirSync(HA).filter((f) => !listed.includes(f))).toEqual(['secret.example.yaml']);
  });

  it('publishes the same Service and Ingress as the single-replica layout', () => {
    expect(only(docs, 'Ingress')).toEqual(only(single, 'Ingress'));
    expect(service).toEqual(only(single, 'Service'));
  });
});

describe('xero-scim: three replicas on Redis', () => {
  it('runs three replicas, rolled one at a time without ever dropping below three', () => {
    expect(deployment.spec.replicas).toBe(3);
    expect(deployment.spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
  });

  it('keeps nothing on a volume claim: STATE_DIR is an emptyDir and the root file system stays read-only', () => {
    expect(docs.filter((d) => d.kind === 'PersistentVolumeClaim')).toEqual([]);
    expect((pod.volumes as Json[]).filter((v) => v.persistentVolumeClaim)).toEqual([]);
    const state = (container.volumeMounts as Json[]).find((m) => m.mountPath === env.STATE_DIR)!;
    expect((pod.volumes as Json[]).find((v) => v.name === state.name)).toEqual({ name: state.name, emptyDir: { sizeLimit: expect.stringMatching(/^\d+Mi$/) } });
    expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
  });

  it('has a PodDisruptionBudget over exactly its pods that lets one go at a time', () => {
    expect(selects(pdb.spec.selector, podLabels)).toBe(true);
    expect(selects(pdb.spec.selector, redisLabels)).toBe(false);
    const mayGo = pdb.spec.maxUnavailable ?? deployment.spec.replicas - pdb.spec.minAvailable;
    expect(mayGo).toBe(1);
  });

  it('prefers a node per replica (anti-affinity by hostname, not required) and spreads over zones', () => {
    expect(pod.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution).toBeUndefined();
    const preferred = pod.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution as Json[];
    expect(preferred.map((p) => p.podAffinityTerm.topologyKey)).toEqual(['kubernetes.io/hostname']);
    expect(selects(preferred[0]!.podAffinityTerm.labelSelector, podLabels)).toBe(true);
    const spread = pod.topologySpreadConstraints as Json[];
    expect(spread.map((s) => [s.topologyKey, s.whenUnsatisfiable])).toEqual([['topology.kubernetes.io/zone', 'ScheduleAnyway']]);
    expect(selects(spread[0]!.labelSelector, podLabels)).toBe(true);
  });

  it('is ready on /readyz; its probes, its port and the Service line up', () => {
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(container.startupProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(portOf(container, 'http')).toBe(Number(env.PORT));
    expect(selects({ matchLabels: service.spec.selector }, podLabels)).toBe(true);
    expect(portOf(container, service.spec.ports[0].targetPort)).toBe(Number(env.PORT));
  });

  it('REDIS_URL names the Redis Service and its port, which lead to the port the Redis configuration listens on', () => {
    const url = new URL(env.REDIS_URL!);
    expect(url.protocol).toBe('redis:');
    expect(url.hostname).toBe(redisService.metadata.name);
    expect(url.password).toBe(''); // the password comes from the Secret, never from the manifest
    const port = (redisService.spec.ports as Json[]).find((p) => p.port === Number(url.port || 6379));
    expect(port).toBeDefined();
    expect(selects({ matchLabels: redisService.spec.selector }, redisLabels)).toBe(true);
    expect(selects({ matchLabels: redisService.spec.selector }, podLabels)).toBe(false);
    expect(portOf(redisContainer, port!.targetPort)).toBe(Number(redisSettings.get('port')));
  });

  it('REDIS_PASSWORD comes from the Secret key the Redis container takes its requirepass from', () => {
    const ref = { name: secret.metadata.name, key: 'REDIS_PASSWORD' };
    expect(envFromSecret(container, 'REDIS_PASSWORD')).toEqual(ref); // not optional: no key, no start
    expect(envFromSecret(redisContainer, 'REDIS_PASSWORD')).toEqual(ref);
    expect(redisScript.join(' ')).toContain('requirepass "$REDIS_PASSWORD"');
  });

  it('sets variables the server accepts: REDIS_URL, REDIS_PASSWORD, and LEADER_LEASE_SECONDS left at its default', () => {
    expect(Object.keys(env)).not.toContain('LEADER_LEASE_SECONDS');
    const config = loadConfig({ ...secret.stringData, ...env, REDIS_PASSWORD: 'from-the-secret' });
    expect({ url: config.redisUrl, password: config.redisPassword, lease: config.leaderLeaseSeconds, stateDir: config.stateDir, port: config.port }).toEqual({
      url: env.REDIS_URL,
      password: 'from-the-secret',
      lease: 15,
      stateDir: env.STATE_DIR,
      port: 8080,
    });
  });

  it('gives a terminating pod time for preStop, serve’s 20 s drain and giving its lease up', () => {
    const [command, seconds] = container.lifecycle.preStop.exec.command as [string, string];
    expect(command).toBe('sleep');
    // serve drains for up to SHUTDOWN_GRACE_MS (20 s, src/commands/serve.ts), then stops the directory and Redis.
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(Number(seconds) + 20 + 10);
  });
});

describe('Redis', () => {
  it('is one replica of a pinned image, non-root, with a read-only root file system', () => {
    expect(redis.spec.replicas).toBe(1);
    expect(redisContainer.image).toMatch(/^redis:7\.\d+\.\d+-alpine(@sha256:[0-9a-f]{64})?$/);
    expect(redisPod.automountServiceAccountToken).toBe(false);
    expect(redisPod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(redisPod.securityContext.runAsUser).toBeGreaterThan(0);
    expect(redisContainer.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(redisContainer.resources.limits.memory).toMatch(/^\d+(Mi|Gi)$/);
  });

  it('keeps its data on a claim from volumeClaimTemplates, mounted where its configuration writes', () => {
    const data = (redisContainer.volumeMounts as Json[]).find((m) => m.mountPath === redisSettings.get('dir'))!;
    expect(data).toBeDefined();
    expect(data.readOnly).not.toBe(true);
    expect((redisPod.volumes as Json[]).find((v) => v.name === data.name)).toBeUndefined();
    const claim = (redis.spec.volumeClaimTemplates as Json[]).find((t) => t.metadata.name === data.name)!;
    expect(claim.spec.accessModes).toEqual(['ReadWriteOnce']);
    expect(claim.spec.resources.requests.storage).toMatch(/^\d+Gi$/);
  });

  it('is configured to keep the token chain: appendonly yes, everysec, noeviction under the memory limit; no password in the ConfigMap', () => {
    expect({
      appendonly: redisSettings.get('appendonly'),
      appendfsync: redisSettings.get('appendfsync'),
      policy: redisSettings.get('maxmemory-policy'),
    }).toEqual({ appendonly: 'yes', appendfsync: 'everysec', policy: 'noeviction' });
    const mib = (v: string) => Number(v.match(/^(\d+)(mb|Mi|Gi)$/i)![1]) * (/gi/i.test(v) ? 1024 : 1);
    expect(mib(redisSettings.get('maxmemory')!)).toBeLessThan(mib(redisContainer.resources.limits.memory as string) / 2);
    for (const name of ['requirepass', 'masterauth', 'user', 'aclfile']) expect(redisSettings.has(name)).toBe(false);
    // The configuration its command reads is this ConfigMap's file.
    expect(configMount.readOnly).toBe(true);
    expect(redisScript.join(' ')).toContain(`redis-server ${configMount.mountPath}/${REDIS_CONF} -`);
  });
});

describe('NetworkPolicies', () => {
  const singlePolicy = only(single, 'NetworkPolicy');
  const peersOf = (rules: Json[]) => rules.flatMap((r) => (r.to ?? r.from ?? []) as Json[]);

  it('xero-scim keeps the single-replica rules and may also reach the Redis pods on their port', () => {
    expect(selects(policy.spec.podSelector, podLabels)).toBe(true);
    expect(policy.spec.ingress).toEqual(singlePolicy.spec.ingress);
    const egress = policy.spec.egress as Json[];
    const toRedis = egress.filter((rule) => peersOf([rule]).some((peer) => peer.podSelector && selects(peer.podSelector, redisLabels)));
    expect(toRedis).toHaveLength(1);
    expect(toRedis[0]!.ports).toEqual([{ port: portOf(redisContainer, 'redis'), protocol: 'TCP' }]);
    expect(egress.filter((rule) => rule !== toRedis[0])).toEqual(singlePolicy.spec.egress);
  });

  it('Redis accepts xero-scim’s pods only, on its port, and connects nowhere', () => {
    expect(selects(redisPolicy.spec.podSelector, redisLabels)).toBe(true);
    expect(redisPolicy.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(redisPolicy.spec.egress).toEqual([]);
    const rules = redisPolicy.spec.ingress as Json[];
    expect(rules).toHaveLength(1);
    // One peer: pods of this namespace (no namespaceSelector, no ipBlock) that are xero-scim's, and nothing else's.
    expect(rules[0]!.from).toHaveLength(1);
    const peer = rules[0]!.from[0] as Json;
    expect(Object.keys(peer)).toEqual(['podSelector']);
    expect(selects(peer.podSelector, podLabels)).toBe(true);
    expect(selects(peer.podSelector, redisLabels)).toBe(false);
    expect(selects(peer.podSelector, { 'app.kubernetes.io/name': 'baton-scim' })).toBe(false);
    expect(rules[0]!.ports).toEqual([{ port: portOf(redisContainer, 'redis'), protocol: 'TCP' }]);
  });
});

/** The first reply line to `words` sent on a fresh connection to 127.0.0.1:`port`. */
function rawCommand(port: number, ...words: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let reply = '';
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) {
        socket.destroy();
        resolve(reply.split('\r\n')[0]!);
      }
    });
    socket.on('error', reject);
    socket.write(`*${words.length}\r\n${words.map((w) => `$${Buffer.byteLength(w)}\r\n${w}\r\n`).join('')}`);
  });
}

describeWithRedis('the Redis of redis.yaml, run from its own command and configuration', () => {
  jest.setTimeout(30_000);
  const PASSWORD = 'ha+test/password=0123456789';
  const work = mkdtempSync(path.join(tmpdir(), 'xero-scim-ha-redis-'));
  let port: number;
  let child: ChildProcess;
  let exited: Promise<number | null>;

  /** The container's text with the paths and port this machine uses instead of the pod's. */
  const here = (text: string) => text.split(`${configMount.mountPath}/`).join(`${work}/`).split(`-p ${redisSettings.get('port')} `).join(`-p ${port} `);
  const shell = (c: Json) => {
    const [sh, flag, script] = [...(c.command as string[]), ...((c.args ?? []) as string[])];
    return [sh!, [flag!, here(script!)]] as const;
  };
  const probe = (password: string) => {
    const [sh, args] = shell({ command: redisContainer.readinessProbe.exec.command });
    return spawnSync(sh, args, { env: { PATH: process.env.PATH, REDIS_PASSWORD: password }, encoding: 'utf8' }).status;
  };

  beforeAll(async () => {
    port = await freePort();
    // The ConfigMap's file, but for where it listens and writes.
    const conf = redisConf.replace(/^port .*$/m, `port ${port}`).replace(/^dir .*$/m, `dir ${work}`);
    writeFileSync(path.join(work, REDIS_CONF), `${conf}\nbind 127.0.0.1\n`);
    const [sh, args] = shell(redisContainer);
    // Its own process group, so that a command that leaves redis-server as a child of the shell is stopped too.
    child = spawn(sh, args, { cwd: work, env: { PATH: process.env.PATH, REDIS_PASSWORD: PASSWORD }, stdio: 'ignore', detached: true });
    exited = new Promise((resolve) => child.once('exit', resolve));
    const deadline = Date.now() + 10_000;
    while (!(await rawCommand(port, 'PING').catch(() => ''))) {
      if (child.exitCode !== null) throw new Error('the Redis command exited at start');
      if (Date.now() > deadline) throw new Error('the Redis command did not listen within 10 s');
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  });
  afterAll(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
    rmSync(work, { recursive: true, force: true });
  });

  it('refuses a client without the password', async () => {
    expect(await rawCommand(port, 'PING')).toMatch(/^-NOAUTH/);
    expect(await rawCommand(port, 'AUTH', 'not-the-password')).toMatch(/^-WRONGPASS/);
  });

  it('lets xero-scim in with REDIS_URL and the Secret’s REDIS_PASSWORD, with the settings its start-up check wants', async () => {
    const url = new URL(env.REDIS_URL!);
    url.hostname = '127.0.0.1';
    url.port = String(port);
    const connection = new RedisConnection({ url: url.toString(), password: PASSWORD, keyPrefix: 'xero-scim:' }, silentLogger);
    try {
      expect(await connection.ready()).toBe(true);
      expect(await connection.checkSettings()).toEqual([]);
      expect(await connection.client.config('GET', 'appendfsync')).toEqual(['appendfsync', 'everysec']);
      await connection.client.set(connection.key('ha-test'), 'kept');
      expect(await connection.client.get(connection.key('ha-test'))).toBe('kept');
    } finally {
      await connection.close();
    }
  });

  it('is ready by its readiness probe with the password, and not without it', () => {
    expect(probe(PASSWORD)).toBe(0);
    expect(probe('not-the-password')).not.toBe(0);
  });

  it('an empty REDIS_PASSWORD (the example applied unchanged) stops it at start, naming the key', () => {
    const [sh, args] = shell(redisContainer);
    const result = spawnSync(sh, args, { cwd: work, env: { PATH: process.env.PATH, REDIS_PASSWORD: '' }, encoding: 'utf8', timeout: 10_000 });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/REDIS_PASSWORD/);
  });

  it('runs as redis-server itself, so SIGTERM stops it cleanly with the append-only file written', async () => {
    const info = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      let reply = '';
      socket.on('data', (chunk) => {
        reply += chunk.toString();
        if (/process_id:\d+\r\n/.test(reply)) {
          socket.destroy();
          resolve(reply);
        }
      });
      socket.on('error', reject);
      socket.write(`AUTH ${PASSWORD}\r\nINFO server\r\n`);
    });
    expect(Number(info.match(/process_id:(\d+)/)![1])).toBe(child.pid);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(readdirSync(work)).toContain(redisSettings.get('appenddirname') ?? 'appendonlydir');
  });
});
