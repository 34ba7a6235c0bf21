/**
 * The Express floor: what Express costs at minimum for the same answers. Bare Express with xero-scim's own bearer
 * check (`scimAuth`); `GET /Users/{id}` from a Map of pre-rendered JSON strings; `GET /Users` pages joined from the
 * same strings; `userName eq "…"` from a Map; `GET /Groups?excludedAttributes=members` one pre-rendered response
 * (floor-answers.ts, shared with the node:http floor). No parsing, no shaping, no filtering engine: anything a real
 * server on Express does costs more than this.
 */
import { randomUUID } from 'node:crypto';
import express, { type ErrorRequestHandler, type Express } from 'express';
import { scimAuth } from '../../src/http/auth';
import { lookupETag, weakETag } from '../../src/http/respond';
import { setSecurityHeaders } from '../../src/http/security-headers';
import type { Corpus } from '../corpus';
import { errorBody, floorAnswers, SCIM_CONTENT_TYPE } from './floor-answers';

export interface FloorOptions {
  readonly corpus: Corpus;
  readonly tokens: readonly string[];
  /** Page size when `count` is absent, and its upper bound (xero-scim's default is 1000). */
  readonly maxResults?: number;
  /**
   * Also send the head fields xero-scim's answers carry (bench/ablation.ts only): its security headers, a request id,
   * `Cache-Control`, and on reads by id and lookups an ETag, looked up (each user's digest, taken once at load).
   */
  readonly sameHead?: boolean;
}

/** Each user's weak ETag by its pre-rendered text, taken once, as xero-scim keeps each resource's. */
function etagsOf(corpus: Corpus): Map<string, string> {
  return new Map(corpus.users.map((text) => [text, weakETag(text)]));
}

/** The ETag of a lookup that finds no one (a fixed tag in either server). */
const NO_MATCH_ETAG = weakETag('no match');

const queryValue = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

export function createFloorApp(options: FloorOptions): Express {
  const answers = floorAnswers(options.corpus, options.maxResults);

  const etags = options.sameHead ? etagsOf(options.corpus) : undefined;

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  if (options.sameHead) {
    app.use((_req, res, next) => {
      setSecurityHeaders(res);
      res.setHeader('X-Request-Id', randomUUID());
      res.setHeader('Cache-Control', 'private, no-cache');
      next();
    });
  }
  const scim = express.Router();
  scim.use(scimAuth({ tokens: options.tokens }));

  scim.get('/Users', (req, res) => {
    const filter = req.query.filter;
    if (typeof filter === 'string') {
      const found = answers.userNamed(filter);
      if (etags) res.setHeader('ETag', found ? lookupETag(etags.get(found)!) : NO_MATCH_ETAG);
      res.type(SCIM_CONTENT_TYPE).send(answers.lookupAnswer(found));
    } else res.type(SCIM_CONTENT_TYPE).send(answers.usersPage(queryValue(req.query.startIndex), queryValue(req.query.count)));
  });
  scim.get('/Users/:id', (req, res) => {
    const text = answers.userById(req.params.id);
    if (text === undefined) res.status(404).type(SCIM_CONTENT_TYPE).send(errorBody(404, 'User not found.'));
    else {
      if (etags) res.setHeader('ETag', etags.get(text)!);
      res.type(SCIM_CONTENT_TYPE).send(text);
    }
  });
  scim.get('/Groups', (req, res) => {
    res.type(SCIM_CONTENT_TYPE).send(answers.groups(req.query.excludedAttributes === 'members'));
  });
  scim.get('/Groups/:id', (req, res) => {
    const text = answers.groupById(req.params.id);
    if (text === undefined) res.status(404).type(SCIM_CONTENT_TYPE).send(errorBody(404, 'Group not found.'));
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
