/**
 * ConductorOne's generic SCIM connector (baton-scim, github.com/conductorone/baton-scim) ported for the tests that
 * check a baton-scim configuration against a real listening xero-scim: its configuration's shape
 * (pkg/config/scim_config.go), its JSONPath evaluation, its field mapping (pkg/scim/mappings.go), its role ids
 * (pkg/connector/roles.go) and one sync's read requests (pkg/scim/client.go: pages of 100 via `apiEndpoint` +
 * "Users"/"Groups", stopping when the running sum of `itemsPerPage` reaches `totalResults`, then each user and
 * group by id). The read path sends no `filter`: baton-scim's filter options are set only by provisioning.
 */
import { contract, exchangeOfFetch } from './openapi';

/** The parts of baton-scim's configuration (pkg/config/scim_config.go) the read path uses. */
export interface BatonScimConfig {
  apiEndpoint: string;
  hasScimHeader?: boolean;
  auth: { authType: 'apiKey' | 'basic'; apiKeyPrefix?: string };
  user: {
    id: string;
    userName: string;
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


// ---- baton-scim's building blocks, ported ----

export class UnknownKeyError extends Error {}

/**
 * The JSONPath forms these configurations use, evaluated as PaesslerAG/jsonpath (baton-scim's library) does: a
 * missing key is an error (baton-scim then fails the whole page), `[N]` yields one value, a `[?(@.k==v)]` filter
 * yields a list.
 */
export function jsonPath(path: string, data: unknown): unknown {
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
export function strcaseToSnake(text: string): string {
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

export interface MappedUser {
  id: string;
  userName: string;
  firstName: string;
  lastName: string;
  email: string;
  active: boolean;
  roles: { name: string; displayName: string }[];
}

export interface MappedGroup {
  id: string;
  displayName: string;
  members: { id: string; displayName: string }[];
}

export const asString = (value: unknown): string => (typeof value === 'string' ? value : '');

/** baton-scim `MapUser`. */
export function mapUser(resource: unknown, config: BatonScimConfig['user']): MappedUser {
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
export function mapGroup(resource: unknown, config: BatonScimConfig['group']): MappedGroup {
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
export const batonRoleId = (role: { name: string; displayName: string }) => strcaseToSnake(role.displayName !== '' ? role.displayName : role.name);

export interface Replay {
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
export async function replay(config: BatonScimConfig, apiKey: string): Promise<Replay> {
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

/**
 * The keys baton-scim's configuration structs declare (`yaml:"…"` tags in pkg/config/scim_config.go). It parses the
 * file with yaml.v2's non-strict Unmarshal, so any other key is silently ignored: a configuration should hold none.
 */
const KNOWN_KEYS: Readonly<Record<string, readonly string[]>> = {
  '': ['apiEndpoint', 'hasScimHeader', 'auth', 'user', 'group', 'pagination', 'provisioning'],
  auth: ['authType', 'apiKeyPrefix', 'shouldObtainToken', 'authUrl', 'tokenPath'],
  pagination: ['totalResults', 'itemsPerPage', 'startIndex'],
  group: ['id', 'displayName', 'members'],
  'group.members': ['path', 'id', 'displayName'],
  user: ['id', 'userName', 'firstName', 'lastName', 'primaryEmail', 'firstEmail', 'active', 'roles', 'hasGroupsOnUser', 'userGroup'],
  'user.userGroup': ['path', 'name', 'id'],
  'user.roles': ['path', 'name', 'display'],
  provisioning: ['addUserRole', 'removeUserRole', 'addUserToGroup', 'removeUserFromGroup'],
};
const PATCH_OPERATION = ['schemas', 'op', 'path', 'valuePath'];

/** The dotted paths of keys in `config` that baton-scim does not read. */
export function ignoredKeys(config: unknown, at = ''): string[] {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) return [];
  const known = at.startsWith('provisioning.') ? PATCH_OPERATION : KNOWN_KEYS[at];
  if (!known) return [];
  return Object.entries(config).flatMap(([key, value]) => {
    const path = at === '' ? key : `${at}.${key}`;
    return known.includes(key) ? ignoredKeys(value, path) : [path];
  });
}
