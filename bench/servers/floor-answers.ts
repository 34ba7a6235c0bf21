/**
 * What both floors answer, with no framework: the corpus indexed once (users by id and by userName, groups by id)
 * and the answers pre-rendered or joined from the corpus's own strings. The Express floor (floor.ts) and the
 * node:http floor (http-floor.ts) differ only in how a request reaches these, so the gap between them is the
 * framework's cost, not the answers'.
 */
import type { Corpus } from '../corpus';

export const SCIM_CONTENT_TYPE = 'application/scim+json; charset=utf-8';
const LIST_PREFIX = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"]';
const USER_EQ = /^\s*userName\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$/i;

export interface FloorAnswers {
  /** Page size when `count` is absent, and its upper bound (xero-scim's default is 1000). */
  readonly maxResults: number;
  userById(id: string): string | undefined;
  groupById(id: string): string | undefined;
  /** `GET /Users?filter=userName eq "…"`: a list of one or none (any other filter finds nothing). */
  usersFiltered(filter: string): string;
  /** The user a `userName eq "…"` filter finds, as `usersFiltered` lists it. */
  userNamed(filter: string): string | undefined;
  /** `usersFiltered`'s answer for the user `userNamed` found (or none). */
  lookupAnswer(found: string | undefined): string;
  /** `GET /Users?startIndex=&count=` from the raw query values (absent or unparsable: the defaults). */
  usersPage(startIndex: string | undefined, count: string | undefined): string;
  /** `GET /Groups`, with or without `excludedAttributes=members`: one pre-rendered answer each. */
  groups(excludeMembers: boolean): string;
}

export function listResponse(total: number, startIndex: number, resources: readonly string[]): string {
  return `${LIST_PREFIX},"totalResults":${total},"itemsPerPage":${resources.length},"startIndex":${startIndex},"Resources":[${resources.join(',')}]}`;
}

export function errorBody(status: number, detail: string): string {
  return JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: String(status), detail });
}

function integer(value: string | undefined, fallback: number): number {
  const n = typeof value === 'string' ? Number.parseInt(value, 10) : NaN;
  return Number.isFinite(n) ? n : fallback;
}

export function floorAnswers(corpus: Corpus, maxResults = 1000): FloorAnswers {
  const users = corpus.users;
  const userById = new Map<string, string>();
  const userByName = new Map<string, string>();
  for (const text of users) {
    const { id, userName } = JSON.parse(text) as { id: string; userName: string };
    userById.set(id, text);
    userByName.set(userName.toLowerCase(), text);
  }
  const groupById = new Map<string, string>();
  const groupsWithoutMembers: string[] = [];
  for (const text of corpus.groups) {
    const group = JSON.parse(text) as { id: string; members?: unknown };
    groupById.set(group.id, text);
    delete group.members;
    groupsWithoutMembers.push(JSON.stringify(group));
  }
  const userNamed = (filter: string): string | undefined => {
    const match = USER_EQ.exec(filter);
    return match ? userByName.get(match[1]!.replace(/\\(.)/g, '$1').toLowerCase()) : undefined;
  };
  const lookupAnswer = (found: string | undefined): string => listResponse(found ? 1 : 0, 1, found ? [found] : []);
  const groupsPage = listResponse(groupsWithoutMembers.length, 1, groupsWithoutMembers.slice(0, maxResults));
  const groupsFullPage = listResponse(corpus.groups.length, 1, corpus.groups.slice(0, maxResults));
  return {
    maxResults,
    userById: (id) => userById.get(id),
    groupById: (id) => groupById.get(id),
    usersFiltered: (filter) => lookupAnswer(userNamed(filter)),
    userNamed,
    lookupAnswer,
    usersPage(rawStart, rawCount) {
      const startIndex = Math.max(1, integer(rawStart, 1));
      const count = Math.min(Math.max(0, integer(rawCount, maxResults)), maxResults);
      return listResponse(users.length, startIndex, users.slice(startIndex - 1, startIndex - 1 + count));
    },
    groups: (excludeMembers) => (excludeMembers ? groupsPage : groupsFullPage),
  };
}
