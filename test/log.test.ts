import { Writable } from 'node:stream';
import request from 'supertest';
import { createApp } from '../src/http/app';
import { createLogger, maskEmails } from '../src/log';
import { AUTH, PUBLIC_URL, TOKEN, fixedDirectory, snapshotOf } from './http/fixtures';

function capture(logEmails = false) {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { lines, logger: createLogger({ destination, logEmails }) };
}

describe('logs', () => {
  it('are one JSON object a line with an ISO time and a level name', () => {
    const { lines, logger } = capture();
    logger.info({ route: '/scim/v2/Users' }, 'request');
    const line = JSON.parse(lines[0]!);
    expect(line).toMatchObject({ level: 'info', msg: 'request', route: '/scim/v2/Users', service: 'xero-scim' });
    expect(new Date(line.time).toISOString()).toBe(line.time);
  });

  it('never carry an Authorization header, a token or a secret, at any depth', () => {
    const { lines, logger } = capture();
    logger.info({
      headers: { authorization: 'Bearer live-token-1' },
      body: { refresh_token: 'refresh-2', access_token: 'access-3', client_secret: 'secret-4' },
      xero: { grant: { tokens: { refreshToken: 'refresh-5' } } },
    });
    const out = lines.join('');
    for (const secret of ['live-token-1', 'refresh-2', 'access-3', 'secret-4', 'refresh-5']) expect(out).not.toContain(secret);
    expect(out).toContain('[redacted]');
  });

  it('mask e-mail addresses in messages, fields and errors unless LOG_EMAILS is on', () => {
    const { lines, logger } = capture();
    logger.warn({ user: 'ann.lee@example.com', list: ['bob@example.org'] }, 'no access for cy@example.net');
    logger.error({ err: new Error('Xero rejected dee@example.com') }, 'failed');
    const out = lines.join('');
    for (const email of ['ann.lee@example.com', 'bob@example.org', 'cy@example.net', 'dee@example.com']) expect(out).not.toContain(email);
    expect(out).toContain('a***@example.com');

    const open = capture(true);
    open.logger.warn({ user: 'ann.lee@example.com' }, 'x');
    expect(open.lines.join('')).toContain('ann.lee@example.com');
  });

  it('masks only the local part, keeping the domain for triage', () => {
    expect(maskEmails('from <Ann.Lee@Example.co.uk>, ok')).toBe('from <A***@Example.co.uk>, ok');
  });
});

describe('logs keep what an operator needs', () => {
  it('keep error codes (a key named `code` is not a secret), and redact an authorization code where OAuth carries one', () => {
    const { lines, logger } = capture();
    const eacces = Object.assign(new Error('EACCES: permission denied, open /state/xero-tokens.json'), { code: 'EACCES' });
    logger.error({ code: 'XERO_INVALID_CLIENT', err: eacces }, 'sync failed');
    logger.info({ callback: { query: { code: 'auth-code-123', state: 's' } }, form: { code: 'auth-code-456' } }, 'callback');
    const [failed, callback] = lines.map((l) => JSON.parse(l));
    expect(failed.code).toBe('XERO_INVALID_CLIENT');
    expect(failed.err.code).toBe('EACCES');
    expect(callback.callback.query).toEqual({ code: '[redacted]', state: 's' });
    expect(callback.form.code).toBe('[redacted]');
  });

  it.each([
    ['/scim/v2/Users/priya.shah%40example.com', '/scim/v2/Users/p***%40example.com'],
    ['/scim/v2/Users/priya.shah@example.com', '/scim/v2/Users/p***@example.com'],
    ['/scim/v2/Users/ann%2Bxero%40example.co.uk/x', '/scim/v2/Users/a***%40example.co.uk/x'],
    ['filter=userName%20eq%20%22ann.lee%40example.com%22', 'filter=userName%20eq%20%22a***%40example.com%22'],
    ['userName eq "ann.lee@example.com" or x', 'userName eq "a***@example.com" or x'],
    ['no address in /scim/v2/Users/8d9e%40', 'no address in /scim/v2/Users/8d9e%40'],
  ])('mask the address only in %s', (text, masked) => {
    expect(maskEmails(text)).toBe(masked);
  });

  it('log a request for an address-shaped path with the address masked and the rest of the path kept', async () => {
    const { lines, logger } = capture();
    const app = createApp({ directory: fixedDirectory(snapshotOf()), tokens: [TOKEN], publicUrl: PUBLIC_URL, logger });
    await request(app).get('/scim/v2/Users/priya.shah%40example.com').set(AUTH).expect(404);
    const line = lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'request');
    expect(line.path).toBe('/scim/v2/Users/p***%40example.com');
    expect(lines.join('')).not.toMatch(/priya/);
  });
});
