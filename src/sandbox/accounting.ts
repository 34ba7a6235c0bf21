import { randomUUID } from 'node:crypto';
import { Router, type NextFunction, type Request, type Response } from 'express';
import { bearerGrant } from './bearer';
import { delay, type SandboxContext } from './context';
import type { TenantEndpoint } from './counters';
import type { SandboxOrganisation, SandboxUser } from './data';
import { sendFault, sendNotFound, sendProblem, sendTooManyRequests, sendValidation } from './errors';
import { isUuid } from './ids';
import { SETTINGS_READ_SCOPES } from './identity/scopes';
import { parseOrder, parseWhere, QueryParseError } from './query';
import { msJsonDate, msJsonInstant, renderXml, xmlDate, type XmlElement } from './wire';

/** What a tenant call carries from the checks to the handler. */
interface TenantLocals {
  organisation: SandboxOrganisation;
  providerName: string;
}

/**
 * `GET /api.xro/2.0/Users`, `/Users/{UserID}`, `/Organisation`. Every call passes, in order: bearer token,
 * scope, `xero-tenant-id`, rate limits, faults, latency (docs/xero.md, "Errors" and "Rate limits").
 */
export function accountingRouter(ctx: SandboxContext): Router {
  const router = Router({ caseSensitive: false });
  const tenantCall = (endpoint: TenantEndpoint, counted: string) => async (req: Request, res: Response, next: NextFunction) => {
    ctx.counters.call(counted);
    const grant = bearerGrant(ctx, req, res);
    if (!grant) return;
    if (!grant.scopes.some((scope) => SETTINGS_READ_SCOPES.includes(scope))) {
      sendProblem(res, 401, 'AuthorizationUnsuccessful');
      return;
    }
    const client = ctx.grants.client(grant.clientId);
    let tenantId = (req.get('xero-tenant-id') ?? '').trim();
    // A custom connection has one organisation, so Xero accepts an empty tenant id (xero-node's README passes '').
    if (tenantId === '' && client?.kind === 'custom') tenantId = ctx.grants.connections(grant.clientId)[0]?.tenantId ?? '';
    const organisation = isUuid(tenantId) && ctx.grants.isConnected(grant.clientId, tenantId) ? ctx.store.find(tenantId) : undefined;
    if (!organisation) {
      res.set(ctx.limiter.admitApp(grant.clientId, ctx.clock.now()).headers);
      sendProblem(res, 403, 'AuthenticationUnsuccessful');
      return;
    }
    res.locals.tenantId = organisation.organisationId;
    ctx.counters.tenantCall(organisation.organisationId, endpoint);
    const admission = ctx.limiter.admitTenant(grant.clientId, organisation.organisationId, ctx.clock.now());
    res.set(admission.headers);
    if (!admission.admitted) {
      sendTooManyRequests(res, admission.problem, admission.retryAfterSeconds);
      return;
    }
    res.on('close', admission.release);
    const fault = ctx.faults.take(endpoint === 'Organisation' ? 'Organisation' : 'Users', organisation.organisationId);
    if (fault && fault.kind !== 'empty') {
      sendFault(res, fault, ctx.counters, ctx.held, organisation.organisationId);
      return;
    }
    await delay(ctx.faults.delayMs());
    // An `empty` fault: the organisation answers as if it had no users.
    const locals: TenantLocals = {
      organisation: fault ? { ...organisation, users: [] } : organisation,
      providerName: client?.appName ?? client?.clientId ?? 'xero-scim sandbox',
    };
    res.locals.tenant = locals;
    next();
  };

  router.get('/Users', tenantCall('Users', 'GET /api.xro/2.0/Users'), (req, res) => {
    const { organisation, providerName } = res.locals.tenant as TenantLocals;
    let users = organisation.users;
    const since = req.get('if-modified-since');
    if (since !== undefined) {
      const sinceMs = parseModifiedSince(since);
      // Strictly after: a record stamped exactly at the given instant was already seen.
      if (!Number.isNaN(sinceMs)) users = users.filter((user) => user.updatedAt > sinceMs);
    }
    try {
      if (typeof req.query.where === 'string') users = users.filter(parseWhere(req.query.where));
      if (typeof req.query.order === 'string') users = [...users].sort(parseOrder(req.query.order));
    } catch (error) {
      if (!(error instanceof QueryParseError)) throw error;
      sendValidation(res, 16, 'QueryParseException', error.message);
      return;
    }
    sendEnvelope(req, res, providerName, ctx.clock.now(), 'Users', 'User', users.map(userRecord));
  });

  router.get('/Users/:userId', tenantCall('User', 'GET /api.xro/2.0/Users/{UserID}'), (req, res) => {
    const { organisation, providerName } = res.locals.tenant as TenantLocals;
    const id = String(req.params.userId).toLowerCase();
    const user = organisation.users.find((u) => u.userId.toLowerCase() === id);
    if (!user) {
      sendNotFound(res);
      return;
    }
    sendEnvelope(req, res, providerName, ctx.clock.now(), 'Users', 'User', [userRecord(user)]);
  });

  router.get('/Organisation', tenantCall('Organisation', 'GET /api.xro/2.0/Organisation'), (req, res) => {
    const { organisation, providerName } = res.locals.tenant as TenantLocals;
    sendEnvelope(req, res, providerName, ctx.clock.now(), 'Organisations', 'Organisation', [organisationRecord(organisation)]);
  });

  router.use((req, res) => {
    ctx.counters.call(`${req.method} /api.xro/2.0 (unknown)`);
    sendNotFound(res);
  });
  return router;
}

/**
 * `If-Modified-Since` as Xero takes it: an HTTP date (RFC 9110 §5.6.7), ISO 8601 with a zone (what xero-node
 * sends), or Xero's documented `yyyy-mm-ddThh:mm:ss`, which is UTC (JavaScript would read it as local time).
 */
export function parseModifiedSince(value: string): number {
  const trimmed = value.trim();
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(trimmed)) return Date.parse(`${trimmed}Z`);
  return Date.parse(trimmed);
}

type Field = [name: string, value: string | number | boolean | Field[] | null, xml?: string];

function userRecord(user: SandboxUser): Field[] {
  return [
    ['UserID', user.userId],
    ['EmailAddress', user.email],
    ['FirstName', user.firstName],
    ['LastName', user.lastName],
    ['UpdatedDateUTC', msJsonDate(user.updatedAt), xmlDate(user.updatedAt)],
    ['IsSubscriber', user.isSubscriber],
    ['OrganisationRole', user.role],
  ];
}

/** The fields of Xero's Organisation that matter here, in Xero's order; `Class` becomes xero-node's `_class`. */
function organisationRecord(org: SandboxOrganisation): Field[] {
  return [
    ['OrganisationID', org.organisationId],
    ['APIKey', ''],
    ['Name', org.name],
    ['LegalName', org.legalName],
    ['PaysTax', true],
    ['Version', org.version],
    ['OrganisationType', org.organisationType],
    ['BaseCurrency', org.baseCurrency],
    ['CountryCode', org.countryCode],
    ['IsDemoCompany', org.isDemoCompany],
    ['OrganisationStatus', org.status],
    ['FinancialYearEndDay', 31],
    ['FinancialYearEndMonth', 3],
    ['DefaultSalesTax', 'Tax Exclusive'],
    ['DefaultPurchasesTax', 'Tax Exclusive'],
    ['CreatedDateUTC', msJsonDate(org.createdAt), xmlDate(org.createdAt)],
    ['OrganisationEntityType', org.organisationType],
    ['Timezone', org.timezone],
    ['ShortCode', org.shortCode],
    ['Edition', org.edition],
    ['Class', org.class],
    ['Addresses', []],
    ['Phones', []],
    ['ExternalLinks', []],
    ['PaymentTerms', []],
  ];
}

function toJson(fields: Field[]): Record<string, unknown> {
  return Object.fromEntries(fields.map(([name, value]) => [name, Array.isArray(value) ? (name === 'PaymentTerms' ? {} : value) : value]));
}

function toXml(name: string, fields: Field[]): XmlElement {
  return {
    name,
    value: fields.map(([field, value, xml]): XmlElement => ({ name: field, value: Array.isArray(value) ? [] : (xml ?? value ?? '') })),
  };
}

/** JSON only when asked for (`Accept: application/json`, as xero-node sends); XML otherwise, as Xero does. */
function sendEnvelope(req: Request, res: Response, providerName: string, now: number, plural: string, singular: string, records: Field[][]): void {
  const id = randomUUID();
  if (/application\/json/i.test(req.get('accept') ?? '')) {
    res.json({ Id: id, Status: 'OK', ProviderName: providerName, DateTimeUTC: msJsonInstant(now), [plural]: records.map(toJson) });
    return;
  }
  const body = renderXml({
    name: 'Response',
    value: [
      { name: 'Id', value: id },
      { name: 'Status', value: 'OK' },
      { name: 'ProviderName', value: providerName },
      { name: 'DateTimeUTC', value: xmlDate(now) },
      { name: plural, value: records.map((fields) => toXml(singular, fields)) },
    ],
  });
  res.status(200).type('text/xml; charset=utf-8').send(body);
}
