import { connect } from 'node:net';
import express from 'express';
import { type ListeningServer, listen } from '../src/server';
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
