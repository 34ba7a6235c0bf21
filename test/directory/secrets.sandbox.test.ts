import { Writable } from 'node:stream';
import { directoryOptions } from '../../src/commands/directory-options';
import { createXeroDirectory } from '../../src/directory/sync';
import { createLogger } from '../../src/log';
import { FileTokenStore } from '../../src/xero/tokens';
import { SteppingClock } from '../xero/helpers/clocks';
import { type World, world } from './helpers';

let w: World;
afterEach(async () => {
  await w.close();
});

function capture(): { logger: ReturnType<typeof createLogger>; text: () => string } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: createLogger({ level: 'trace', destination }), text: () => lines.join('') };
}

describe('Secrets never reach the logs or the report (docs/architecture.md, "Errors and secrets")', () => {
  it('logs a sync with failures (5xx, 429, timeouts, a bad refresh token) without any token or secret', async () => {
    const clock = new SteppingClock();
    w = await world({ clock, data: { seed: 6, organisations: 3, usersPerOrganisation: 3 } });
    const { logger, text } = capture();
    const [a, b] = w.sandbox.data.organisations().map((o) => o.organisationId);
    w.sandbox.data.scriptFault({ path: 'Users', tenantId: a!, count: 10, kind: 503 });
    w.sandbox.data.scriptFault({ path: 'Users', tenantId: b!, count: 1, kind: '429-minute', retryAfterSeconds: 5 });
    const d = createXeroDirectory(directoryOptions(w.config), { clock, logger, policy: { timeoutMs: 5000 } });
    const report = await d.syncOnce();
    expect(report.outcome).toBe('partial');
    const stored = (await new FileTokenStore(w.stateDir).load())!;

    const bad = createXeroDirectory(directoryOptions({ ...w.config, xeroRefreshToken: 'bogus-refresh-token-value-that-is-long-enough' }), {
      clock,
      logger,
      tokenStore: new FileTokenStore(w.stateDir, 'other.json'),
    });
    const failed = await bad.syncOnce();
    expect(failed.error?.code).toBe('XERO_INVALID_GRANT');
    logger.flush();

    const everything = text() + JSON.stringify([report, failed, d.status(), bad.status()]);
    expect(everything).toContain('sync finished');
    for (const secret of [
      w.config.xeroClientSecret!,
      w.config.xeroRefreshToken!,
      stored.refreshToken,
      stored.accessToken!,
      'bogus-refresh-token-value-that-is-long-enough',
    ]) {
      expect(everything).not.toContain(secret);
    }
  });
});
