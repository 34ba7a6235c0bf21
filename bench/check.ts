/**
 * Answers are checked before anything is timed: a fast wrong answer is not a result. The same checks run against
 * all three servers, against the expected users derived from the sandbox's data (see dataset.ts).
 *
 * `errors` make a server's figures invalid; `deviations` are protocol details that differ from what xero-scim and
 * the SCIM pollers expect (e.g. `itemsPerPage` echoing the requested count) and are reported, not disqualifying.
 */
import type { Expected } from './dataset';

/** xero-scim's User extension, and the id the SCIMMY reference serves it under (servers/scimmy.ts). */
const XERO_USER = ['urn:xero-scim:schemas:extension:xero:1.0:User', 'urn:ietf:params:scim:schemas:extension:xero-scim:1.0:User'];

export interface CheckResult {
  errors: string[];
  deviations: string[];
}

type Json = Record<string, unknown>;

function sorted(values: unknown[]): string[] {
  return values.map(String).sort();
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Problems with one User resource; empty when it is the expected person with the expected memberships. */
export function checkUser(user: Json, expected: Expected, where: string): string[] {
  const userName = typeof user.userName === 'string' ? user.userName : '';
  const want = expected.users.get(userName.toLowerCase());
  if (!want) return [`${where}: unknown userName ${JSON.stringify(user.userName)}`];
  const problems: string[] = [];
  if (typeof user.id !== 'string' || user.id === '') problems.push(`${where}: no id`);
  if (user.active !== want.active) problems.push(`${where}: ${userName} active=${String(user.active)}, expected ${want.active}`);
  const groups = sorted(((user.groups as Json[] | undefined) ?? []).map((g) => String(g.value).toLowerCase()));
  if (!sameList(groups, want.groups)) problems.push(`${where}: ${userName} groups ${groups.join(',')} ≠ ${want.groups.join(',')}`);
  const extension = (user[XERO_USER[0]!] ?? user[XERO_USER[1]!]) as { organisations?: Json[] } | undefined;
  const records = sorted((extension?.organisations ?? []).map((o) => `${String(o.value).toLowerCase()}/${String(o.role)}`));
  if (!sameList(records, want.records)) problems.push(`${where}: ${userName} Xero records ${records.join(',')} ≠ ${want.records.join(',')}`);
  const emails = user.emails as Json[] | undefined;
  if (!emails?.length || String(emails[0]!.value).toLowerCase() !== userName) problems.push(`${where}: ${userName} has no matching e-mail`);
  return problems;
}

/** A page of `GET /Users?startIndex=&count=`. */
export function checkUserPage(body: Json, expected: Expected, startIndex: number, count: number, where: string): CheckResult {
  const result: CheckResult = { errors: [], deviations: [] };
  const total = expected.users.size;
  const resources = body.Resources as Json[] | undefined;
  if (!Array.isArray(resources)) return { errors: [`${where}: no Resources array`], deviations: [] };
  if (body.totalResults !== total) result.errors.push(`${where}: totalResults ${String(body.totalResults)} ≠ ${total}`);
  if (body.startIndex !== startIndex) result.errors.push(`${where}: startIndex ${String(body.startIndex)} ≠ ${startIndex}`);
  const wanted = Math.max(0, Math.min(count, total - startIndex + 1));
  if (resources.length !== wanted) result.errors.push(`${where}: ${resources.length} resources, expected ${wanted}`);
  if (body.itemsPerPage !== resources.length) result.deviations.push(`itemsPerPage ${String(body.itemsPerPage)} is not the number of resources returned (${resources.length})`);
  resources.forEach((r, i) => result.errors.push(...checkUser(r, expected, `${where}[${i}]`)));
  return result;
}

/** `GET /Users?filter=userName eq "<userName>"`. */
export function checkUserNameFilter(body: Json, expected: Expected, userName: string, where: string): CheckResult {
  const result: CheckResult = { errors: [], deviations: [] };
  const resources = body.Resources as Json[] | undefined;
  if (!Array.isArray(resources) || resources.length !== 1) return { errors: [`${where}: expected exactly one resource for ${userName}`], deviations: [] };
  if (body.totalResults !== 1) result.errors.push(`${where}: totalResults ${String(body.totalResults)} ≠ 1`);
  if (body.itemsPerPage !== 1) result.deviations.push(`itemsPerPage ${String(body.itemsPerPage)} is not the number of resources returned (1)`);
  if (resources[0]!.userName !== userName) result.errors.push(`${where}: got ${String(resources[0]!.userName)} for ${userName}`);
  result.errors.push(...checkUser(resources[0]!, expected, where));
  return result;
}

/** `GET /Groups?excludedAttributes=members`. */
export function checkGroups(body: Json, expected: Expected, where: string): CheckResult {
  const result: CheckResult = { errors: [], deviations: [] };
  const resources = body.Resources as Json[] | undefined;
  if (!Array.isArray(resources)) return { errors: [`${where}: no Resources array`], deviations: [] };
  if (body.totalResults !== expected.organisations.size) result.errors.push(`${where}: totalResults ${String(body.totalResults)} ≠ ${expected.organisations.size}`);
  if (resources.length === 0) result.errors.push(`${where}: no groups returned`);
  for (const group of resources) {
    if (!expected.organisations.has(String(group.id).toLowerCase())) result.errors.push(`${where}: unknown group ${String(group.id)}`);
    if ('members' in group) result.errors.push(`${where}: group ${String(group.id)} has members despite excludedAttributes=members`);
    if (typeof group.displayName !== 'string') result.errors.push(`${where}: group ${String(group.id)} has no displayName`);
  }
  if (body.itemsPerPage !== resources.length) result.deviations.push(`itemsPerPage ${String(body.itemsPerPage)} is not the number of resources returned (${resources.length})`);
  if (resources.length < expected.organisations.size) result.deviations.push(`returns ${resources.length} of ${expected.organisations.size} groups when no count is given`);
  return result;
}
