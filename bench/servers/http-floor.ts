/**
 * The node:http floor: what Node itself costs at minimum for the same answers as the Express floor, with no
 * framework. A request handler for `http.createServer`: the path split by hand, the query read with
 * URLSearchParams, xero-scim's own token comparison (`tokenMatcher`: SHA-256 digests compared in constant time,
 * the 401s `scimAuth` gives), and the pre-rendered answers of floor-answers.ts. Express's routing, its
 * request/response prototypes and its `res.send` are what this leaves out; comparing xero-scim with both floors
 * tells the framework's share of its cost from its own.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { tokenMatcher } from '../../src/http/auth';
import type { Corpus } from '../corpus';
import { errorBody, floorAnswers, SCIM_CONTENT_TYPE } from './floor-answers';

export interface HttpFloorOptions {
  readonly corpus: Corpus;
  readonly tokens: readonly string[];
  /** Page size when `count` is absent, and its upper bound (xero-scim's default is 1000). */
  readonly maxResults?: number;
}

const PREFIX = '/scim/v2/';
const CHALLENGE = 'Bearer realm="xero-scim"';

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': SCIM_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

/** `scimAuth`'s three refusals: no header, a wrong bearer token, another scheme (never echoed). */
function refuse(res: ServerResponse, header: string | undefined): void {
  if (!header) return send(res, 401, errorBody(401, 'Authentication required: send "Authorization: Bearer <token>".'), { 'WWW-Authenticate': CHALLENGE });
  if (/^bearer(\s|$)/i.test(header)) return send(res, 401, errorBody(401, 'The bearer token is not valid.'), { 'WWW-Authenticate': `${CHALLENGE}, error="invalid_token"` });
  return send(res, 401, errorBody(401, 'Unsupported authentication scheme; send "Authorization: Bearer <token>".'), { 'WWW-Authenticate': CHALLENGE });
}

/** A path segment as Express gives it (decoded), or undefined when it is not valid percent-encoding. */
function decoded(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

export function createHttpFloorHandler(options: HttpFloorOptions): RequestListener {
  const answers = floorAnswers(options.corpus, options.maxResults);
  const matches = tokenMatcher({ tokens: options.tokens });

  const route = (req: IncomingMessage, res: ServerResponse, path: string, query: string): void => {
    const slash = path.indexOf('/');
    const collection = slash < 0 ? path : path.slice(0, slash);
    const id = slash < 0 ? undefined : decoded(path.slice(slash + 1));
    if (req.method !== 'GET' || (slash >= 0 && (id === undefined || id === '' || id.includes('/')))) return send(res, 404, errorBody(404, 'Not found.'));
    if (collection === 'Users') {
      if (id !== undefined) {
        const text = answers.userById(id);
        return text === undefined ? send(res, 404, errorBody(404, 'User not found.')) : send(res, 200, text);
      }
      const params = new URLSearchParams(query);
      const filter = params.get('filter');
      return send(res, 200, filter !== null ? answers.usersFiltered(filter) : answers.usersPage(params.get('startIndex') ?? undefined, params.get('count') ?? undefined));
    }
    if (collection === 'Groups') {
      if (id !== undefined) {
        const text = answers.groupById(id);
        return text === undefined ? send(res, 404, errorBody(404, 'Group not found.')) : send(res, 200, text);
      }
      return send(res, 200, answers.groups(new URLSearchParams(query).get('excludedAttributes') === 'members'));
    }
    return send(res, 404, errorBody(404, 'Not found.'));
  };

  return (req, res) => {
    const url = req.url ?? '/';
    const question = url.indexOf('?');
    const path = question < 0 ? url : url.slice(0, question);
    if (!path.startsWith(PREFIX)) return send(res, 404, errorBody(404, 'Not found.'));
    const header = req.headers.authorization;
    if (!matches(header)) return refuse(res, header);
    route(req, res, path.slice(PREFIX.length), question < 0 ? '' : url.slice(question + 1));
  };
}
