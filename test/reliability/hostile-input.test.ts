/**
 * Guarantee 4 — hostile input gets a clear 4xx. Property-based fuzzing (fast-check) of filters, query parameters,
 * paths, headers and `.search` bodies, sent as raw bytes over real sockets (so invalid UTF-8 and broken
 * percent-encoding reach the server as they would from the Internet): never a 500, never a dropped connection,
 * never an answer slower than a bound (a hang), every SCIM error a SCIM body, and afterwards the directory, a
 * reference GET and Object.prototype are exactly as before. Slow clients are cut off by the server's timeouts.
 */
import { connect } from 'node:net';
import fc from 'fast-check';
import { createApp } from '../../src/http/app';
import { listen, type ListeningServer, TIMEOUTS } from '../../src/http/listen';
import { fixedDirectory, generatedTenants, snapshotOf } from '../http/fixtures';
import { campaignSeed, capturedLogger, reportFigures, size } from './support';

const TOKEN = 'hostile-input-scim-token-9f8e7d6c';
const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';
const RUNS = size(200, 5000);
/** An answer slower than this is a hang (the server answers these in milliseconds). */
const HANG_MS = 3000;
/** Server limits for this suite: Node's own defaults shortened so a slow client is cut off within a test. */
const LIMITS = { ...TIMEOUTS, headersMs: 1000, requestMs: 1500, checkIntervalMs: 200 };

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  ms: number;
}

let server: ListeningServer;
let port: number;
const snapshot = snapshotOf(generatedTenants(3, 25, 5));
const directory = fixedDirectory(snapshot);
const { logger, lines } = capturedLogger('info');
let clientNumber = 0;
const figures = { seed: campaignSeed(4), inputsTried: 0, byStatus: {} as Record<string, number>, violations: 0 };

beforeAll(async () => {
  // trustProxy so each request can come from its own address: the failed-auth throttle must not turn the rest of
  // the campaign into 429s (it is tested in guarantee 5).
  server = await listen(createApp({ directory, tokens: [TOKEN], logger, trustProxy: true }), 0, '127.0.0.1', LIMITS);
  port = Number(new URL(server.url).port);
});

afterAll(async () => {
  reportFigures('hostile-input', figures);
  await server.close(0);
});

/** One request as raw bytes on its own connection; resolves with the parsed answer, rejects on a hang or a reset. */
function raw(method: string, target: Buffer | string, headers: Record<string, string | Buffer> = {}, body?: Buffer | string): Promise<RawAnswer> {
  const started = Date.now();
  const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  const head: Buffer[] = [Buffer.from(`${method} `), Buffer.isBuffer(target) ? target : Buffer.from(target, 'latin1'), Buffer.from(' HTTP/1.1\r\n')];
  const all: Record<string, string | Buffer> = {
    Host: `127.0.0.1:${port}`,
    Connection: 'close',
    'X-Forwarded-For': `10.${(clientNumber >> 16) & 255}.${(clientNumber >> 8) & 255}.${clientNumber++ & 255}`,
    ...(payload ? { 'Content-Length': String(payload.length) } : {}),
    ...headers,
  };
  for (const [k, v] of Object.entries(all)) head.push(Buffer.from(`${k}: `), Buffer.isBuffer(v) ? v : Buffer.from(v, 'latin1'), Buffer.from('\r\n'));
  head.push(Buffer.from('\r\n'));
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`hang: no complete answer within ${HANG_MS} ms to ${method} ${String(target).slice(0, 200)}`));
    }, HANG_MS);
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', () => undefined); // a reset shows as an empty answer below
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('utf8');
      const [headText = '', ...rest] = text.split('\r\n\r\n');
      const [statusLine = '', ...headerLines] = headText.split('\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1] ?? 0);
      if (status === 0) return reject(new Error(`no answer (connection closed) to ${method} ${String(target).slice(0, 200)}`));
      const parsed: Record<string, string> = {};
      for (const line of headerLines) {
        const colon = line.indexOf(':');
        parsed[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      let responseBody = rest.join('\r\n\r\n');
      if (parsed['transfer-encoding'] === 'chunked') responseBody = dechunk(responseBody);
      resolve({ status, headers: parsed, body: responseBody, ms: Date.now() - started });
    });
    socket.write(Buffer.concat(payload ? [...head, payload] : head));
  });
}

function dechunk(text: string): string {
  let out = '';
  let rest = text;
  for (;;) {
    const eol = rest.indexOf('\r\n');
    const length = parseInt(rest.slice(0, eol), 16);
    if (!(length > 0)) return out;
    out += rest.slice(eol + 2, eol + 2 + length);
    rest = rest.slice(eol + 2 + length + 2);
  }
}

const auth = { Authorization: `Bearer ${TOKEN}` };

/** The answer is a clear client error or a success, and SCIM errors are SCIM bodies. */
/** Writes to this read-only server are answered 501 on purpose (RFC 7644 §3.12, src/scim/errors.ts readOnly). */
const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function expectClearAnswer(answer: RawAnswer, scim = true, method = 'GET'): void {
  try {
    checkClearAnswer(answer, scim, WRITES.has(method));
  } catch (err) {
    figures.violations++;
    throw err;
  }
}

function checkClearAnswer(answer: RawAnswer, scim: boolean, write: boolean): void {
  figures.inputsTried++;
  figures.byStatus[answer.status] = (figures.byStatus[answer.status] ?? 0) + 1;
  expect(answer.status).toBeGreaterThanOrEqual(200);
  if (!(write && answer.status === 501)) expect(answer.status).toBeLessThan(500);
  expect(answer.ms).toBeLessThan(HANG_MS);
  // Node's HTTP parser refuses what is not HTTP at all (400, 431) before Express sees it: no body to check then.
  const fromExpress = answer.headers['x-request-id'] !== undefined;
  if (fromExpress) expect(answer.headers['x-content-type-options']).toBe('nosniff');
  if (scim && fromExpress && answer.status >= 400) {
    expect(answer.headers['content-type']).toBe('application/scim+json; charset=utf-8');
    const error = JSON.parse(answer.body) as { schemas: string[]; status: string; detail: string };
    expect(error.schemas).toEqual([ERROR_SCHEMA]);
    expect(error.status).toBe(String(answer.status));
    expect(typeof error.detail).toBe('string');
  }
}

const POISON = ['__proto__', 'constructor', 'prototype', '__defineGetter__', 'hasOwnProperty', 'toString', 'valueOf', '__proto__.polluted', 'constructor.prototype.polluted'];
const attribute = fc.oneof(
  fc.constantFrom('userName', 'emails.value', 'emails[type eq "work"].value', 'members.value', 'meta.lastModified', 'urn:ietf:params:scim:schemas:core:2.0:User:userName', ...POISON),
  fc.string({ maxLength: 40 }),
  fc.string({ minLength: 1, maxLength: 10 }).map((s) => `${s}.${s}.${s}[${s} eq 1]`),
);
const literal = fc.oneof(
  fc.string({ maxLength: 30 }).map((s) => JSON.stringify(s)),
  fc.constantFrom('true', 'null', '1e999999', '-0', '9007199254740993', '"\\ud800"', '"\\u0000"', '"', '"\\', '"2024-02-30T25:61:61Z"'),
);
const deep = (open: string, close: string) => fc.integer({ min: 10, max: 3000 }).map((n) => `${open.repeat(n)}userName pr${close.repeat(n)}`);
const hostileFilter = fc.oneof(
  fc.tuple(attribute, fc.constantFrom('eq', 'co', 'sw', 'pr', 'gt', 'zz', ''), literal).map(([a, o, v]) => `${a} ${o} ${v}`),
  deep('(', ')'),
  deep('not (', ')'),
  deep('emails[', ']'),
  fc.integer({ min: 1, max: 2000 }).map((n) => Array.from({ length: n }, () => 'userName pr').join(' and ')),
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.integer({ min: 1000, max: 15_000 }).map((n) => `userName eq "${'x'.repeat(n)}"`),
);
/** A query string value as a client might mangle it: encoded, half-encoded, or raw bytes. */
const encoded = (value: fc.Arbitrary<string>) =>
  fc.tuple(value, fc.constantFrom('encode', 'raw', 'broken')).map(([v, how]) =>
    how === 'encode' ? encodeURIComponent(v) : how === 'raw' ? v.replace(/[\s#]/g, '+') : `${encodeURIComponent(v)}%${'zZ%E0%A4%'.slice(0, v.length % 9)}`,
  );
const absurdNumber = fc.oneof(
  fc.constantFrom('-1', '0', '1e300', '-1e300', 'NaN', 'Infinity', '0x10', '9007199254740993', '1.5', '', ' 1', '१', '1;DROP'),
  fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map(String),
);
const parameter = fc.oneof(
  fc.tuple(fc.constantFrom('filter', 'FILTER'), encoded(hostileFilter)),
  fc.tuple(fc.constantFrom('count', 'startIndex', 'startindex', 'COUNT'), encoded(absurdNumber)),
  // RFC 9865 cursors: forged ones, look-alikes (base64url "." 43 characters), empty, huge.
  fc.tuple(fc.constantFrom('cursor', 'CURSOR'), encoded(fc.oneof(fc.string({ maxLength: 600 }), fc.base64String().map((b) => `${b}.${'A'.repeat(43)}`), fc.constant('')))),
  fc.tuple(fc.constantFrom('sortBy', 'attributes', 'excludedAttributes', 'sortOrder'), encoded(attribute)),
  fc.tuple(fc.constantFrom(...POISON, 'count[]', 'filter[__proto__]', 'a[b][c]', ''), encoded(fc.string({ maxLength: 20 }))),
);
const endpoint = fc.constantFrom('/scim/v2/Users', '/scim/v2/Groups', '/scim/v2/Roles', '/scim/v2/tenants/11111111-1111-4111-8111-111111111111/Users');

const reference = () => raw('GET', '/scim/v2/Users?count=1000&sortBy=userName', auth);

describe('Guarantee 4: hostile input gets a clear 4xx, never a 500, a crash, a hang or a change', () => {
  jest.setTimeout(size(45_000, 1_800_000));
  let before: RawAnswer;
  const prototypeKeys = Object.getOwnPropertyNames(Object.prototype).sort();

  beforeAll(async () => {
    before = await reference();
    expect(before.status).toBe(200);
  });

  it('for hostile query strings: deep and huge filters, absurd count/startIndex, poisoned attribute names, bad percent-encoding', async () => {
    await fc.assert(
      fc.asyncProperty(endpoint, fc.array(parameter, { minLength: 1, maxLength: 5 }), async (path, parameters) => {
        const query = parameters.map(([k, v]) => `${encodeURIComponent(k)}=${v}`).join('&');
        expectClearAnswer(await raw('GET', Buffer.from(`${path}?${query}`, 'utf8'), auth), true);
      }),
      { numRuns: RUNS, seed: campaignSeed(4) },
    );
  });

  it('for hostile paths: poisoned and unknown segments, dot segments, invalid UTF-8 and broken percent-encoding', async () => {
    const segment = fc.oneof(
      fc.constantFrom(...POISON, '..', '%2e%2e', '%', '%zz', '%E0%A4%A', '%C0%AF', '%00', '%FF%FE', 'Users', 'Groups', 'Roles', 'tenants', 'Schemas', 'ResourceTypes', '.search', ''),
      fc.string({ maxLength: 30 }).map(encodeURIComponent),
      fc.integer({ min: 1, max: 8000 }).map((n) => 'a'.repeat(n)),
    );
    const rawBytes = fc.uint8Array({ minLength: 1, maxLength: 12 }).map((bytes) => Buffer.from(bytes.filter((b) => b > 0x20 && b !== 0x7f && b !== 0x3f && b !== 0x23)));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(segment.map((s) => Buffer.from(s, 'latin1')), rawBytes), { minLength: 1, maxLength: 5 }), fc.constantFrom('GET', 'HEAD', 'DELETE', 'PATCH', 'OPTIONS'), async (segments, method) => {
        const target = Buffer.concat([Buffer.from('/scim/v2'), ...segments.flatMap((s) => [Buffer.from('/'), s])]);
        expectClearAnswer(await raw(method, target, auth), method !== 'HEAD' && method !== 'OPTIONS', method);
      }),
      { numRuns: RUNS, seed: campaignSeed(5) },
    );
  });

  it('for hostile headers: malformed credentials, content types, conditionals, hosts and request ids', async () => {
    const headerValue = fc.oneof(
      fc.constantFrom('Bearer', 'Bearer ', `Bearer ${TOKEN} extra`, 'Basic', 'Basic !!!', 'Basic Og==', `bearer ${TOKEN}`, 'Negotiate abc', '*', 'W/"x", "y", *', 'application/scim+json; charset=latin1'),
      fc.string({ maxLength: 100 }).map((s) => s.replace(/[\r\n]/g, ' ')),
      fc.integer({ min: 100, max: 12_000 }).map((n) => `Bearer ${'A'.repeat(n)}`),
      fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b.filter((x) => x >= 0x20 && x !== 0x7f)).toString('latin1')),
    );
    const name = fc.constantFrom('Authorization', 'Content-Type', 'Accept', 'If-None-Match', 'If-Match', 'Host', 'X-Request-Id', 'Accept-Encoding', 'Content-Encoding', 'X-Forwarded-Host', 'X-Forwarded-Proto', 'Cookie');
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(name, headerValue), { minLength: 1, maxLength: 4 }), endpoint, async (pairs, path) => {
        const headers: Record<string, string> = { ...auth };
        for (const [k, v] of pairs) headers[k] = v;
        expectClearAnswer(await raw('GET', path, headers), true);
      }),
      { numRuns: RUNS, seed: campaignSeed(6) },
    );
  });

  it('for hostile .search bodies: any JSON, deep nesting, __proto__ keys, wrong content types and encodings, oversized bodies (413)', async () => {
    const searchRequest = fc.record(
      {
        schemas: fc.oneof(fc.constant(['urn:ietf:params:scim:api:messages:2.0:SearchRequest']), fc.jsonValue()),
        filter: fc.oneof(hostileFilter, fc.jsonValue()),
        startIndex: fc.oneof(fc.double(), fc.string(), fc.jsonValue()),
        count: fc.oneof(fc.double(), fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }).map(Number), fc.jsonValue()),
        attributes: fc.oneof(fc.array(attribute), fc.jsonValue()),
        sortBy: fc.oneof(attribute, fc.jsonValue()),
        cursor: fc.oneof(fc.string(), fc.jsonValue()),
      },
      { requiredKeys: [] },
    );
    const body = fc.oneof(
      searchRequest.map((b) => JSON.stringify(b)),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.constantFrom(
        '{"__proto__":{"polluted":1},"filter":"userName pr"}',
        '{"constructor":{"prototype":{"polluted":1}}}',
        '{"attributes":["__proto__"],"filter":"__proto__ pr"}',
        '{"filter":"userName pr","filter":"x"}',
        '{"count":1e999999}',
        '',
        '{',
        'null',
      ),
      fc.integer({ min: 100, max: 20_000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`),
      fc.integer({ min: 100, max: 5_000 }).map((n) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`),
      fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('latin1')),
    );
    const contentType = fc.constantFrom('application/scim+json', 'application/json', 'application/json; charset=utf-16', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/scim+json; charset=ISO-8859-1', '');
    const at = fc.constantFrom('/scim/v2/.search', '/scim/v2/Users/.search', '/scim/v2/Groups/.search', '/scim/v2/Roles/.search', '/scim/v2/tenants/22222222-2222-4222-8222-222222222222/.search');
    await fc.assert(
      fc.asyncProperty(at, contentType, body, fc.boolean(), async (path, type, text, latin1) => {
        const bytes = latin1 ? Buffer.from(text, 'latin1') : Buffer.from(text, 'utf8');
        expectClearAnswer(await raw('POST', path, { ...auth, ...(type ? { 'Content-Type': type } : {}) }, bytes), true);
      }),
      { numRuns: RUNS, seed: campaignSeed(7) },
    );
    for (const huge of [70_000, 1_000_000, 5_000_000]) {
      const answer = await raw('POST', '/scim/v2/Users/.search', { ...auth, 'Content-Type': 'application/scim+json' }, `{"filter":"${'x'.repeat(huge)}"}`);
      expect(answer.status).toBe(413);
      expectClearAnswer(answer, true);
    }
  });

  it('cuts off a client that dribbles its headers, or its body, and keeps answering others meanwhile', async () => {
    let closed = 0;
    const dribble = (initial: string, piece: string) => {
      const socket = connect(port, '127.0.0.1');
      const connected = new Promise<void>((resolve) => socket.once('connect', resolve));
      const cut = new Promise<string>((resolve) => {
        let answer = '';
        socket.on('data', (c) => (answer += String(c)));
        socket.on('error', () => undefined);
        const drip = setInterval(() => socket.write(piece), 100);
        // The test's own bound: if the server never cuts it, this closes it without a 408 and the assertion fails.
        const bound = setTimeout(() => socket.destroy(), 10_000);
        socket.on('close', () => {
          closed++;
          clearInterval(drip);
          clearTimeout(bound);
          resolve(answer);
        });
      });
      socket.write(initial);
      return { connected, cut };
    };
    const slowHeaders = Array.from({ length: 50 }, () => dribble('GET /healthz HTTP/1.1\r\nHost: x\r\n', 'X-Slow: 1\r\n'));
    const slowBody = dribble(
      `POST /scim/v2/.search HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/scim+json\r\nContent-Length: 100000\r\n\r\n{`,
      ' ',
    );
    // Meanwhile, with every slow client connected and none cut off yet, others are served.
    await Promise.all([...slowHeaders, slowBody].map((client) => client.connected));
    const healthy = await raw('GET', '/healthz');
    expect(healthy.status).toBe(200);
    expect(closed).toBe(0);
    for (const answer of await Promise.all(slowHeaders.map((client) => client.cut))) expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(await slowBody.cut).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('leaves the directory, a reference GET and Object.prototype exactly as before, and logged no unexpected error', async () => {
    const after = await reference();
    expect(after.status).toBe(200);
    expect(after.body).toBe(before.body);
    expect(after.headers.etag).toBe(before.headers.etag);
    expect(directory.current()).toBe(snapshot);
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeKeys);
    expect((({}) as Record<string, unknown>).polluted).toBeUndefined();
    expect(lines.join('')).not.toContain('unexpected error answering a request');
  });
});
