/**
 * Between the removal guard and the tenant states: what the guard is told of each organisation before a sync's
 * answers (`knownOrganisations`), and how its verdict changes the states (`applyVerdict`): an accepted answer
 * becomes the organisation's data, a held one keeps the last good data under a suspicion, a removal forgets the
 * organisation. The guard itself (`guard.ts`) stays a pure function of plain values.
 */
import type { Logger } from '../log';
import type { GuardVerdict, KnownOrganisation } from './guard';
import type { SuspicionReason } from './model';
import type { TenantSyncReport } from './sync-report';
import { type TenantState, type Tenants, memberCount, withUnchangedUsersShared } from './tenant-state';

/** What the guard knows of each organisation before this sync's answers. */
export function knownOrganisations(states: readonly TenantState[]): KnownOrganisation[] {
  return states.map((s) => ({ id: s.id, members: s.data ? memberCount(s.data) : undefined, ...(s.suspicion ? { suspicion: s.suspicion } : {}) }));
}

export interface AppliedVerdict {
  /** Report lines of the organisations it removed (those the directory had data or a connection for). */
  readonly removed: TenantSyncReport[];
  /** Suspicions raised, or raised for a new reason, in this sync. */
  readonly raised: SuspicionReason[];
}

/** Takes, holds back or removes each organisation as the guard decided. */
export function applyVerdict(tenants: Tenants, verdict: GuardVerdict, logger: Logger): AppliedVerdict {
  const removed: TenantSyncReport[] = [];
  const raised: SuspicionReason[] = [];
  if (verdict.massDrop) logger.warn({ organisations: verdict.vanishing }, 'Xero answered a mass removal: held back until Xero takes it back or an operator confirms');
  for (const [id, decision] of verdict.decisions) {
    const state = tenants.find(id);
    if (!state) continue;
    if (decision.action === 'remove') {
      tenants.delete(id);
      if (state.data || state.connection) {
        removed.push({ organisationId: id, ...(state.data ? { name: state.data.organisation.name } : {}), result: 'removed', calls: 0 });
        logger.info({ organisationId: id, because: decision.because }, 'organisation removed from the directory');
      }
    } else if (decision.action === 'hold') {
      if (state.suspicion?.reason !== decision.suspicion.reason) {
        raised.push(decision.suspicion.reason);
        logger.warn({ organisationId: id, reason: decision.suspicion.reason }, "Xero's answer would remove this organisation; keeping its last good data");
      }
      state.suspicion = decision.suspicion;
    } else {
      if (state.suspicion) logger.info({ organisationId: id, reason: state.suspicion.reason }, 'suspicion ended');
      delete state.suspicion;
      if (state.answer) {
        state.data = withUnchangedUsersShared(state.answer, state.data);
        state.lastSuccessAt = state.answer.syncedAt;
      }
    }
  }
  return { removed, raised };
}
