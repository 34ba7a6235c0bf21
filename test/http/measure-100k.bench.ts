/**
 * A quick local measurement at 100,000 users (not a test: it asserts nothing about speed).
 * Run: npx jest test/http/measure-100k.bench.ts --testMatch '**\/*.bench.ts'
 *
 * Compares SCIM requests over real HTTP (keep-alive, one connection, sequential) with a bare Express route
 * sending a small JSON answer, and times the first render of a snapshot.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { personId } from '../../src/directory/ids';
import { ViewCache, type View } from '../../src/scim/views';
import { AUTH, BASE, appFor, generatedTenants, snapshotOf } from './fixtures';

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent, headers }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => (bytes += chunk.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
    });
    req.on('error', reject);
  });
}

async function time(label: string, port: number, path: string, runs: number, headers: Record<string, string> = {}): Promise<void> {
  let last = await get(port, path, headers); // warm-up (and first render)
  const started = process.hrtime.bigint();
  for (let i = 0; i < runs; i++) last = await get(port, path, headers);
  const micros = Number(process.hrtime.bigint() - started) / 1000 / runs;
  console.log(`${label.padEnd(58)} ${micros.toFixed(0).padStart(7)} µs/request  (status ${last.status}, ${last.bytes} bytes)`);
}

function listen(app: express.Express): Promise<http.Server> {
  return new Promise((resolve) => {
    const server = app.listen(0, '127.0.0.1', () => resolve(server));
  });
}

it('measures GET /Users/{id} and filtered lists at 100,000 users', async () => {
  let t = Date.now();
  const tenants = generatedTenants(5, 100_000, 42);
  const snapshot = snapshotOf(tenants);
  console.log(`buildSnapshot: ${Date.now() - t} ms (${snapshot.people.length} people)`);
  t = Date.now();
  const views = new ViewCache();
  const view = views.viewOf(snapshot, BASE)!;
  view.resources('User');
  console.log(`first render of /Users (JSON, ETags, indexes): ${Date.now() - t} ms`);
  t = Date.now();
  view.resources('Group');
  view.resources('Role');
  console.log(`first render of /Groups and /Roles: ${Date.now() - t} ms`);

  const bare = express();
  bare.get('/small', (_req, res) => {
    res.json({ id: 'x', userName: 'user@example.com', active: true });
  });
  const scim = appFor(snapshot, { views });
  const servers = [await listen(bare), await listen(scim)];
  const [barePort, scimPort] = servers.map((s) => (s.address() as AddressInfo).port) as [number, number];
  const auth = { authorization: AUTH.Authorization };
  const q = (f: string) => encodeURIComponent(f);
  const id = personId('user50000@example.com');
  const group = snapshot.organisations[2]!.id;

  try {
    await time('baseline: bare Express res.json (small)', barePort, '/small', 2000);
    await time('GET /Users/{id}', scimPort, `/scim/v2/Users/${id}`, 2000, auth);
    await time('GET /Users/{id} with If-None-Match (304)', scimPort, `/scim/v2/Users/${id}`, 2000, { ...auth, 'if-none-match': snapshotEtag(view, id) });
    await time('GET /Users?filter=userName eq (index)', scimPort, `/scim/v2/Users?filter=${q('userName eq "USER50000@example.com"')}`, 2000, auth);
    await time('GET /Users?filter=emails[type eq "work"].value eq (index)', scimPort, `/scim/v2/Users?filter=${q('emails[type eq "work"].value eq "user777@example.com"')}`, 2000, auth);
    await time('GET /Users?filter=userName eq and active eq true (index)', scimPort, `/scim/v2/Users?filter=${q('userName eq "user9@example.com" and active eq true')}`, 2000, auth);
    await time('GET /Groups?filter=members[value eq] (index)', scimPort, `/scim/v2/Groups?filter=${q(`members[value eq "${id}"]`)}&excludedAttributes=members`, 2000, auth);
    await time('GET /Users?count=100&startIndex=50001 (page slice)', scimPort, '/scim/v2/Users?count=100&startIndex=50001', 300, auth);
    await time('GET /Users?sortBy=userName&count=100 (cached ordering)', scimPort, '/scim/v2/Users?sortBy=userName&count=100&startIndex=70001', 300, auth);
    await time('GET /Groups?excludedAttributes=members', scimPort, '/scim/v2/Groups?excludedAttributes=members', 2000, auth);
    await time('GET /Groups/{id} (about 24,000 members)', scimPort, `/scim/v2/Groups/${group}`, 50, auth);
    await time('GET /Users?filter=meta.lastModified gt (range index)', scimPort, `/scim/v2/Users?filter=${q('meta.lastModified gt "2024-02-28T09:00:00Z"')}&count=100`, 200, auth);
    await time('Entra delta: active eq true and (lastModified ge and le)', scimPort, `/scim/v2/Users?filter=${q('active eq true and (meta.lastModified ge "2024-02-28T09:00:00.0000000Z" and meta.lastModified le "2024-02-28T23:00:00.0000000Z")')}&count=100`, 200, auth);
    await time('GET /Users?filter=userName sw (sorted index keys, 11 matches)', scimPort, `/scim/v2/Users?filter=${q('userName sw "user4242"')}`, 200, auth);
    await time('GET /Users?filter=userName sw (sorted index keys, 11,111 matches)', scimPort, `/scim/v2/Users?filter=${q('userName sw "user1"')}&count=100`, 50, auth);
    await time('GET /Users?filter=name.givenName ew (scan 100k)', scimPort, `/scim/v2/Users?filter=${q('name.givenName ew "4242"')}`, 20, auth);
    await time('GET /Users?filter=userName co (scan 100k)', scimPort, `/scim/v2/Users?filter=${q('userName co "user4242"')}`, 20, auth);
  } finally {
    agent.destroy();
    for (const s of servers) s.close();
  }
}, 300_000);

function snapshotEtag(view: View, id: string): string {
  const set = view.resources('User');
  return set.item(set.positionById.get(id)!).etag;
}
