/**
 * The removal guard. An answer from Xero that takes a whole organisation away — it left `/connections`,
 * or its Users list has no member left — is suspect until it has held: `/connections` answering `200 []` once is a
 * glitch, not every person losing their Xero access (docs/xero.md, "What a disconnect means").
 *
 * A pure function of what the directory knew before a sync, what Xero answered in it, and the policy;
 * `apply-verdict.ts` applies its decisions. The rules (RELIABILITY.md, "1. No false removals"):
 * - An organisation Xero's answer would take away is held with its last good data (a `Suspicion`), and the removal
 *   applies once that answer has held for `confirmations` consecutive answers.
 * - When every known organisation, or at least two and more than `maxShare` of them, would go at once, nothing
 *   goes on its own: they are held until Xero takes the answer back or an operator confirms. Answers during a mass
 *   drop count for nothing afterwards.
 * - An operator's confirmation (`xero-scim confirm-disconnect`) applies a held removal at the next answer that
 *   still asks for it.
 * - Leaving XERO_TENANT_IDS is the operator's intent: removed at once. Losing some but not all members (a partial
 *   drop) is everyday life and is not the guard's business: such answers are accepted at once.
 */
import type { Suspicion } from './model';

export interface GuardPolicy {
  /** XERO_DISCONNECT_CONFIRMATIONS: consecutive answers a removal must hold before it applies (1 = at once). */
  readonly confirmations: number;
  /** XERO_MAX_DISCONNECT_SHARE: with at least two going, above this share of the known organisations it is a mass drop. */
  readonly maxShare: number;
}

/** An organisation as the directory knew it before this sync. */
export interface KnownOrganisation {
  /** Lower-case tenant id. */
  readonly id: string;
  /** Members (records other than REMOVED) in its last good data; undefined when it was never read. */
  readonly members: number | undefined;
  readonly suspicion?: Suspicion;
}

/** What Xero answered in one sync whose `/connections` call succeeded. */
export interface SyncAnswers {
  /** ISO 8601 instant of the answer. */
  readonly at: string;
  /** Lower-case tenant ids in the `/connections` answer (syncable tenant types only). */
  readonly connected: ReadonlySet<string>;
  /** XERO_TENANT_IDS, lower case; empty means every connected organisation. */
  readonly allowList: ReadonlySet<string>;
  /** Members in each organisation's Users answer, for those whose Users call was answered in this sync. */
  readonly members: ReadonlyMap<string, number>;
  /** Organisations whose suspicion an operator confirmed since the last sync. */
  readonly confirmed: ReadonlySet<string>;
}

export type RemovalCause = 'allow-list' | 'disconnected' | 'confirmed' | 'never-read';

export type Decision =
  /** Take this sync's answer for it (when its Users call failed, the usual failure rules keep its last good data). */
  | { readonly action: 'accept' }
  /** Keep its last good data: Xero's answer for it is suspect. */
  | { readonly action: 'hold'; readonly suspicion: Suspicion }
  | { readonly action: 'remove'; readonly because: RemovalCause };

export interface GuardVerdict {
  /** One decision for every known organisation and every connected, allowed one. */
  readonly decisions: ReadonlyMap<string, Decision>;
  /** Organisations with data that this sync's answers would take away. */
  readonly vanishing: number;
  readonly massDrop: boolean;
}

const ACCEPT: Decision = { action: 'accept' };
const remove = (because: RemovalCause): Decision => ({ action: 'remove', because });

/** How an answer takes an organisation away. */
type Vanish = 'absent' | 'empty';
const kindOf = (s: Suspicion): Vanish => (s.reason === 'suspect-empty' ? 'empty' : 'absent');

export function judge(known: readonly KnownOrganisation[], answers: SyncAnswers, policy: GuardPolicy): GuardVerdict {
  const allowed = (id: string): boolean => answers.allowList.size === 0 || answers.allowList.has(id);
  const guarded = known.filter((k) => k.members !== undefined && allowed(k.id));
  const vanish = new Map<string, Vanish>();
  for (const k of guarded) {
    if (!answers.connected.has(k.id)) vanish.set(k.id, 'absent');
    else if (answers.members.get(k.id) === 0 && k.members! > 0) vanish.set(k.id, 'empty');
  }
  const share = guarded.length === 0 ? 0 : vanish.size / guarded.length;
  const massDrop = vanish.size > 0 && (vanish.size === guarded.length || (vanish.size >= 2 && share > policy.maxShare));

  const decisions = new Map<string, Decision>();
  for (const k of known) {
    if (!allowed(k.id)) decisions.set(k.id, remove('allow-list'));
    else if (k.members === undefined) decisions.set(k.id, answers.connected.has(k.id) ? ACCEPT : remove('never-read'));
    else decisions.set(k.id, decide(k, vanish.get(k.id), answers, policy, massDrop));
  }
  for (const id of answers.connected) if (!decisions.has(id) && allowed(id)) decisions.set(id, ACCEPT);
  return { decisions, vanishing: vanish.size, massDrop };
}

function decide(k: KnownOrganisation, vanish: Vanish | undefined, answers: SyncAnswers, policy: GuardPolicy, massDrop: boolean): Decision {
  const confirmedNow = answers.confirmed.has(k.id);
  if (vanish === undefined) {
    // A Users call that failed says nothing either way: an empty-list suspicion stays as it was.
    const unanswered = answers.connected.has(k.id) && !answers.members.has(k.id);
    if (unanswered && k.suspicion && kindOf(k.suspicion) === 'empty') {
      return { action: 'hold', suspicion: confirmedNow ? { ...k.suspicion, confirmed: true } : k.suspicion };
    }
    return ACCEPT;
  }
  // A confirmation confirms the suspicion the operator saw, not a different one that follows it.
  const previous = k.suspicion && kindOf(k.suspicion) === vanish ? k.suspicion : undefined;
  if (previous && (previous.confirmed === true || confirmedNow)) return vanish === 'absent' ? remove('confirmed') : ACCEPT;
  // Answers given during a mass drop prove nothing: once it is over, the count starts again.
  const counted = previous && (massDrop || !previous.awaitsOperator) ? previous.answers : 0;
  const answersNow = counted + 1;
  if (!massDrop && answersNow >= policy.confirmations) return vanish === 'absent' ? remove('disconnected') : ACCEPT;
  return {
    action: 'hold',
    suspicion: {
      reason: vanish === 'empty' ? 'suspect-empty' : massDrop ? 'suspect-disconnect' : 'disconnected',
      since: previous?.since ?? answers.at,
      answers: answersNow,
      awaitsOperator: massDrop,
    },
  };
}

/** Answers a held suspicion still needs before it applies on its own; undefined when it awaits an operator. */
export function answersLeft(suspicion: Suspicion, policy: GuardPolicy): number | undefined {
  return suspicion.awaitsOperator ? undefined : Math.max(0, policy.confirmations - suspicion.answers);
}
