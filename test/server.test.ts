import http from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import express from 'express';
import { type ListeningServer, listen } from '../src/http/listen';
import { expressServerClasses } from '../src/http/express-server';
import { SECURITY_HEADERS } from '../src/http/security-headers';
import { ACME, AUTH, appFor } from './http/fixtures';

async function raw(server: ListeningServer, request: string): Promise<string> {
  const { port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => socket.write(request));
    let reply = '';
    socket.on('data', (chunk) => (reply += String(chunk)));
    socket.on('close', () => resolve(reply));
    socket.on('error', reject);
  });
}

describe('answers Node gives before the app runs', () => {
  let server: ListeningServer;
  beforeAll(async () => {
    server = await listen(express(), 0, '127.0.0.1');
  });
  afterAll(() => server.close());

  it.each([
    ['headers over 16 KiB', `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'The request headers are too large.'],
    ['a request line that is not HTTP', 'HELLO THERE\r\n\r\n', 400, 'The request is not valid HTTP.'],
  ])('answer %s with a SCIM error and the usual security headers', async (_name, request, status, detail) => {
    const reply = await raw(server, request);
    const [head, body] = reply.split('\r\n\r\n');
    expect(head).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
    expect(head).toContain("Content-Security-Policy: default-src 'none'");
    expect(head).toContain('X-Content-Type-Options: nosniff');
    expect(head).toContain('Strict-Transport-Security: max-age=31536000');
    // Exactly the headers helmet gives every answer the app sends.
    for (const [name, value] of SECURITY_HEADERS) expect(head).toContain(`\r\n${name}: ${value}\r\n`);
    expect(JSON.parse(body!)).toEqual({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: String(status), detail });
  });
});

describe('requests and responses built with the app’s prototypes', () => {
  /** Counts Object.setPrototypeOf calls that really change an HTTP request's or response's prototype. */
  function watchPrototypeChanges(): { changes: () => number; restore: () => void } {
    const original = Object.setPrototypeOf;
    let changes = 0;
    const spy = jest.spyOn(Object, 'setPrototypeOf').mockImplementation((object: unknown, proto: object | null) => {
      if ((object instanceof http.IncomingMessage || object instanceof http.ServerResponse) && Object.getPrototypeOf(object) !== proto) changes++;
      return original(object, proto) as unknown;
    });
    return { changes: () => changes, restore: () => spy.mockRestore() };
  }

  function appAnsweringQuery() {
    const app = express();
    app.get('/echo', (req, res) => {
      res.status(200).json({ q: req.query.q, sameApp: req.app === app, path: req.path });
    });
    return app;
  }

  it('answers through Express without Express changing any prototype', async () => {
    const app = appAnsweringQuery();
    const server = await listen(app, 0, '127.0.0.1');
    const watch = watchPrototypeChanges();
    try {
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${server.url}/echo?q=${i}`);
        expect(res.status).toBe(200);
        expect(await res.json()).toEqual({ q: String(i), sameApp: true, path: '/echo' });
      }
      expect(watch.changes()).toBe(0);
    } finally {
      watch.restore();
      await server.close();
    }
  });

  it('on a plain http.createServer, Express changes both prototypes of every request (what the listener avoids)', async () => {
    const app = appAnsweringQuery();
    const plain = http.createServer(app);
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    const watch = watchPrototypeChanges();
    try {
      const res = await fetch(`http://127.0.0.1:${(plain.address() as AddressInfo).port}/echo?q=x`);
      expect(await res.json()).toEqual({ q: 'x', sameApp: true, path: '/echo' });
      expect(watch.changes()).toBe(2);
    } finally {
      watch.restore();
      plain.closeAllConnections();
      await new Promise((resolve) => plain.close(resolve));
    }
  });

  it('serves the app’s hot reads, its tenant views and its probes on the product’s listener without changing any prototype', async () => {
    const server = await listen(appFor(), 0, '127.0.0.1');
    const watch = watchPrototypeChanges();
    try {
      const users = await fetch(`${server.url}/scim/v2/Users?filter=${encodeURIComponent('userName eq "bob@example.com"')}`, { headers: AUTH });
      expect(users.status).toBe(200);
      const id = ((await users.json()) as { Resources: { id: string }[] }).Resources[0]!.id;
      expect((await fetch(`${server.url}/scim/v2/Users/${id}`, { headers: AUTH })).status).toBe(200);
      expect((await fetch(`${server.url}/scim/v2/Users/${id}`)).status).toBe(401);
      expect((await fetch(`${server.url}/scim/v2/tenants/${ACME}/Users?count=1`, { headers: AUTH })).status).toBe(200);
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      expect(watch.changes()).toBe(0);
    } finally {
      watch.restore();
      await server.close();
    }
  });

  it('makes subclasses of Node’s, whose prototypes become the app’s and keep everything the app’s had', () => {
    const one = express();
    const two = express();
    const before = one.request;
    const a = expressServerClasses(one);
    const b = expressServerClasses(two);
    expect(Object.getPrototypeOf(a.IncomingMessage)).toBe(http.IncomingMessage);
    expect(Object.getPrototypeOf(a.ServerResponse)).toBe(http.ServerResponse);
    expect(one.request).toBe(a.IncomingMessage!.prototype);
    expect(one.response).toBe(a.ServerResponse!.prototype);
    expect(two.request).toBe(b.IncomingMessage!.prototype);
    expect(Object.getPrototypeOf(one.request)).toBe(before);
    expect(one.request.app).toBe(one);
    // Listened on twice, an app keeps its classes: its prototypes change once.
    expect(expressServerClasses(one)).toBe(a);
    expect(one.request).toBe(a.IncomingMessage!.prototype);
  });

  it('builds working requests and responses from the classes, also for a server that is not the product’s listener', async () => {
    const app = appAnsweringQuery();
    const server = http.createServer({ ...expressServerClasses(app) }, app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const watch = watchPrototypeChanges();
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/echo?q=classes`);
      expect(await res.json()).toEqual({ q: 'classes', sameApp: true, path: '/echo' });
      expect(watch.changes()).toBe(0);
    } finally {
      watch.restore();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('leaves a listener that is not an Express app on Node’s own classes', async () => {
    expect(expressServerClasses((_req: http.IncomingMessage, res: http.ServerResponse) => res.end())).toEqual({});
    const server = await listen((_req: http.IncomingMessage, res: http.ServerResponse) => res.end('plain'), 0, '127.0.0.1');
    try {
      expect(await (await fetch(server.url)).text()).toBe('plain');
    } finally {
      await server.close();
    }
  });
});
