import http from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import express from 'express';
import { type ListeningServer, listen } from '../src/http/listen';
import { expressServerClasses } from '../src/http/express-server';
import { SECURITY_HEADERS } from '../src/http/security-headers';

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

  /** Whether this process's V8 gets the classes (before 13: Node 20 and 22) or Node's own (13 on: Node 24). */
  const bornAsTheApps = Number.parseInt(process.versions.v8, 10) < 13;

  it(`answers through Express ${bornAsTheApps ? 'without Express changing any prototype (no slow objects, no promoted garbage)' : "on Node's own classes, which this V8 swaps cheaply"}`, async () => {
    const app = appAnsweringQuery();
    const server = await listen(app, 0, '127.0.0.1');
    const watch = watchPrototypeChanges();
    try {
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${server.url}/echo?q=${i}`);
        expect(res.status).toBe(200);
        expect(await res.json()).toEqual({ q: String(i), sameApp: true, path: '/echo' });
      }
      expect(watch.changes()).toBe(bornAsTheApps ? 0 : 6);
    } finally {
      watch.restore();
      await server.close();
    }
  });

  it('on a plain http.createServer, Express changes both prototypes of every request (what the listener avoids before V8 13)', async () => {
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

  it('gives each app its own classes on V8 before 13, and Node’s own from 13 on', () => {
    const one = express();
    const two = express();
    const node20 = '11.3.244.8-node.38';
    const a = expressServerClasses(one, node20);
    const b = expressServerClasses(two, '12.4.254.21-node.57'); // Node 22
    expect(a.IncomingMessage?.prototype).toBe(one.request);
    expect(a.ServerResponse?.prototype).toBe(one.response);
    expect(b.ServerResponse?.prototype).toBe(two.response);
    expect(one.request).toBeInstanceOf(http.IncomingMessage);
    expect(expressServerClasses(one, '13.6.233.17-node.63')).toEqual({}); // Node 24
    expect(expressServerClasses(one, '14.0.1')).toEqual({});
  });

  it('builds working requests and responses from the classes, whichever V8 runs them', async () => {
    const app = appAnsweringQuery();
    const server = http.createServer({ ...expressServerClasses(app, '11.3.244.8-node.38') }, app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/echo?q=classes`);
      expect(await res.json()).toEqual({ q: 'classes', sameApp: true, path: '/echo' });
    } finally {
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
