import fc from 'fast-check';
import { RemainingEstimate } from '../../src/xero/budget';

/**
 * Xero counts a call when it admits it and reports what is left in the answer; answers reach us in any order.
 * Whatever the interleaving, our estimate must never promise more than Xero really has left.
 */
describe('RemainingEstimate: a lower bound of Xero\'s X-*-Remaining under out-of-order answers', () => {
  it('never exceeds what Xero really has left', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 30 }),
        fc.array(fc.tuple(fc.nat(50), fc.nat(50)), { minLength: 1, maxLength: 40 }),
        (limit, delays) => {
          type Event = { at: number; kind: 'begin' | 'admit' | 'answer'; call: number };
          const events: Event[] = [];
          delays.forEach(([toAdmit, toAnswer], call) => {
            const begin = call * 10;
            events.push({ at: begin, kind: 'begin', call });
            events.push({ at: begin + 1 + toAdmit, kind: 'admit', call });
            events.push({ at: begin + 2 + toAdmit + toAnswer, kind: 'answer', call });
          });
          const order = { begin: 0, admit: 1, answer: 2 };
          events.sort((a, b) => a.at - b.at || order[a.kind] - order[b.kind] || a.call - b.call);

          const estimate = new RemainingEstimate();
          const tickets = new Map<number, ReturnType<RemainingEstimate['begin']>>();
          const reported = new Map<number, number>();
          let admitted = 0;
          for (const e of events) {
            if (e.kind === 'begin') tickets.set(e.call, estimate.begin());
            if (e.kind === 'admit') reported.set(e.call, limit - ++admitted);
            if (e.kind === 'answer') {
              estimate.observe(reported.get(e.call), tickets.get(e.call)!, e.at);
              estimate.end();
            }
            const value = estimate.value;
            if (value !== undefined && value > Math.max(0, limit - admitted)) return false;
          }
          return true;
        },
      ),
      { numRuns: 500 },
    );
  });

  it('is exact when calls do not overlap', () => {
    const estimate = new RemainingEstimate();
    for (let i = 1; i <= 3; i++) {
      const ticket = estimate.begin();
      estimate.observe(60 - i, ticket, i);
      estimate.end();
    }
    expect(estimate.value).toBe(57);
    expect(estimate.exhausted).toBe(false);
  });
});
