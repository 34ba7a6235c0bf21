import { Writable } from 'node:stream';
import { createLogger, maskEmails } from '../src/log';

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
