/**
 * Where Xero's answers become the directory's model: the accounting reader (`xero/accounting.ts`) answers its own
 * types, and these two functions are the only place that turns them into `Organisation` and `XeroUserRecord`. A role
 * the reader learns to name must be mapped here before the directory can hold it (the compiler says so).
 */
import type { AccountingOrganisation, AccountingUser } from '../xero/accounting';
import type { Organisation, XeroUserRecord } from './model';

export function toOrganisation(details: AccountingOrganisation): Organisation {
  const { id, name, edition, createdAt, connectionId, tenantType, ...optional } = details;
  return { id, name, edition, createdAt, connectionId, tenantType, ...optional };
}

export function toUserRecord(user: AccountingUser): XeroUserRecord {
  return {
    organisationId: user.organisationId,
    xeroUserId: user.xeroUserId,
    email: user.email,
    firstName: user.firstName,
    lastName: user.lastName,
    role: user.role,
    isSubscriber: user.isSubscriber,
    updatedAt: user.updatedAt,
  };
}
