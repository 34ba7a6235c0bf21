/**
 * The removal guard as a pure function (`src/directory/guard.ts`): what the directory knew, what Xero answered, the
 * policy → take, hold back or remove. The same rules are proved end to end against the sandbox in
 * `guard.sandbox.test.ts` and over random answer sequences in `test/reliability/suspect-answers.test.ts`.
 */
import { type GuardPolicy, type KnownOrganisation, type SyncAnswers, answersLeft, judge } from '../../src/directory/guard';
import type { Suspicion } from '../../src/directory/model';

const POLICY: GuardPolicy = { confirmations: 3, maxShare: 0.5 };
const AT = '2026-11-27T05:00:00.000Z';
const EARLIER = '2026-11-27T04:50:00.000Z';

const known = (id: string, members: number | undefined, suspicion?: Suspicion): KnownOrganisation => ({ id, members, ...(suspicion ? { suspicion } : {}) });

function answers(connected: string[], members: Record<string, number> = {}, extra: Partial<SyncAnswers> = {}): SyncAnswers {
  const all = Object.fromEntries(connected.map((id) => [id, 5]));
  return { at: AT, connected: new Set(connected), allowList: new Set(), members: new Map(Object.entries({ ...all, ...members })), confirmed: new Set(), ...extra };
}

const held = (reason: Suspicion['reason'], answersSoFar: number, awaitsOperator = false, since = EARLIER): Suspicion => ({ reason, since, answers: answersSoFar, awaitsOperator });
const decisionsOf = (k: KnownOrganisation[], a: SyncAnswers, p = POLICY) => Object.fromEntries(judge(k, a, p).decisions);

describe('an organisation that leaves /connections', () => {
  const four = ['a', 'b', 'c', 'd'].map((id) => known(id, 5));

  it('is held with its last good data, reason disconnected, counting the answers', () => {
    const verdict = judge(four, answers(['a', 'b', 'c']), POLICY);
    expect(verdict.massDrop).toBe(false);
    expect(Object.fromEntries(verdict.decisions)).toEqual({
      a: { action: 'accept' },
      b: { action: 'accept' },
      c: { action: 'accept' },
      d: { action: 'hold', suspicion: { reason: 'disconnected', since: AT, answers: 1, awaitsOperator: false } },
    });
  });

  it('keeps its first answer time while it stays out, and is removed at the third answer in a row', () => {
    const second = decisionsOf([...four.slice(0, 3), known('d', 5, held('disconnected', 1))], answers(['a', 'b', 'c']));
    expect(second.d).toEqual({ action: 'hold', suspicion: held('disconnected', 2) });
    const third = decisionsOf([...four.slice(0, 3), known('d', 5, held('disconnected', 2))], answers(['a', 'b', 'c']));
    expect(third.d).toEqual({ action: 'remove', because: 'disconnected' });
  });

  it('is removed at once with XERO_DISCONNECT_CONFIRMATIONS=1', () => {
    expect(decisionsOf(four, answers(['a', 'b', 'c']), { ...POLICY, confirmations: 1 }).d).toEqual({ action: 'remove', because: 'disconnected' });
  });

  it('comes back: the suspicion ends and its new answer is taken', () => {
    expect(decisionsOf([...four.slice(0, 3), known('d', 5, held('disconnected', 2))], answers(['a', 'b', 'c', 'd'])).d).toEqual({ action: 'accept' });
  });

  it('that was never read is removed at once: there is nothing to protect', () => {
    expect(decisionsOf([...four, known('e', undefined)], answers(['a', 'b', 'c', 'd'])).e).toEqual({ action: 'remove', because: 'never-read' });
  });
});

describe('a mass drop is never applied on its own', () => {
  it.each([
    ['every known organisation', ['a', 'b', 'c', 'd'], []],
    ['the only organisation', ['a'], []],
    ['three of four (more than half)', ['a', 'b', 'c', 'd'], ['a']],
  ])('%s gone at once: suspect-disconnect, awaiting an operator', (_case, ids, stay) => {
    const verdict = judge(ids.map((id) => known(id, 5)), answers(stay), POLICY);
    expect(verdict.massDrop).toBe(true);
    for (const id of ids.filter((i) => !stay.includes(i))) {
      expect(verdict.decisions.get(id)).toEqual({ action: 'hold', suspicion: { reason: 'suspect-disconnect', since: AT, answers: 1, awaitsOperator: true } });
    }
  });

  it('two of four is not more than half: each is only disconnected', () => {
    const verdict = judge(['a', 'b', 'c', 'd'].map((id) => known(id, 5)), answers(['a', 'b']), POLICY);
    expect(verdict.massDrop).toBe(false);
    expect(verdict.decisions.get('c')).toEqual({ action: 'hold', suspicion: held('disconnected', 1, false, AT) });
  });

  it('one of two is not a mass drop (at least two must go), whatever the share', () => {
    expect(judge([known('a', 5), known('b', 5)], answers(['a']), { ...POLICY, maxShare: 0 }).massDrop).toBe(false);
  });

  it('XERO_MAX_DISCONNECT_SHARE=0 makes any two a mass drop; 1 leaves only "every organisation"', () => {
    const ten = 'abcdefghij'.split('').map((id) => known(id, 5));
    expect(judge(ten, answers('abcdefgh'.split('')), { ...POLICY, maxShare: 0 }).massDrop).toBe(true);
    expect(judge(ten, answers(['a']), { ...POLICY, maxShare: 1 }).massDrop).toBe(false);
    expect(judge(ten, answers([]), { ...POLICY, maxShare: 1 }).massDrop).toBe(true);
  });

  it('holds however long it lasts, counting the answers', () => {
    const k = ['a', 'b'].map((id) => known(id, 5, held('suspect-disconnect', 40, true)));
    expect(decisionsOf(k, answers([])).a).toEqual({ action: 'hold', suspicion: held('suspect-disconnect', 41, true) });
  });

  it('once it is over, answers given during it count for nothing: one still out starts again at 1', () => {
    const k = [known('a', 5, held('suspect-disconnect', 9, true)), known('b', 5, held('suspect-disconnect', 9, true)), known('c', 5, held('suspect-disconnect', 9, true))];
    expect(decisionsOf(k, answers(['a', 'b'])).c).toEqual({ action: 'hold', suspicion: held('disconnected', 1) });
  });

  it('a new organisation connecting at the same time does not dilute it', () => {
    const verdict = judge([known('a', 5), known('b', 5)], answers(['x', 'y', 'z']), POLICY);
    expect(verdict.massDrop).toBe(true);
    expect(verdict.decisions.get('x')).toEqual({ action: 'accept' });
  });
});

describe('an operator confirmation (xero-scim confirm-disconnect)', () => {
  const massHeld = ['a', 'b', 'c'].map((id) => known(id, 5, held('suspect-disconnect', 2, true)));

  it('removes a held organisation at the next answer that still leaves it out, mass drop or not', () => {
    const d = decisionsOf(massHeld, answers([], {}, { confirmed: new Set(['a', 'b']) }));
    expect(d.a).toEqual({ action: 'remove', because: 'confirmed' });
    expect(d.b).toEqual({ action: 'remove', because: 'confirmed' });
    expect(d.c).toEqual({ action: 'hold', suspicion: held('suspect-disconnect', 3, true) });
  });

  it('lapses for one that came back', () => {
    expect(decisionsOf(massHeld, answers(['a'], {}, { confirmed: new Set(['a']) })).a).toEqual({ action: 'accept' });
  });

  it('confirms only a suspicion that was held: an organisation first going now is held as usual', () => {
    const d = decisionsOf(['a', 'b', 'c', 'd'].map((id) => known(id, 5)), answers(['a', 'b', 'c'], {}, { confirmed: new Set(['d']) }));
    expect(d.d).toEqual({ action: 'hold', suspicion: held('disconnected', 1, false, AT) });
  });

  it('takes an empty Users answer it confirmed', () => {
    const k = [known('a', 5, held('suspect-empty', 1)), known('b', 5), known('c', 5)];
    expect(decisionsOf(k, answers(['a', 'b', 'c'], { a: 0 }, { confirmed: new Set(['a']) })).a).toEqual({ action: 'accept' });
  });

  it('is kept when no answer came for that organisation (its Users call failed), and applies at the next one', () => {
    const k = [known('a', 5, held('suspect-empty', 1)), known('b', 5), known('c', 5)];
    const unanswered = answers(['a', 'b', 'c'], {}, { confirmed: new Set(['a']) });
    (unanswered.members as Map<string, number>).delete('a');
    const d = decisionsOf(k, unanswered);
    expect(d.a).toEqual({ action: 'hold', suspicion: { ...held('suspect-empty', 1), confirmed: true } });
    const next = decisionsOf([known('a', 5, { ...held('suspect-empty', 1), confirmed: true }), k[1]!, k[2]!], answers(['a', 'b', 'c'], { a: 0 }));
    expect(next.a).toEqual({ action: 'accept' });
  });
});

describe('an organisation whose Users answer has no member left', () => {
  const three = ['a', 'b', 'c'].map((id) => known(id, 5));

  it('is held (suspect-empty) and taken after three such answers in a row', () => {
    expect(decisionsOf(three, answers(['a', 'b', 'c'], { a: 0 })).a).toEqual({ action: 'hold', suspicion: held('suspect-empty', 1, false, AT) });
    const third = decisionsOf([known('a', 5, held('suspect-empty', 2)), three[1]!, three[2]!], answers(['a', 'b', 'c'], { a: 0 }));
    expect(third.a).toEqual({ action: 'accept' });
  });

  it('a failed Users call neither counts nor resets it', () => {
    const a = answers(['a', 'b', 'c']);
    (a.members as Map<string, number>).delete('a');
    expect(decisionsOf([known('a', 5, held('suspect-empty', 2)), three[1]!, three[2]!], a).a).toEqual({ action: 'hold', suspicion: held('suspect-empty', 2) });
  });

  it('an answer with members again ends it', () => {
    expect(decisionsOf([known('a', 5, held('suspect-empty', 2)), three[1]!, three[2]!], answers(['a', 'b', 'c'], { a: 1 })).a).toEqual({ action: 'accept' });
  });

  it('most organisations empty at once is a mass drop: held for an operator', () => {
    const verdict = judge(three, answers(['a', 'b', 'c'], { a: 0, b: 0 }), POLICY);
    expect(verdict.massDrop).toBe(true);
    expect(verdict.decisions.get('a')).toEqual({ action: 'hold', suspicion: { reason: 'suspect-empty', since: AT, answers: 1, awaitsOperator: true } });
  });

  it('is not suspect when it had no member before (nothing to lose), nor when a few members go (a partial drop)', () => {
    const d = decisionsOf([known('a', 0), known('b', 5), known('c', 5)], answers(['a', 'b', 'c'], { a: 0, b: 1 }));
    expect(d).toEqual({ a: { action: 'accept' }, b: { action: 'accept' }, c: { action: 'accept' } });
  });

  it('then leaving /connections is a different suspicion: the count starts again', () => {
    expect(decisionsOf([known('a', 5, held('suspect-empty', 2)), three[1]!, three[2]!], answers(['b', 'c'])).a).toEqual({
      action: 'hold',
      suspicion: held('disconnected', 1, false, AT),
    });
  });
});

describe('XERO_TENANT_IDS is the operator’s intent', () => {
  it('an organisation left out of the allow-list is removed at once, and does not count towards a mass drop', () => {
    const verdict = judge(['a', 'b', 'c'].map((id) => known(id, 5)), answers(['a', 'b', 'c'], {}, { allowList: new Set(['a']) }), POLICY);
    expect(verdict.massDrop).toBe(false);
    expect(Object.fromEntries(verdict.decisions)).toEqual({ a: { action: 'accept' }, b: { action: 'remove', because: 'allow-list' }, c: { action: 'remove', because: 'allow-list' } });
  });

  it('a new connection outside the allow-list gets no decision (it is never synced)', () => {
    expect(judge([known('a', 5)], answers(['a', 'x'], {}, { allowList: new Set(['a']) }), POLICY).decisions.has('x')).toBe(false);
  });
});

describe('answersLeft', () => {
  it('counts down to the policy, and is undefined for a suspicion awaiting an operator', () => {
    expect(answersLeft(held('disconnected', 1), POLICY)).toBe(2);
    expect(answersLeft(held('suspect-disconnect', 1, true), POLICY)).toBeUndefined();
  });
});
