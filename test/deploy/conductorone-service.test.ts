/**
 * deploy/kubernetes/conductorone: ConductorOne's generic SCIM connector (baton-scim) in service mode beside
 * xero-scim, read as `kubectl apply -k` renders it. baton-scim's settings are checked against its real flag and
 * environment names (cmd/baton-scim/config.go and baton-sdk's default fields, read through viper with the `BATON_`
 * prefix), the network policies against the pods they select, and the ConfigMap's SCIM configuration is crawled
 * the way baton-scim crawls (test/support/baton-scim.ts) against a real xero-scim started by `serve` with the
 * rendered Deployment's environment, on sandbox data, reached the way the cluster routes `apiEndpoint` (the
 * Service's name and port to the container's port).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { runServe } from '../../src/commands/serve';
import { loadConfig } from '../../src/config';
import { silentLogger } from '../../src/log';
import { createSandbox } from '../../src/sandbox';
import { type BatonScimConfig, ignoredKeys, replay } from '../support/baton-scim';
import { webAppEnvironment } from '../support/sandbox';
import { ROOT } from './dockerfile';
import { KUBERNETES, type Json, only, render, secretReferences } from './kustomize';

const docs = render('conductorone');
const baton = only(docs, 'Deployment', 'baton-scim');
const xero = only(docs, 'Deployment', 'xero-scim');
const service = only(docs, 'Service', 'xero-scim');
const configMap = only(docs, 'ConfigMap');
const batonContainer = (baton.spec.template.spec.containers as Json[])[0]!;
const xeroContainer = (xero.spec.template.spec.containers as Json[])[0]!;
const example = YAML.parse(readFileSync(path.join(KUBERNETES, 'conductorone', 'secret.example.yaml'), 'utf8')) as Json;

/**
 * Every setting baton-scim reads, as the environment variable viper maps it to (`BATON_` + upper case, `-` → `_`):
 * its own fields (cmd/baton-scim/config.go; not `scim-config`, which it defines but never reads) and baton-sdk's
 * defaults (pkg/field/defaults.go) this layout may use.
 */
const BATON_SCIM_SETTINGS = [
  ...['service-provider', 'api-key', 'username', 'password', 'scim-client-id', 'scim-client-secret', 'scim-config-file', 'scim-config-value', 'account-id'],
  ...['client-id', 'client-secret', 'file', 'log-format', 'log-level', 'provisioning', 'skip-full-sync', 'c1z-temp-dir'],
].map((name) => `BATON_${name.toUpperCase().replace(/-/g, '_')}`);

/** The container's environment with each Secret key resolved from `secret` (missing optional keys left out). */
function environmentOf(container: Json, secret: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of (container.envFrom ?? []) as Json[]) if (from.secretRef) Object.assign(env, secret);
  for (const e of (container.env ?? []) as Json[]) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.secretKeyRef) {
      const value = secret[e.valueFrom.secretKeyRef.key];
      if (value !== undefined) env[e.name] = value;
      else if (!e.valueFrom.secretKeyRef.optional) throw new Error(`${e.name}: the Secret has no key ${e.valueFrom.secretKeyRef.key}`);
    }
  }
  return env;
}

/** The ConfigMap's SCIM configuration, as baton-scim reads it from BATON_SCIM_CONFIG_FILE. */
function mountedConfig(): { file: string; config: BatonScimConfig } {
  const env = environmentOf(batonContainer, example.stringData);
  const file = env.BATON_SCIM_CONFIG_FILE!;
  const mount = (batonContainer.volumeMounts as Json[]).find((m) => file.startsWith(`${m.mountPath}/`));
  expect(mount).toBeDefined();
  const volume = (baton.spec.template.spec.volumes as Json[]).find((v) => v.name === mount!.name);
  expect(volume?.configMap.name).toBe(configMap.metadata.name);
  const key = path.posix.relative(mount!.mountPath, file);
  expect(Object.keys(configMap.data)).toEqual([key]);
  return { file, config: YAML.parse(configMap.data[key]) as BatonScimConfig };
}

describe('deploy/kubernetes/conductorone, rendered', () => {
  it('holds xero-scim, baton-scim, the generated config, the Service and the policies; no Ingress, no Secret', () => {
    expect(docs.map((d) => `${d.kind}/${d.metadata.name.replace(/-[a-z0-9]{10}$/, '-<hash>')}`).sort()).toEqual([
      'ConfigMap/baton-scim-config-<hash>',
      'Deployment/baton-scim',
      'Deployment/xero-scim',
      'NetworkPolicy/baton-scim',
      'NetworkPolicy/xero-scim',
      'PersistentVolumeClaim/xero-scim-state',
      'Service/xero-scim',
    ]);
    expect(secretReferences(docs).every((ref) => ref.startsWith('xero-scim-secrets:'))).toBe(true);
  });

  it('runs ConductorOne’s baton-scim image, pinned, non-root on a read-only root with a writable /tmp', () => {
    expect(batonContainer.image).toMatch(/^ghcr\.io\/conductorone\/baton-scim(:\d+\.\d+\.\d+|@sha256:[0-9a-f]{64})$/);
    expect(baton.spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532 });
    expect(batonContainer.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect((batonContainer.volumeMounts as Json[]).map((m) => m.mountPath)).toContain('/tmp');
    expect(baton.spec.template.spec.automountServiceAccountToken).toBe(false);
  });

  it('sets only settings baton-scim reads, and both client credentials, so baton-sdk runs it in service mode', () => {
    const names = (batonContainer.env as Json[]).map((e) => e.name as string);
    expect(names.filter((n) => !BATON_SCIM_SETTINGS.includes(n))).toEqual([]);
    expect(batonContainer.args ?? []).toEqual([]);
    const env = environmentOf(batonContainer, example.stringData);
    // baton-sdk cli/commands.go: daemonMode := client-id != "" (then client-secret is required).
    expect(env.BATON_CLIENT_ID).toBe(example.stringData.BATON_CLIENT_ID);
    expect(env.BATON_CLIENT_SECRET).toBe(example.stringData.BATON_CLIENT_SECRET);
    // The SCIM token is its API key (cmd/baton-scim: ValidateConfig wants api-key for apiKey auth).
    const keyRef = (batonContainer.env as Json[]).find((e) => e.name === 'BATON_API_KEY')!.valueFrom.secretKeyRef;
    expect(keyRef).toEqual({ name: 'xero-scim-secrets', key: 'SCIM_BEARER_TOKEN' });
  });

  it('the Secret is seed-shaped: both credential pairs and the SCIM token; xero-scim reads only its keys', () => {
    expect(Object.keys(example.stringData).sort()).toEqual([
      'BATON_CLIENT_ID',
      'BATON_CLIENT_SECRET',
      'BATON_REFRESH_TOKEN',
      'BATON_XERO_CLIENT_ID',
      'BATON_XERO_CLIENT_SECRET',
      'SCIM_BEARER_TOKEN',
    ]);
    expect(xeroContainer.envFrom).toBeUndefined();
    const referenced = secretReferences([xero]).map((r) => r.split(':')[1]).sort();
    expect(referenced).toEqual(['BATON_REFRESH_TOKEN', 'BATON_XERO_CLIENT_ID', 'BATON_XERO_CLIENT_SECRET', 'SCIM_BEARER_TOKEN']);
    const config = loadConfig({ ...environmentOf(xeroContainer, { ...example.stringData, SCIM_BEARER_TOKEN: 'one-token-0123456789abcdef' }) });
    expect({ id: config.xeroClientId, token: config.scimBearerToken, trustProxy: config.trustProxy }).toEqual({
      id: example.stringData.BATON_XERO_CLIENT_ID,
      token: ['one-token-0123456789abcdef'],
      trustProxy: false, // nothing stands in front of it that may set X-Forwarded-*
    });
  });

  it('lets only the baton-scim pod reach xero-scim, on the port the Service targets; baton-scim may reach it', () => {
    const policy = only(docs, 'NetworkPolicy', 'xero-scim');
    expect(policy.spec.podSelector.matchLabels).toEqual(xero.spec.template.metadata.labels);
    const port = (xeroContainer.ports as Json[]).find((p) => p.name === service.spec.ports[0].targetPort)!.containerPort as number;
    expect(policy.spec.ingress).toEqual([{ from: [{ podSelector: { matchLabels: baton.spec.template.metadata.labels } }], ports: [{ port, protocol: 'TCP' }] }]);
    const out = only(docs, 'NetworkPolicy', 'baton-scim');
    expect(out.spec.podSelector.matchLabels).toEqual(baton.spec.template.metadata.labels);
    expect(out.spec.ingress).toEqual([]);
    expect(out.spec.egress).toContainEqual({ to: [{ podSelector: { matchLabels: xero.spec.template.metadata.labels } }], ports: [{ port, protocol: 'TCP' }] });
  });

  it('mounts the SCIM configuration baton-scim reads: deploy/conductorone/xero-scim.yaml aimed at the Service', () => {
    const { config } = mountedConfig();
    const published = YAML.parse(readFileSync(path.join(ROOT, 'deploy', 'conductorone', 'xero-scim.yaml'), 'utf8')) as BatonScimConfig;
    expect({ ...config, apiEndpoint: '' }).toEqual({ ...published, apiEndpoint: '' });
    expect(ignoredKeys(config)).toEqual([]);
    const endpoint = new URL(config.apiEndpoint);
    expect({ protocol: endpoint.protocol, host: endpoint.hostname, port: Number(endpoint.port || 80), path: endpoint.pathname }).toEqual({
      protocol: 'http:',
      host: service.metadata.name,
      port: service.spec.ports[0].port,
      path: '/scim/v2/',
    });
  });
});

describe('the ConfigMap’s configuration, crawled as baton-scim crawls, against serve started with the rendered environment', () => {
  jest.setTimeout(120_000);

  it('lists every person, organisation and role of the sandbox over pages of 100', async () => {
    const sandbox = createSandbox({ data: { seed: 'c1-service', organisations: 4, usersPerOrganisation: 70, partnerShare: 0.3, removedShare: 0.05 } });
    const listening = await sandbox.listen(0, '127.0.0.1');
    const stateDir = mkdtempSync(path.join(tmpdir(), 'xero-scim-c1-service-'));
    const web = webAppEnvironment(sandbox, listening.url);
    const token = 'c1-service-mode-token-0123456789';
    // The Secret as the README creates it, holding the sandbox's web app.
    const secret = { BATON_XERO_CLIENT_ID: web.XERO_CLIENT_ID, BATON_XERO_CLIENT_SECRET: web.XERO_CLIENT_SECRET, BATON_REFRESH_TOKEN: web.XERO_REFRESH_TOKEN, BATON_CLIENT_ID: 'c1-id', BATON_CLIENT_SECRET: 'c1-secret', SCIM_BEARER_TOKEN: token };
    const env = { ...environmentOf(xeroContainer, secret), XERO_API_URL: listening.url, XERO_IDENTITY_URL: listening.url, STATE_DIR: stateDir, PORT: '0', HOST: '127.0.0.1' };
    const stop = new AbortController();
    let onListening: (info: { url: string }) => void = () => undefined;
    const started = new Promise<{ url: string }>((resolve) => (onListening = resolve));
    const serving = runServe(loadConfig(env), { signal: stop.signal, logger: silentLogger, out: () => undefined, onListening });
    try {
      const { url } = await Promise.race([started, serving.then(() => Promise.reject(new Error('serve stopped before listening')))]);
      while ((await fetch(`${url}/readyz`)).status !== 200) await new Promise((resolve) => setImmediate(resolve));

      const { config } = mountedConfig();
      // The cluster routes http://xero-scim/ (the Service, port 80) to the container's port: here, serve's.
      const endpoint = new URL(config.apiEndpoint);
      const result = await replay({ ...config, apiEndpoint: `${url}${endpoint.pathname}` }, environmentOf(batonContainer, secret).BATON_API_KEY!);

      const organisations = sandbox.data.organisations();
      const records = organisations.flatMap((o) => sandbox.data.users(o.organisationId));
      const people = new Set(records.map((u) => u.email.trim().toLowerCase()));
      expect(people.size).toBeGreaterThan(100);
      expect(result.requests.filter((r) => r.startsWith('GET /scim/v2/Users?'))).toEqual(
        [0, 1].flatMap(() => Array.from({ length: Math.ceil(people.size / 100) }, (_, i) => `GET /scim/v2/Users?count=100&startIndex=${i * 100 + 1}`)),
      );
      expect(new Set(result.users.map((u) => u.email.trim().toLowerCase()))).toEqual(people);
      expect(result.groups.map((g) => g.displayName).sort()).toEqual(organisations.map((o) => o.name).sort());
      // One role per organisation and Xero role held (baton-scim's role ids: snake-cased "<organisation> — <role>").
      const GRANTABLE = ['READONLY', 'INVOICEONLY', 'STANDARD', 'FINANCIALADVISER', 'MANAGEDCLIENT', 'CASHBOOKCLIENT'];
      const held = new Set(organisations.flatMap((o) => sandbox.data.users(o.organisationId).filter((u) => GRANTABLE.includes(u.role)).map((u) => `${o.organisationId}/${u.role}`)));
      expect(result.roles.size).toBe(held.size);
      expect([...result.userRoles.values()].flat().filter((id) => !result.roles.has(id))).toEqual([]);
    } finally {
      stop.abort();
      await serving;
      await listening.close();
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
