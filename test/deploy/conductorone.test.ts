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
import { createApp } from '../../src/http/app';
import { listen } from '../../src/http/listen';
import { type BatonScimConfig, ignoredKeys, replay, strcaseToSnake, jsonPath, UnknownKeyError } from '../support/baton-scim';
import { contract, exchangeOfFetch } from '../support/openapi';
import { webAppEnvironment } from '../support/sandbox';

const CONFIG_DIR = path.join(__dirname, '..', '..', 'deploy', 'conductorone');
const TOKEN = 'conductorone-replay-token-0123456789';

function readConfig(file: string): BatonScimConfig {
  return YAML.parse(readFileSync(path.join(CONFIG_DIR, file), 'utf8')) as BatonScimConfig;
}

/** Xero's role names (what the server shows as a role's display), by OrganisationRole code. */
const ROLE_NAME: Readonly<Record<string, string>> = {
  READONLY: 'Read only',
  INVOICEONLY: 'Invoice only',
  STANDARD: 'Standard',
  FINANCIALADVISER: 'Financial adviser',
  MANAGEDCLIENT: 'Managed client',
  CASHBOOKCLIENT: 'Cashbook client',
};
/**
 * baton-xero's role resources (pkg/connector/roles.go), in its own spelling: `financialadvisor`, which Xero does not
 * use (its code is FINANCIALADVISER), so baton-xero's `where OrganisationRole=="FINANCIALADVISOR"` found no one.
 */
const BATON_XERO_ROLES = ['readonly', 'invoiceonly', 'standard', 'financialadvisor', 'managedclient', 'cashbookclient'];
/** The role id the single-tenant configuration gives each of baton-xero's roles: Xero's code, lower-cased. */
const SINGLE_TENANT_ROLE: Readonly<Record<string, string>> = Object.fromEntries(
  BATON_XERO_ROLES.map((role) => [role, role === 'financialadvisor' ? 'financialadviser' : role]),
);
/** baton-sdk `entitlement.NewEntitlementID`: `<resource type>:<resource id>:<slug>`. */
const entitlementId = (type: string, id: string, slug: string) => `${type}:${id}:${slug}`;

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
    server = await listen(createApp({ directory, tokens: [TOKEN], logger: silentLogger }), 0, '127.0.0.1');
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
      // yaml.v2 ignores keys its structs do not declare (e.g. user.displayName): none is left to mislead a reader.
      expect(ignoredKeys(config)).toEqual([]);
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

  it('xero-scim-single-tenant.yaml: one organisation with Xero UserIDs and role ids as Xero spells them', async () => {
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
      for (const id of result.roles.keys()) expect(Object.values(SINGLE_TENANT_ROLE)).toContain(id);
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

describe('README: moving from baton-xero', () => {
  /** The table's rows, by Xero role code: [baton-xero's ids, baton-scim's ids with the single-tenant configuration]. */
  const table = (() => {
    const readme = readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
    const from = readme.indexOf('**Moving from baton-xero.**');
    const section = readme.slice(from, readme.indexOf('\n## ', from));
    const rows = section.split('\n').filter((line) => /^\| `[A-Z]+` \|/.test(line));
    return new Map(rows.map((line) => {
      const [role, before, after] = line.split('|').slice(1, 4).map((cell) => cell.trim());
      return [role!.replace(/`/g, ''), { before: before!, after: after! }];
    }));
  })();

  it('has one row per Xero role, each giving baton-xero’s role and entitlement ids (its own spelling) and baton-scim’s', () => {
    expect([...table.keys()].sort()).toEqual(Object.keys(ROLE_NAME).sort());
    for (const [xeroRole, row] of table) {
      const batonXero = BATON_XERO_ROLES.find((slug) => slug === xeroRole.toLowerCase() || (slug === 'financialadvisor' && xeroRole === 'FINANCIALADVISER'))!;
      // baton-xero: role resource `role:<slug>`, NewAssignmentEntitlement(resource, <slug>).
      expect(row.before.startsWith(`\`role:${batonXero}\`, \`${entitlementId('role', batonXero, batonXero)}\``)).toBe(true);
      // baton-scim: role resource `role:<snake-cased display>`, NewAssignmentEntitlement(resource, "member").
      const id = SINGLE_TENANT_ROLE[batonXero]!;
      expect(id).toBe(strcaseToSnake(xeroRole.toLowerCase()));
      expect(row.after).toBe(`\`role:${id}\`, \`${entitlementId('role', id, 'member')}\``);
    }
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
