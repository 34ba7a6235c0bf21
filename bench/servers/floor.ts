/**
 * The Express floor: what Express costs at minimum for the same answers. Bare Express with xero-scim's own bearer
 * check (`scimAuth`); `GET /Users/{id}` from a Map of pre-rendered JSON strings; `GET /Users` pages joined from the
 * same strings; `userName eq "…"` from a Map; `GET /Groups?excludedAttributes=members` one pre-rendered response.
 * No parsing, no shaping, no filtering engine: anything a real server does costs more than this.
 */
import express, { type ErrorRequestHandler, type Express } from 'express';
import { scimAuth } from '../../src/http/auth';
import type { Corpus } from '../corpus';

const SCIM_CONTENT_TYPE = 'application/scim+json; charset=utf-8';
const LIST_PREFIX = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"]';
const USER_EQ = /^\s*userName\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$/i;

export interface FloorOptions {
  readonly corpus: Corpus;
  readonly tokens: readonly string[];
  /** Page size when `count` is absent, and its upper bound (xero-scim's default is 1000). */
  readonly maxResults?: number;
}

function listResponse(total: number, startIndex: number, resources: readonly string[]): string {
  return `${LIST_PREFIX},"totalResults":${total},"itemsPerPage":${resources.length},"startIndex":${startIndex},"Resources":[${resources.join(',')}]}`;
}

function notFoundBody(detail: string): string {
  return JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '404', detail });
}

function integer(value: unknown, fallback: number): number {
  const n = typeof value === 'string' ? Number.parseInt(value, 10) : NaN;
  return Number.isFinite(n) ? n : fallback;
}

export function createFloorApp(options: FloorOptions): Express {
  const maxResults = options.maxResults ?? 1000;
  const users = options.corpus.users;
  const userById = new Map<string, string>();
  const userByName = new Map<string, string>();
  for (const text of users) {
    const { id, userName } = JSON.parse(text) as { id: string; userName: string };
    userById.set(id, text);
    userByName.set(userName.toLowerCase(), text);
  }
  const groupById = new Map<string, string>();
  const groupsWithoutMembers: string[] = [];
  for (const text of options.corpus.groups) {
    const group = JSON.parse(text) as { id: string; members?: unknown };
    groupById.set(group.id, text);
    delete group.members;
    groupsWithoutMembers.push(JSON.stringify(group));
  }
  const groupsPage = listResponse(groupsWithoutMembers.length, 1, groupsWithoutMembers.slice(0, maxResults));
  const groupsFullPage = listResponse(options.corpus.groups.length, 1, options.corpus.groups.slice(0, maxResults));

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const scim = express.Router();
  scim.use(scimAuth({ tokens: options.tokens }));

  scim.get('/Users', (req, res) => {
    const filter = req.query.filter;
    if (typeof filter === 'string') {
      const match = USER_EQ.exec(filter);
      const found = match ? userByName.get(match[1]!.replace(/\\(.)/g, '$1').toLowerCase()) : undefined;
      res.type(SCIM_CONTENT_TYPE).send(listResponse(found ? 1 : 0, 1, found ? [found] : []));
      return;
    }
    const startIndex = Math.max(1, integer(req.query.startIndex, 1));
    const count = Math.min(Math.max(0, integer(req.query.count, maxResults)), maxResults);
    res.type(SCIM_CONTENT_TYPE).send(listResponse(users.length, startIndex, users.slice(startIndex - 1, startIndex - 1 + count)));
  });
  scim.get('/Users/:id', (req, res) => {
    const text = userById.get(req.params.id);
    if (text === undefined) res.status(404).type(SCIM_CONTENT_TYPE).send(notFoundBody('User not found.'));
    else res.type(SCIM_CONTENT_TYPE).send(text);
  });
  scim.get('/Groups', (req, res) => {
    res.type(SCIM_CONTENT_TYPE).send(req.query.excludedAttributes === 'members' ? groupsPage : groupsFullPage);
  });
  scim.get('/Groups/:id', (req, res) => {
    const text = groupById.get(req.params.id);
    if (text === undefined) res.status(404).type(SCIM_CONTENT_TYPE).send(notFoundBody('Group not found.'));
    else res.type(SCIM_CONTENT_TYPE).send(text);
  });

  const errors: ErrorRequestHandler = (error: { status?: number; toJSON?: () => unknown; headers?: Record<string, string> }, _req, res, _next) => {
    res.set(error.headers ?? {});
    res.status(error.status ?? 500).type(SCIM_CONTENT_TYPE).send(JSON.stringify(error.toJSON?.() ?? { status: '500' }));
  };
  app.use('/scim/v2', scim);
  app.use(errors);
  return app;
}
