/**
 * Checks HTTP answers against openapi/scim.yaml: the route and method must be documented, the status must be one
 * of the operation's responses, every required header must be present and match its schema, and the body must
 * have a documented media type and match its schema (JSON Schema 2020-12, validated by Ajv with formats).
 *
 * Use it on any supertest response: `expectContract(await request(app).get('/scim/v2/Users'))`. Answers checked
 * are recorded, so a suite can also assert which documented responses it has seen.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type { Response as SupertestResponse } from 'supertest';
import YAML from 'yaml';

export const OPENAPI_PATH = path.join(__dirname, '..', '..', 'openapi', 'scim.yaml');

/** What a check needs of one exchange. Header names lower-case. */
export interface Exchange {
  readonly method: string;
  /** Path and query, e.g. `/scim/v2/Users?count=1`. */
  readonly url: string;
  readonly status: number;
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  readonly text: string;
}

type Json = Record<string, unknown>;

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
/** Where the component schemas live inside Ajv (refs `#/components/schemas/X` are rewritten to point here). */
const SCHEMA_ID = 'https://xero-scim.invalid/openapi';

interface Route {
  readonly template: string;
  readonly pattern: RegExp;
  readonly item: Json;
}

export class OpenApiContract {
  readonly document: Json;
  readonly routes: readonly Route[];
  private readonly ajv: Ajv2020;
  private readonly validators = new Map<unknown, ValidateFunction>();
  /** `METHOD template status` of every exchange checked. */
  readonly seen = new Set<string>();

  constructor(text: string) {
    this.document = YAML.parse(text) as Json;
    // strict: a misspelt keyword in the document is an error, not a silently ignored constraint.
    this.ajv = new Ajv2020({ strict: true, allErrors: true });
    addFormats(this.ajv);
    const components = this.document.components as Json;
    this.ajv.addSchema({ $id: SCHEMA_ID, $defs: rewriteRefs(components.schemas) as Json });
    const paths = this.document.paths as Record<string, Json>;
    this.routes = Object.entries(paths)
      .map(([template, item]) => ({ template, item, pattern: templatePattern(template) }))
      // Literal segments win over parameters: `/Users/.search` before `/Users/{id}`.
      .sort((a, b) => params(a.template) - params(b.template) || b.template.length - a.template.length);
  }

  static load(file = OPENAPI_PATH): OpenApiContract {
    return new OpenApiContract(readFileSync(file, 'utf8'));
  }

  /** The documented route a request path falls under (matched case-insensitively, as the router does). */
  route(pathname: string): Route | undefined {
    const trimmed = pathname.length > 1 ? pathname.replace(/\/+$/, '') : pathname;
    return this.routes.find((r) => r.pattern.test(trimmed));
  }

  /** Every way the exchange departs from the document; empty when it conforms. */
  problems(exchange: Exchange): string[] {
    const { pathname } = new URL(exchange.url, 'http://contract.invalid');
    const where = `${exchange.method} ${exchange.url} → ${exchange.status}`;
    const route = this.route(pathname);
    if (!route) return [`${where}: no documented path matches ${pathname}`];
    const method = exchange.method.toLowerCase();
    // HEAD is documented as "answered wherever GET is", without a body.
    const operation = (route.item[method] ?? (method === 'head' ? route.item.get : undefined)) as Json | undefined;
    if (!operation) return [`${where}: ${method.toUpperCase()} is not documented on ${route.template}`];
    const responses = operation.responses as Json;
    const key = [String(exchange.status), `${String(exchange.status)[0]}XX`, 'default'].find((k) => k in responses);
    if (!key) return [`${where}: status ${exchange.status} is not documented for ${method.toUpperCase()} ${route.template} (documented: ${Object.keys(responses).join(', ')})`];
    this.seen.add(`${method === 'head' ? 'get' : method} ${route.template} ${key}`);
    const response = this.resolve(responses[key]) as Json;
    const out: string[] = [];

    for (const [name, declared] of Object.entries((response.headers ?? {}) as Json)) {
      if (name.toLowerCase() === 'content-type') continue;
      const header = this.resolve(declared) as Json;
      const raw = exchange.headers[name.toLowerCase()];
      const value = Array.isArray(raw) ? raw.join(', ') : (raw as string | undefined);
      if (value === undefined) {
        if (header.required === true) out.push(`${where}: required header ${name} is missing`);
        continue;
      }
      const errors = this.validate(header.schema, value);
      if (errors) out.push(`${where}: header ${name}: ${JSON.stringify(value)} ${errors}`);
    }

    const content = response.content as Record<string, Json> | undefined;
    const contentType = String(exchange.headers['content-type'] ?? '');
    const mediaType = contentType.split(';')[0]!.trim().toLowerCase();
    const bodyless = method === 'head' || exchange.status === 304;
    if (!content) {
      if (exchange.text.length > 0) out.push(`${where}: no body is documented, but one was sent (${contentType})`);
      return out;
    }
    const media = content[mediaType];
    if (!media) {
      if (!bodyless || contentType) out.push(`${where}: content type "${contentType}" is not documented (documented: ${Object.keys(content).join(', ')})`);
      return out;
    }
    if (bodyless) return out;
    let body: unknown = exchange.text;
    if (/[/+]json$/.test(mediaType)) {
      try {
        body = JSON.parse(exchange.text);
      } catch {
        return [...out, `${where}: the body is not JSON: ${exchange.text.slice(0, 200)}`];
      }
    }
    const errors = this.validate(media.schema, body);
    if (errors) out.push(`${where}: body ${errors}`);
    return out;
  }

  /** Validates a value against one component schema, e.g. `Error`; undefined when it conforms. */
  validateComponent(name: string, value: unknown): string | undefined {
    return this.validate({ $ref: `#/components/schemas/${name}` }, value);
  }

  private validate(schema: unknown, value: unknown): string | undefined {
    let validator = this.validators.get(schema);
    if (!validator) {
      validator = this.ajv.compile(rewriteRefs(schema) as Json);
      this.validators.set(schema, validator);
    }
    if (validator(value)) return undefined;
    // Name the offending property: Ajv's own text for additionalProperties does not.
    const messages = (validator.errors ?? []).map((e) => {
      const extra = e.keyword === 'additionalProperties' ? ` (${String((e.params as { additionalProperty: string }).additionalProperty)})` : '';
      return `value${e.instancePath} ${e.message ?? e.keyword}${extra}`;
    });
    return [...new Set(messages)].join('; ');
  }

  /** Follows local `$ref`s outside schemas (responses, headers, parameters). */
  resolve(node: unknown): unknown {
    let current = node;
    for (let depth = 0; depth < 10 && isRef(current); depth++) {
      current = current.$ref
        .slice(2)
        .split('/')
        .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
        .reduce<unknown>((at, key) => (at as Json)[key], this.document);
    }
    return current;
  }

  /** Every documented `METHOD template status`, for coverage checks. */
  documented(): string[] {
    const out: string[] = [];
    for (const route of this.routes) {
      for (const method of METHODS) {
        const operation = route.item[method] as Json | undefined;
        if (!operation) continue;
        for (const status of Object.keys(operation.responses as Json)) out.push(`${method} ${route.template} ${status}`);
      }
    }
    return out;
  }
}

function isRef(node: unknown): node is { $ref: string } {
  return typeof node === 'object' && node !== null && typeof (node as Json).$ref === 'string';
}

function rewriteRefs(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(rewriteRefs);
  if (typeof node !== 'object' || node === null) return node;
  const out: Json = {};
  for (const [key, value] of Object.entries(node)) {
    out[key] = key === '$ref' && typeof value === 'string' ? value.replace('#/components/schemas/', `${SCHEMA_ID}#/$defs/`) : rewriteRefs(value);
  }
  return out;
}

function params(template: string): number {
  return (template.match(/\{/g) ?? []).length;
}

function templatePattern(template: string): RegExp {
  const escaped = template
    .split(/(\{[^}]+\})/)
    .map((part) => (part.startsWith('{') ? '[^/]+' : part.replace(/[.*+?^$()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${escaped}$`, 'i');
}

/** The exchange behind a supertest response. */
export function exchangeOf(res: SupertestResponse): Exchange {
  const req = (res as unknown as { req: { method: string; path: string } }).req;
  // superagent keeps text only for text/* and JSON; other types (application/yaml) arrive as a Buffer.
  const text = typeof res.text === 'string' ? res.text : Buffer.isBuffer(res.body) ? res.body.toString('utf8') : '';
  return { method: req.method, url: req.path, status: res.status, headers: res.headers as Exchange['headers'], text };
}

/** The exchange behind a fetch response whose body was read as `text`. */
export function exchangeOfFetch(method: string, url: string, response: globalThis.Response, text: string): Exchange {
  const { pathname, search } = new URL(url);
  return { method, url: pathname + search, status: response.status, headers: Object.fromEntries(response.headers), text };
}

let shared: OpenApiContract | undefined;

/** The document, parsed and compiled once per test file. */
export function contract(): OpenApiContract {
  return (shared ??= OpenApiContract.load());
}

/** Fails the calling test when a supertest response departs from the document; returns the response. */
export function expectContract<T extends SupertestResponse>(res: T): T {
  expect(contract().problems(exchangeOf(res))).toEqual([]);
  return res;
}
