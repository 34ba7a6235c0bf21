import request from 'supertest';
import { createSandbox, type SandboxOptions } from '../../src/sandbox';
import { ManualClock, webToken } from './support';

async function setup(options: SandboxOptions = {}) {
  const clock = new ManualClock();
  const sandbox = createSandbox({ clock, ...options });
  const [a, b] = sandbox.data.organisations();
  const token = await webToken(sandbox, [a!.organisationId, b!.organisationId]);
  const call = (tenant = a!.organisationId) =>
    request(sandbox.app).get('/api.xro/2.0/Organisation').set('Accept', 'application/json').set('Authorization', `Bearer ${token}`).set('xero-tenant-id', tenant);
  return { clock, sandbox, call, a: a!, b: b!, token };
}

function limitHeaders(res: request.Response) {
  return {
    day: res.headers['x-daylimit-remaining'],
    minute: res.headers['x-minlimit-remaining'],
    app: res.headers['x-appminlimit-remaining'],
    retryAfter: res.headers['retry-after'],
    problem: res.headers['x-rate-limit-problem'],
  };
}

describe('Xero rate limits (docs/xero.md, "Rate limits")', () => {
  it('sends X-DayLimit-Remaining, X-MinLimit-Remaining and X-AppMinLimit-Remaining on every tenant answer', async () => {
    const { call } = await setup();
    expect(limitHeaders(await call())).toEqual({ day: '4999', minute: '59', app: '9999', retryAfter: undefined, problem: undefined });
    expect(limitHeaders(await call())).toEqual({ day: '4998', minute: '58', app: '9998', retryAfter: undefined, problem: undefined });
  });

  it('answers the 61st call in a minute 429 with an empty body, Retry-After and X-Rate-Limit-Problem: minute', async () => {
    const { call, clock, b } = await setup();
    for (let i = 0; i < 60; i++) {
      expect((await call()).status).toBe(200);
      if (i % 10 === 9) clock.advance(5); // ten calls every 5 s: the clock ends 30 s on
    }
    const refused = await call();
    expect(refused.status).toBe(429);
    expect(refused.text).toBe('');
    expect(refused.headers['content-length']).toBe('0');
    // The first ten calls leave the window 60 s after they were made: 30 s from now.
    expect(limitHeaders(refused)).toEqual({ day: '4940', minute: '0', app: '9940', retryAfter: '30', problem: 'minute' });
    // Another organisation has its own budget.
    expect((await call(b.organisationId)).status).toBe(200);
    clock.advance(30);
    const again = await call();
    expect(again.status).toBe(200);
    // 50 calls of the last minute remain counted, plus this one.
    expect(again.headers['x-minlimit-remaining']).toBe('9');
  });

  it('lets a call leave the minute window exactly 60 s after it was made (a rolling window)', async () => {
    const { call, clock } = await setup({ limits: { perMinute: 1 } });
    expect((await call()).status).toBe(200);
    clock.advance(59.999);
    const refused = await call();
    expect([refused.status, refused.headers['retry-after']]).toEqual([429, '1']);
    clock.advance(0.001);
    expect((await call()).status).toBe(200);
  });

  it('enforces the daily limit with X-Rate-Limit-Problem: day and a long Retry-After', async () => {
    const { call, clock } = await setup({ limits: { perDay: 3 }, accessTokenTtlSeconds: 2 * 86400 });
    for (let i = 0; i < 3; i++) expect((await call()).status).toBe(200);
    clock.advance(3600);
    const refused = await call();
    expect(refused.status).toBe(429);
    expect(limitHeaders(refused)).toEqual({ day: '0', minute: '60', app: '10000', retryAfter: String(86400 - 3600), problem: 'day' });
    clock.advance(86400 - 3600);
    expect((await call()).status).toBe(200);
  });

  it('enforces the per-app minute limit across organisations (X-Rate-Limit-Problem: appminute)', async () => {
    const { call, b } = await setup({ limits: { appPerMinute: 3 } });
    expect((await call()).status).toBe(200);
    expect((await call(b.organisationId)).status).toBe(200);
    expect((await call()).status).toBe(200);
    const refused = await call(b.organisationId);
    expect(refused.status).toBe(429);
    expect(limitHeaders(refused)).toEqual({ day: '4999', minute: '59', app: '0', retryAfter: '60', problem: 'appminute' });
  });

  it('allows five calls in flight per organisation; the sixth gets 429 concurrent', async () => {
    const { call, sandbox } = await setup();
    // Real latency keeps five calls in flight while the sixth arrives.
    sandbox.data.setLatency({ fixedMs: 150 });
    const results = await Promise.all(Array.from({ length: 6 }, () => call().then((r) => [r.status, r.headers['x-rate-limit-problem']])));
    expect(results.filter(([s]) => s === 200)).toHaveLength(5);
    expect(results.filter(([s]) => s === 429)).toEqual([[429, 'concurrent']]);
    sandbox.data.setLatency({ fixedMs: 0 });
    expect((await call()).status).toBe(200);
  });

  it('counts but does not refuse when enforce is false', async () => {
    const { call } = await setup({ limits: { enforce: false, perMinute: 2 } });
    await call();
    await call();
    const third = await call();
    expect(third.status).toBe(200);
    expect(third.headers['x-minlimit-remaining']).toBe('0');
  });

  it('counts /connections against the app budget only', async () => {
    const { sandbox, token, call } = await setup();
    await call();
    const res = await request(sandbox.app).get('/connections').set('Authorization', `Bearer ${token}`);
    expect(res.headers['x-appminlimit-remaining']).toBe('9998');
    expect(res.headers['x-minlimit-remaining']).toBeUndefined();
  });
});
