/**
 * Answers written together at the end of the poll phase (src/http/turn-writes.ts), on a real listening server:
 * a queued answer has its head decided but is not written until the turn ends, answers queued in one turn all
 * leave then, and one that cannot be written closes its own connection without keeping the others waiting.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { endThisTurn } from '../../src/http/turn-writes';

interface Answered {
  status?: number;
  body?: string;
  error?: string;
}

/** A GET on a fresh connection: its status and body, or the error that ended it. */
function get(port: number, path: string): Promise<Answered> {
  return new Promise((resolve) => {
    const req = http.get({ port, host: '127.0.0.1', path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode, body }));
      res.on('error', (error) => resolve({ error: error.message }));
    });
    req.on('error', (error) => resolve({ error: (error as NodeJS.ErrnoException).code ?? error.message }));
  });
}

/** A server that holds requests until `count` have arrived, then hands them to `answer` in one go. */
async function serverAnswering(count: number, answer: (responses: http.ServerResponse[]) => void | Promise<void>) {
  const held: http.ServerResponse[] = [];
  const server = http.createServer((_req, res) => {
    held.push(res);
    if (held.length === count) void answer(held.splice(0));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

describe('answers written together', () => {
  let server: http.Server | undefined;
  afterEach(async () => {
    await new Promise((resolve) => server?.close(resolve));
    server = undefined;
  });

  it('decides the head at once and writes every answer queued in a turn when the turn ends', async () => {
    const seen: { headersSent: boolean; writableEnded: boolean }[] = [];
    let afterTurn: boolean[] = [];
    const started = await serverAnswering(3, async (responses) => {
      responses.forEach((res, i) => {
        res.setHeader('Content-Type', 'text/plain');
        res.writeHead(200 + i);
        endThisTurn(res, `answer ${i}`);
        seen.push({ headersSent: res.headersSent, writableEnded: res.writableEnded });
      });
      await nextTurn();
      afterTurn = responses.map((res) => res.writableEnded);
    });
    server = started.server;
    const answers = await Promise.all([0, 1, 2].map(() => get(started.port, '/')));
    expect(seen).toEqual([0, 1, 2].map(() => ({ headersSent: true, writableEnded: false })));
    expect(afterTurn).toEqual([true, true, true]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 201, 202]);
    for (const a of answers) expect(a.body).toBe(`answer ${a.status! - 200}`);
  });

  it('writes a body given in parts whole and in order, after its head', async () => {
    const parts = ['{"a":', '[1,2,3]', ',"b":"é"}'].map((text) => Buffer.from(text));
    const length = parts.reduce((sum, part) => sum + part.length, 0);
    const started = await serverAnswering(1, ([res]) => {
      res!.writeHead(200, ['Content-Type', 'application/json', 'Content-Length', String(length)]);
      endThisTurn(res!, parts);
    });
    server = started.server;
    const answer = await get(started.port, '/');
    expect(answer).toEqual({ status: 200, body: '{"a":[1,2,3],"b":"é"}' });
  });

  it.each([
    ['one Buffer', Buffer.from('more than three bytes')],
    ['parts', [Buffer.from('ab'), Buffer.from('cd')]],
  ])('closes the connection of an answer that cannot be written (%s) and still writes the others', async (_kind, body) => {
    const started = await serverAnswering(2, (responses) => {
      const [broken, fine] = responses as [http.ServerResponse, http.ServerResponse];
      // A body longer than the Content-Length it promised: Node refuses to write it.
      broken.strictContentLength = true;
      broken.setHeader('Content-Length', 3);
      broken.writeHead(200);
      endThisTurn(broken, body);
      fine.setHeader('Content-Length', 2);
      fine.writeHead(200);
      endThisTurn(fine, 'ok');
    });
    server = started.server;
    const answers = await Promise.all([get(started.port, '/'), get(started.port, '/')]);
    const written = answers.filter((a) => a.status === 200 && a.body === 'ok');
    const refused = answers.filter((a) => a.error !== undefined);
    expect(written).toHaveLength(1);
    expect(refused).toHaveLength(1);
  });
});
