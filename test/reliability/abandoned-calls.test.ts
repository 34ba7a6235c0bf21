/**
 * Guarantee 1, regression found by the fault soak (seed 467438284): a Users call that timed out was abandoned but
 * never aborted (xero-node got no signal), so its connection stayed open and Xero kept counting it against the
 * organisation's 5 concurrent calls. After five such timeouts every later call was refused "concurrent", and the
 * organisation stayed stale long after Xero had recovered. Last good data was still served (no false removal),
 * but the organisation never came back to current.
 */
import { directoryOptions } from '../../src/commands/directory-options';
import { createXeroDirectory } from '../../src/directory/sync';
import { SteppingClock, until } from '../xero/helpers/clocks';
import { world } from '../directory/helpers';
import { capturedLogger } from './support';

describe('Guarantee 1: an organisation recovers after its calls time out', () => {
  it('is current again on the first sync after Xero stops hanging: timed-out calls are aborted, not left holding its concurrency', async () => {
    const clock = new SteppingClock();
    const w = await world({ clock, data: { seed: 2, organisations: 2, usersPerOrganisation: 3 } });
    const directory = createXeroDirectory(directoryOptions(w.config), { clock, random: () => 0.5, policy: { timeoutMs: 300 }, logger: capturedLogger('silent').logger });
    try {
      await directory.syncOnce();
      const hanging = w.sandbox.data.organisations()[0]!.organisationId.toLowerCase();
      // Six calls that never get an answer: more than Xero's 5 concurrent calls for that organisation.
      w.sandbox.data.scriptFault({ path: 'Users', tenantId: hanging, count: 6, kind: 'timeout' });
      clock.advance(300_000);
      const failed = await directory.syncOnce(); // every attempt times out: stale, last good data kept
      expect(failed.tenants.find((t) => t.organisationId === hanging)).toMatchObject({ result: 'stale', error: { code: 'XERO_TIMEOUT' } });
      clock.advance(300_000);
      await until(() => w.sandbox.data.inFlight(hanging) === 0); // the aborted calls' connections have closed at the sandbox
      // Two more hang, then Xero answers: without aborts, the hung calls fill its 5 slots and it is refused instead.
      const report = await directory.syncOnce();
      expect(report.tenants.find((t) => t.organisationId === hanging)).toMatchObject({ result: 'current' });
    } finally {
      await directory.stop();
      await w.close();
    }
  });
});
