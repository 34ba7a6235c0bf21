/**
 * deploy/conductorone/*.yaml, replayed the way ConductorOne's SCIM connector (baton-scim) reads a server, against a
 * server on generated sandbox data synced for real: the same requests in the same order (pages of 100 via
 * `apiEndpoint` + "Users"/"Groups" with the configured auth header, stopping when the running sum of
 * `itemsPerPage` reaches `totalResults`; then `GET /Users/{id}` and `GET /Groups/{id}` for every one listed), the
 * same field mapping (the configuration's JSONPaths) and the same derived ids (role id = snake_case of the role's
 * display, else its name). What the replay reconstructs must equal the sandbox's truth.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { directoryOptions } from '../../src/commands/directory-options';
import { loadConfig } from '../../src/config';
import { createXeroDirectory } from '../../src/directory/sync';
import { silentLogger } from '../../src/log';
import { createSandbox, type SandboxUser } from '../../src/sandbox';
import { composeApp, listen } from '../../src/server';
import { contract, exchangeOfFetch } from '../support/openapi';
import { webAppEnvironment } from '../support/sandbox';

const CONFIG_DIR = path.join(__dirname, '..', '..', 'deploy', 'conductorone');
const TOKEN = 'conductorone-replay-token-0123456789';

/** The parts of baton-scim's configuration (pkg/config/scim_config.go) the read path uses. */
interface BatonScimConfig {
  apiEndpoint: string;
  hasScimHeader?: boolean;
  auth: { authType: 'apiKey' | 'basic'; apiKeyPrefix?: string };
  user: {
    id: string;
    userName: string;
    displayName?: string;
    firstName: string;
    lastName: string;
    primaryEmail: string;
    firstEmail: string;
    active: string;
    roles: { path: string; name: string; display?: string };
  };
  group: { id: string; displayName: string; members: { path: string; id: string; displayName: string } };
  pagination: { totalResults: string; itemsPerPage: string; startIndex: string };
  provisioning?: unknown;
}

function readConfig(file: string): BatonScimConfig {
  return YAML.parse(readFileSync(path.join(CONFIG_DIR, file), 'utf8')) as BatonScimConfig;
}

// ---- baton-scim's building blocks, ported ----

class UnknownKeyError extends Error {}

/**
 * The JSONPath forms these configurations use, evaluated as PaesslerAG/jsonpath (baton-scim's library) does: a
 * missing key is an error (baton-scim then fails the whole page), `[N]` yields one value, a `[?(@.k==v)]` filter
 * yields a list.
 */
function jsonPath(path: string, data: unknown): unknown {
  if (path === '') return undefined;
  const tokens = path.replace(/^\$\.?/, '').match(/[^.[\]]+|\[\?\([^\]]*\)\]|\[\d+\]/g) ?? [];
  let values: unknown[] = [data];
  let listed = false;
  for (const token of tokens) {
    const next: unknown[] = [];
    const filter = token.match(/^\[\?\(@\.(\w+)\s*==\s*(true|false|"[^"]*")\)\]$/);
    const index = token.match(/^\[(\d+)\]$/);
    for (const value of values) {
      if (filter) {
        if (!Array.isArray(value)) throw new UnknownKeyError(`${token} applied to a non-array`);
        const wanted = JSON.parse(filter[2]!) as unknown;
        next.push(...value.filter((item) => (item as Record<string, unknown> | null)?.[filter[1]!] === wanted));
        listed = true;
      } else if (index) {
        if (!Array.isArray(value) || Number(index[1]) >= value.length) throw new UnknownKeyError(`index ${index[1]} out of range`);
        next.push(value[Number(index[1])]);
      } else {
        if (typeof value !== 'object' || value === null || !(token in value)) {
          if (listed) continue; // inside a filter's results, an element without the key is skipped
          throw new UnknownKeyError(`unknown key ${token}`);
        }
        next.push((value as Record<string, unknown>)[token]);
      }
    }
    values = next;
  }
  return listed ? values : values[0];
}

/**
 * iancoleman/strcase v0.3.0 `ToSnake`, which baton-scim applies to a role's display (or name) to make its id.
 * It works on bytes: only ASCII letters change case and mark word boundaries; space, `_`, `-` and `.` become `_`;
 * every other byte (an em dash, `ō`, `&`) is kept as it is.
 */
function strcaseToSnake(text: string): string {
  const s = Buffer.from(text.trim(), 'utf8');
  const out: number[] = [];
  const isCap = (b: number | undefined) => b !== undefined && b >= 0x41 && b <= 0x5a;
  const isLow = (b: number | undefined) => b !== undefined && b >= 0x61 && b <= 0x7a;
  const isNum = (b: number | undefined) => b !== undefined && b >= 0x30 && b <= 0x39;
  const UNDERSCORE = 0x5f;
  for (let i = 0; i < s.length; i++) {
    let v = s[i]!;
    const vIsCap = isCap(v);
    const vIsLow = isLow(v);
    if (vIsCap) v += 0x20;
    if (i + 1 < s.length) {
      const next = s[i + 1];
      const vIsNum = isNum(v);
      if ((vIsCap && (isLow(next) || isNum(next))) || (vIsLow && (isCap(next) || isNum(next))) || (vIsNum && (isCap(next) || isLow(next)))) {
        if (vIsCap && isLow(next) && i > 0 && isCap(s[i - 1])) out.push(UNDERSCORE);
        out.push(v);
        if (vIsLow || vIsNum || isNum(next)) out.push(UNDERSCORE);
        continue;
      }
    }
    out.push(v === 0x20 || v === 0x5f || v === 0x2d || v === 0x2e ? UNDERSCORE : v);
  }
  return Buffer.from(out).toString('utf8');
}

interface MappedUser {
  id: string;
  userName: string;
  firstName: string;
  lastName: string;
  email: string;
  active: boolean;
  roles: { name: string; displayName: string }[];
}

interface MappedGroup {
  id: string;
  displayName: string;
  members: { id: string; displayName: string }[];
}

const asString = (value: unknown): string => (typeof value === 'string' ? value : '');

/** baton-scim `MapUser`. */
function mapUser(resource: unknown, config: BatonScimConfig['user']): MappedUser {
  let email: string;
  // extractPrimaryOrFirstEmail: the first primary address, else firstEmail (which must then be a string).
  const primary = (() => {
    try {
      return jsonPath(config.primaryEmail, resource);
    } catch {
      return undefined;
    }
  })();
  if (Array.isArray(primary) && typeof primary[0] === 'string') email = primary[0];
  else {
    const first = jsonPath(config.firstEmail, resource);
    if (typeof first !== 'string') throw new Error('no valid email found');
    email = first;
  }
  const active = jsonPath(config.active, resource);
  const roles = jsonPath(config.roles.path, resource);
  const list = Array.isArray(roles) ? roles : roles && typeof roles === 'object' ? [roles] : [];
  return {
    id: asString(jsonPath(config.id, resource)),
    userName: asString(jsonPath(config.userName, resource)),
    firstName: asString(jsonPath(config.firstName, resource)),
    lastName: asString(jsonPath(config.lastName, resource)),
    email,
    active: active === true,
    roles: list
      .map((role) => ({ name: asString(jsonPath(config.roles.name, role)), displayName: asString(jsonPath(config.roles.display ?? '', role)) }))
      .filter((role) => role.name !== ''), // baton-scim drops roles without a name
  };
}

/** baton-scim `MapGroup`. */
function mapGroup(resource: unknown, config: BatonScimConfig['group']): MappedGroup {
  const members = jsonPath(config.members.path, resource);
  return {
    id: asString(jsonPath(config.id, resource)),
    displayName: asString(jsonPath(config.displayName, resource)),
    members: (Array.isArray(members) ? members : []).map((m) => ({
      id: asString(jsonPath(config.members.id, m)),
      displayName: asString(jsonPath(config.members.displayName, m)),
    })),
  };
}

/** baton-scim `roleResource`: the role's id. */
const batonRoleId = (role: { name: string; displayName: string }) => strcaseToSnake(role.displayName !== '' ? role.displayName : role.name);

interface Replay {
  users: MappedUser[];
  groups: MappedGroup[];
  /** Role id → display name, from the user lists (baton-scim's role List). */
  roles: Map<string, string>;
  /** User id → role ids, from GET /Users/{id} (baton-scim's user Grants). */
  userRoles: Map<string, string[]>;
  /** Group id → member ids, from GET /Groups/{id} (baton-scim's group Grants). */
  groupMembers: Map<string, string[]>;
  /** Every request, as `GET /path?query`. */
  requests: string[];
}

/** One baton-scim sync's read requests against `apiEndpoint`, mapped as it maps them. */
async function replay(config: BatonScimConfig, apiKey: string): Promise<Replay> {
  const requests: string[] = [];
  const get = async (segments: string[], page?: { startIndex: number; count: number }): Promise<unknown> => {
    // Go's url.JoinPath: the endpoint's trailing slash and the joined segments give one slash each.
    const url = new URL(config.apiEndpoint.replace(/\/+$/, '') + '/' + segments.map(encodeURIComponent).join('/'));
    // url.Values.Encode sorts the keys: count before startIndex.
    if (page) url.search = `count=${page.count}&startIndex=${page.startIndex}`;
    requests.push(`GET ${url.pathname}${url.search}`);
    expect(config.auth.authType).toBe('apiKey');
    const response = await fetch(url, {
      headers: {
        Authorization: config.auth.apiKeyPrefix ? `${config.auth.apiKeyPrefix} ${apiKey}` : apiKey,
        // uhttp.WithAcceptJSONHeader, replaced by application/scim+json when hasScimHeader is set.
        Accept: config.hasScimHeader ? 'application/scim+json' : 'application/json',
        'Content-Type': 'application/json',
      },
    });
    const text = await response.text();
    // Every answer the connector gets is also held to the OpenAPI document.
    expect(contract().problems(exchangeOfFetch('GET', url.toString(), response, text))).toEqual([]);
    expect(`${response.status} ${url.pathname}`).toBe(`200 ${url.pathname}`);
    return JSON.parse(text) as unknown;
  };

  /** ListUsers / ListGroups: pages of 100 until the summed itemsPerPage reaches totalResults. */
  const crawl = async (collection: 'Users' | 'Groups'): Promise<unknown[]> => {
    const resources: unknown[] = [];
    let returned = 0;
    for (;;) {
      const body = await get([collection], { startIndex: returned + 1, count: 100 });
      const page = jsonPath('$.Resources', body);
      if (!Array.isArray(page)) throw new Error('invalid resource format');
      resources.push(...page);
      // MapPagination: each field must be a JSON number (Go asserts float64).
      const numbers = ['totalResults', 'itemsPerPage', 'startIndex'] as const;
      const [totalResults, itemsPerPage, startIndex] = numbers.map((k) => jsonPath(config.pagination[k], body));
      for (const n of [totalResults, itemsPerPage, startIndex]) expect(typeof n).toBe('number');
      expect(startIndex).toBe(returned + 1);
      returned += itemsPerPage as number;
      if (returned >= (totalResults as number)) return resources;
      if ((itemsPerPage as number) === 0) throw new Error('the server returned an empty page before totalResults: baton-scim would loop forever');
    }
  };

  const users = (await crawl('Users')).map((r) => mapUser(r, config.user));
  const groups = (await crawl('Groups')).map((r) => mapGroup(r, config.group));
  const roles = new Map<string, string>();
  for (const user of (await crawl('Users')).map((r) => mapUser(r, config.user))) {
    for (const role of user.roles) roles.set(batonRoleId(role), role.displayName || role.name);
  }
  const userRoles = new Map<string, string[]>();
  for (const user of users) {
    const detail = mapUser(await get(['Users', user.id]), config.user);
    expect(detail).toEqual(user); // GET /Users/{id} shows what the list showed
    userRoles.set(user.id, detail.roles.map(batonRoleId).sort());
  }
  const groupMembers = new Map<string, string[]>();
  for (const group of groups) {
    const detail = mapGroup(await get(['Groups', group.id]), config.group);
    groupMembers.set(group.id, detail.members.map((m) => m.id).sort());
  }
  return { users, groups, roles, userRoles, groupMembers, requests };
}

// ---- the sandbox's truth, computed from its data alone ----

/** Xero's role names (what the server shows as a role's display), by OrganisationRole code. */
const ROLE_NAME: Readonly<Record<string, string>> = {
  READONLY: 'Read only',
  INVOICEONLY: 'Invoice only',
  STANDARD: 'Standard',
  FINANCIALADVISER: 'Financial adviser',
  MANAGEDCLIENT: 'Managed client',
  CASHBOOKCLIENT: 'Cashbook client',
};
/** baton-xero's role slugs, with Xero's spelling of the adviser role (baton-xero's own FINANCIALADVISOR lost those grants). */
const BATON_XERO_SLUGS = ['readonly', 'invoiceonly', 'standard', 'financialadviser', 'managedclient', 'cashbookclient'];

const grantable = (role: string) => role in ROLE_NAME;
const normalised = (email: string) => email.trim().toLowerCase();

describe('deploy/conductorone', () => {
  jest.setTimeout(120_000);

  const files = readdirSync(CONFIG_DIR).filter((f) => f.endsWith('.yaml')).sort();
  let sandbox: ReturnType<typeof createSandbox>;
  let xero: { url: string; close(): Promise<void> };
  let server: { url: string; close(): Promise<void> };
  let stop: () => Promise<void>;

  beforeAll(async () => {
    // A few hundred memberships in six organisations, people shared between them, removed and UNKNOWN records.
    sandbox = createSandbox({ data: { seed: 'conductorone', organisations: 6, usersPerOrganisation: 60, partnerShare: 0.34, unknownShare: 0.03, removedShare: 0.05 } });
    xero = await sandbox.listen(0, '127.0.0.1');
    const stateDir = mkdtempSync(path.join(tmpdir(), 'xero-scim-c1-'));
    const config = loadConfig({
      ...webAppEnvironment(sandbox, xero.url),
      STATE_DIR: stateDir,
    });
    const directory = createXeroDirectory(directoryOptions(config), { logger: silentLogger, policy: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 5 } });
    expect((await directory.syncOnce()).outcome).toBe('ok');
    server = await listen(composeApp({ directory, tokens: [TOKEN], logger: silentLogger }).app, 0, '127.0.0.1');
    stop = async () => {
      await server.close();
      await directory.stop();
      await xero.close();
      rmSync(stateDir, { recursive: true, force: true });
    };
  });
  afterAll(async () => {
    await stop?.();
  });

  /** The configuration with the example host (and tenant) replaced by the test server's. */
  const pointed = (file: string, tenantId?: string): BatonScimConfig => {
    const config = readConfig(file);
    const endpoint = new URL(config.apiEndpoint.replace('<tenantId>', tenantId ?? '<tenantId>'));
    return { ...config, apiEndpoint: `${server.url}${endpoint.pathname}` };
  };

  it('has exactly the two configurations, each read-only and in baton-scim’s shape', () => {
    expect(files).toEqual(['xero-scim-single-tenant.yaml', 'xero-scim.yaml']);
    for (const file of files) {
      const config = readConfig(file);
      expect(config.apiEndpoint).toMatch(/^https:\/\/scim\.example\.com\/scim\/v2\/(tenants\/<tenantId>\/)?$/);
      expect(config.auth).toEqual({ authType: 'apiKey', apiKeyPrefix: 'Bearer' });
      expect(config.hasScimHeader).toBe(true);
      expect(config.pagination).toEqual({ totalResults: 'totalResults', itemsPerPage: 'itemsPerPage', startIndex: 'startIndex' });
      expect(config.provisioning).toBeUndefined();
      expect(config.user).toMatchObject({ id: 'id', primaryEmail: 'emails[?(@.primary==true)].value', firstEmail: 'emails[0].value', active: 'active' });
    }
  });

  it('xero-scim.yaml: the global view reconstructs every person, membership and role of every organisation', async () => {
    const organisations = sandbox.data.organisations();
    const records = organisations.flatMap((o) => sandbox.data.users(o.organisationId).map((user) => ({ org: o, user })));
    const result = await replay(pointed('xero-scim.yaml'), TOKEN);

    // The request sequence: users in pages of 100, groups, users again (for roles), then each user and group by id.
    const people = new Map<string, { org: (typeof organisations)[number]; user: SandboxUser }[]>();
    for (const r of records) {
      const key = normalised(r.user.email);
      people.set(key, [...(people.get(key) ?? []), r]);
    }
    const userPages = Math.ceil(people.size / 100);
    expect(people.size).toBeGreaterThan(200);
    expect(userPages).toBeGreaterThan(1);
    const pages = (collection: string, total: number) =>
      Array.from({ length: Math.max(1, Math.ceil(total / 100)) }, (_, i) => `GET /scim/v2/${collection}?count=100&startIndex=${i * 100 + 1}`);
    expect(result.requests).toEqual([
      ...pages('Users', people.size),
      ...pages('Groups', organisations.length),
      ...pages('Users', people.size),
      ...result.users.map((u) => `GET /scim/v2/Users/${u.id}`),
      ...result.groups.map((g) => `GET /scim/v2/Groups/${g.id}`),
    ]);

    // Users: one per e-mail, named and addressed as their newest Xero record, enabled while they have access.
    const byEmail = new Map(result.users.map((u) => [normalised(u.email), u]));
    expect(byEmail.size).toBe(result.users.length);
    expect([...byEmail.keys()].sort()).toEqual([...people.keys()].sort());
    for (const [email, held] of people) {
      const newest = held.reduce((a, b) => (b.user.updatedAt > a.user.updatedAt ? b : a));
      const user = byEmail.get(email)!;
      expect({ userName: user.userName, email: user.email, firstName: user.firstName, lastName: user.lastName, active: user.active }).toEqual({
        userName: email,
        email: newest.user.email.trim(),
        firstName: newest.user.firstName,
        lastName: newest.user.lastName,
        active: held.some((h) => h.user.role !== 'REMOVED'),
      });
    }
    const emailOf = new Map(result.users.map((u) => [u.id, normalised(u.email)]));

    // Groups: one per organisation, its members the people with access (not removed).
    expect(result.groups.map((g) => g.displayName).sort()).toEqual(organisations.map((o) => o.name).sort());
    for (const org of organisations) {
      const group = result.groups.find((g) => g.id === org.organisationId)!;
      const expected = sandbox.data.users(org.organisationId).filter((u) => u.role !== 'REMOVED').map((u) => normalised(u.email));
      expect(result.groupMembers.get(group.id)!.map((id) => emailOf.get(id)).sort()).toEqual([...new Set(expected)].sort());
    }

    // Roles: one per organisation and grantable role held, named "<organisation> — <role>", ids distinct.
    const roleKey = (orgName: string, role: string) => strcaseToSnake(`${orgName} — ${ROLE_NAME[role]}`);
    const expectedRoles = new Map<string, string[]>();
    for (const { org, user } of records) {
      if (!grantable(user.role)) continue;
      const key = roleKey(org.name, user.role);
      expectedRoles.set(key, [...(expectedRoles.get(key) ?? []), normalised(user.email)]);
    }
    const heldPairs = new Set(records.filter((r) => grantable(r.user.role)).map((r) => `${r.org.organisationId}/${r.user.role}`));
    expect(expectedRoles.size).toBe(heldPairs.size); // no two organisations' roles collapse into one baton role id
    expect([...result.roles.keys()].sort()).toEqual([...expectedRoles.keys()].sort());
    const granted = new Map<string, string[]>();
    for (const [userId, roleIds] of result.userRoles) for (const id of roleIds) granted.set(id, [...(granted.get(id) ?? []), emailOf.get(userId)!]);
    expect(new Map([...granted].map(([id, emails]) => [id, emails.sort()]))).toEqual(new Map([...expectedRoles].map(([id, emails]) => [id, emails.sort()])));
  });

  it('xero-scim-single-tenant.yaml: one organisation as baton-xero saw it, Xero UserIDs and baton-xero’s role slugs', async () => {
    for (const org of sandbox.data.organisations()) {
      const xeroUsers = sandbox.data.users(org.organisationId);
      const result = await replay(pointed('xero-scim-single-tenant.yaml', org.organisationId), TOKEN);
      const base = `/scim/v2/tenants/${org.organisationId}`;
      expect(result.requests.slice(0, 2)).toEqual([`GET ${base}/Users?count=100&startIndex=1`, `GET ${base}/Groups?count=100&startIndex=1`]);

      // Every Xero user record of the organisation, removed ones disabled, by its UserID.
      expect(result.users.map((u) => u.id).sort()).toEqual(xeroUsers.map((u) => u.userId).sort());
      for (const xu of xeroUsers) {
        const user = result.users.find((u) => u.id === xu.userId)!;
        expect({ email: user.email, firstName: user.firstName, lastName: user.lastName, active: user.active, roles: result.userRoles.get(xu.userId) }).toEqual({
          email: xu.email.trim(),
          firstName: xu.firstName,
          lastName: xu.lastName,
          active: xu.role !== 'REMOVED',
          roles: grantable(xu.role) ? [xu.role.toLowerCase()] : [],
        });
      }
      expect(result.groups.map((g) => [g.id, g.displayName])).toEqual([[org.organisationId, org.name]]);
      expect(result.groupMembers.get(org.organisationId)).toEqual(xeroUsers.filter((u) => u.role !== 'REMOVED').map((u) => u.userId).sort());
      const held = [...new Set(xeroUsers.filter((u) => grantable(u.role)).map((u) => u.role.toLowerCase()))].sort();
      expect([...result.roles.keys()].sort()).toEqual(held);
      for (const id of result.roles.keys()) expect(BATON_XERO_SLUGS).toContain(id);
    }
  });

  it('a wrong token is refused with 401 (fatal for baton-scim), answered as the document says', async () => {
    const config = pointed('xero-scim.yaml');
    const url = `${config.apiEndpoint}Users?count=100&startIndex=1`;
    const response = await fetch(url, { headers: { Authorization: 'Bearer not-the-token', Accept: 'application/scim+json' } });
    const text = await response.text();
    expect(response.status).toBe(401);
    expect(contract().problems(exchangeOfFetch('GET', url, response, text))).toEqual([]);
  });
});

describe('the ported pieces of baton-scim', () => {
  it.each([
    ['Standard', 'standard'],
    ['financialadviser', 'financialadviser'],
    ['Financial adviser', 'financial_adviser'],
    ['Acme Ltd — Read only', 'acme_ltd_—_read_only'],
    ['Kōwhai Joinery — Standard', 'kōwhai_joinery_—_standard'],
    ['JSONData', 'json_data'],
    ['Tui Builders 2 — Invoice only', 'tui_builders_2_—_invoice_only'],
    ['AnyKind of_string', 'any_kind_of_string'],
    ['numbers2and55with000', 'numbers_2_and_55_with_000'],
    ['AAAbbb', 'aa_abbb'],
    ['userID', 'user_id'],
    ['A1 A2 A3', 'a_1_a_2_a_3'],
    [' Test Case ', 'test_case'],
  ])('strcase.ToSnake(%j) is %j', (input, expected) => {
    expect(strcaseToSnake(input)).toBe(expected);
  });

  it('evaluates the configurations’ JSONPaths as PaesslerAG/jsonpath does', () => {
    const user = { id: 'u', name: { givenName: 'Ann' }, emails: [{ value: 'a@x', primary: false }, { value: 'b@x', primary: true }], roles: [] };
    expect(jsonPath('name.givenName', user)).toBe('Ann');
    expect(jsonPath('emails[0].value', user)).toBe('a@x');
    expect(jsonPath('emails[?(@.primary==true)].value', user)).toEqual(['b@x']);
    expect(jsonPath('$.Resources', { Resources: [1] })).toEqual([1]);
    expect(() => jsonPath('name.familyName', user)).toThrow(UnknownKeyError);
    expect(() => jsonPath('emails[2].value', user)).toThrow(UnknownKeyError);
  });
});
