/**
 * The three resource types this server serves (User, Group, Role), declared once as data.
 *
 * The same declarations drive `/Schemas`, `/ResourceTypes`, attribute selection (`returned`), sorting and the
 * filter's case rules. Everything is read-only: this server never accepts writes.
 */
import { type AttributeDefinition, type ResourceSchema, type SchemaDefinition, attribute } from './attributes';

export const USER_SCHEMA_ID = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP_SCHEMA_ID = 'urn:ietf:params:scim:schemas:core:2.0:Group';
/** Okta Identity Governance discovers entitlements at endpoints whose ResourceType uses this schema. */
export const ROLE_SCHEMA_ID = 'urn:okta:scim:schemas:core:1.0:Role';
export const XERO_USER_SCHEMA_ID = 'urn:xero-scim:schemas:extension:xero:1.0:User';
export const XERO_ORGANISATION_SCHEMA_ID = 'urn:xero-scim:schemas:extension:xero:1.0:Organisation';
export const XERO_ROLE_SCHEMA_ID = 'urn:xero-scim:schemas:extension:xero:1.0:Role';

export const LIST_RESPONSE_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
export const SEARCH_REQUEST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:SearchRequest';
export const SCHEMA_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Schema';
export const RESOURCE_TYPE_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ResourceType';
export const SERVICE_PROVIDER_CONFIG_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig';

const sub = attribute;

/**
 * RFC 7643 §3.1 common attributes. They are declared in each core schema's attribute list so that the filter,
 * sorting and attribute selection know their characteristics, but `/Schemas` leaves them out: §3.1 defines them
 * outside any schema, and the RFC's own representations (§8.7.1) do not list them.
 */
const COMMON_ATTRIBUTES: readonly AttributeDefinition[] = [
  attribute('schemas', 'reference', 'The schemas the resource conforms to.', {
    multiValued: true,
    caseExact: true,
    returned: 'always',
    referenceTypes: ['uri'],
  }),
  attribute('id', 'string', 'Stable, server-assigned identifier of the resource.', {
    caseExact: true,
    returned: 'always',
    uniqueness: 'server',
  }),
  attribute('externalId', 'string', 'Identifier assigned by a provisioning client; this server sets none.', {
    caseExact: true,
  }),
  attribute('meta', 'complex', 'Resource metadata.', {
    subAttributes: [
      sub('resourceType', 'string', 'The resource type name.', { caseExact: true }),
      sub('created', 'dateTime', 'When the resource was first seen.'),
      sub('lastModified', 'dateTime', 'Latest Xero UpdatedDateUTC of what the resource shows.'),
      sub('location', 'reference', 'Absolute URI of the resource.', { caseExact: true, referenceTypes: ['uri'] }),
      sub('version', 'string', 'Weak entity tag of the resource, equal to its ETag header.', { caseExact: true }),
    ],
  }),
];

const COMMON_NAMES: ReadonlySet<string> = new Set(COMMON_ATTRIBUTES.map((a) => a.name));

const reference = (description: string, referenceTypes: readonly string[]) =>
  sub('$ref', 'reference', description, { caseExact: true, referenceTypes });

const USER_SCHEMA: SchemaDefinition = {
  id: USER_SCHEMA_ID,
  name: 'User',
  description: 'A person who can log in to at least one connected Xero organisation, merged across organisations by e-mail.',
  attributes: [
    ...COMMON_ATTRIBUTES,
    attribute('userName', 'string', 'The normalised (lower-case) e-mail address.', {
      required: true,
      uniqueness: 'server',
    }),
    attribute('name', 'complex', 'The components of the user’s name.', {
      subAttributes: [
        sub('formatted', 'string', 'Given and family name, for display.'),
        sub('familyName', 'string', 'Family name (Xero LastName).'),
        sub('givenName', 'string', 'Given name (Xero FirstName).'),
      ],
    }),
    attribute('displayName', 'string', 'Name for display: given and family name.'),
    attribute('emails', 'complex', 'The e-mail address, as Xero shows it.', {
      multiValued: true,
      subAttributes: [
        sub('value', 'string', 'The e-mail address.'),
        sub('type', 'string', 'Always "work".', { canonicalValues: ['work'] }),
        sub('primary', 'boolean', 'Always true: the only address.'),
      ],
    }),
    attribute('active', 'boolean', 'True while the user has access to at least one organisation.'),
    attribute('groups', 'complex', 'The organisations the user can access (read-only; derived from Group membership).', {
      multiValued: true,
      subAttributes: [
        sub('value', 'string', 'The organisation (Group) id.', { caseExact: true }),
        reference('URI of the Group.', ['Group']),
        sub('display', 'string', 'The organisation name.'),
        sub('type', 'string', 'Always "direct".', { canonicalValues: ['direct'] }),
      ],
    }),
    // No `type`: RFC 7643 §8.7.1 gives roles.type no canonical values, and strict libraries (SCIMMY) refuse any
    // value there. The Xero role code is in the extension (`organisations[].role`) and on the Role (`code`).
    attribute('roles', 'complex', 'The organisation roles the user holds, one per organisation.', {
      multiValued: true,
      subAttributes: [
        sub('value', 'string', 'The Role id.', { caseExact: true }),
        sub('display', 'string', 'Readable, e.g. "Acme Ltd — Standard".'),
        sub('primary', 'boolean', 'Always false: no role is primary.'),
      ],
    }),
  ],
};

export const XERO_USER_SCHEMA: SchemaDefinition = {
  id: XERO_USER_SCHEMA_ID,
  name: 'XeroUser',
  description: 'Per-organisation details of a user as Xero reports them.',
  attributes: [
    attribute('organisations', 'complex', 'One entry per Xero user record, including removed ones.', {
      multiValued: true,
      subAttributes: [
        sub('value', 'string', 'The OrganisationID.', { caseExact: true }),
        sub('display', 'string', 'The organisation name.'),
        sub('xeroUserId', 'string', 'The Xero UserID in that organisation.', { caseExact: true }),
        sub('role', 'string', 'The Xero OrganisationRole code.', {
          caseExact: true,
          canonicalValues: ['READONLY', 'INVOICEONLY', 'STANDARD', 'FINANCIALADVISER', 'MANAGEDCLIENT', 'CASHBOOKCLIENT', 'UNKNOWN', 'REMOVED'],
        }),
        sub('isSubscriber', 'boolean', 'Whether the user is the subscriber of that organisation.'),
        sub('updated', 'dateTime', 'Xero UpdatedDateUTC of the record.'),
      ],
    }),
  ],
};

const GROUP_SCHEMA: SchemaDefinition = {
  id: GROUP_SCHEMA_ID,
  name: 'Group',
  description: 'A connected Xero organisation; its members are the users with access to it.',
  attributes: [
    ...COMMON_ATTRIBUTES,
    attribute('displayName', 'string', 'The organisation name.', { required: true }),
    attribute('members', 'complex', 'Users with access to the organisation.', {
      multiValued: true,
      subAttributes: [
        sub('value', 'string', 'The User id.', { caseExact: true }),
        reference('URI of the User.', ['User']),
        sub('display', 'string', 'The user’s display name.'),
        sub('type', 'string', 'Always "User".', { canonicalValues: ['User'] }),
      ],
    }),
  ],
};

export const XERO_ORGANISATION_SCHEMA: SchemaDefinition = {
  id: XERO_ORGANISATION_SCHEMA_ID,
  name: 'XeroOrganisation',
  description: 'Details of a Xero organisation from its Organisation record.',
  attributes: [
    attribute('legalName', 'string', 'Legal name.'),
    attribute('shortCode', 'string', 'Xero short code (used in deep links).', { caseExact: true }),
    attribute('organisationType', 'string', 'e.g. COMPANY, PRACTICE.', { caseExact: true }),
    attribute('countryCode', 'string', 'ISO 3166-1 alpha-2 country code.', { caseExact: true }),
    attribute('baseCurrency', 'string', 'ISO 4217 base currency.', { caseExact: true }),
    attribute('edition', 'string', 'BUSINESS or PARTNER.', { caseExact: true, canonicalValues: ['BUSINESS', 'PARTNER'] }),
    attribute('class', 'string', 'Subscription class, e.g. PREMIUM.', { caseExact: true }),
    attribute('version', 'string', 'Xero regional version, e.g. AU, GLOBAL.', { caseExact: true }),
    attribute('status', 'string', 'Organisation status, e.g. ACTIVE.', { caseExact: true }),
    attribute('isDemoCompany', 'boolean', 'Whether it is the Xero demo company.'),
    attribute('timezone', 'string', 'Xero timezone name.', { caseExact: true }),
    attribute('tenantType', 'string', 'ORGANISATION or PRACTICE.', { caseExact: true }),
    attribute('connectionId', 'string', 'The Xero connection granting access.', { caseExact: true }),
  ],
};

const ROLE_SCHEMA: SchemaDefinition = {
  id: ROLE_SCHEMA_ID,
  name: 'Role',
  description: 'A role of one Xero organisation (an entitlement).',
  attributes: [
    ...COMMON_ATTRIBUTES,
    attribute('displayName', 'string', 'Readable, e.g. "Acme Ltd — Standard".', { required: true }),
    attribute('description', 'string', 'What the role is.'),
  ],
};

const XERO_ROLE_SCHEMA: SchemaDefinition = {
  id: XERO_ROLE_SCHEMA_ID,
  name: 'XeroRole',
  description: 'The Xero role code, its organisation and who holds it.',
  attributes: [
    attribute('code', 'string', 'The Xero OrganisationRole code, e.g. STANDARD.', { caseExact: true }),
    attribute('organisation', 'complex', 'The organisation the role belongs to.', {
      subAttributes: [
        sub('value', 'string', 'The OrganisationID (Group id).', { caseExact: true }),
        reference('URI of the Group.', ['Group']),
        sub('display', 'string', 'The organisation name.'),
      ],
    }),
    attribute('members', 'complex', 'Users holding the role.', {
      multiValued: true,
      subAttributes: [
        sub('value', 'string', 'The User id.', { caseExact: true }),
        reference('URI of the User.', ['User']),
        sub('display', 'string', 'The user’s display name.'),
        sub('type', 'string', 'Always "User".', { canonicalValues: ['User'] }),
      ],
    }),
  ],
};

export type ResourceTypeName = 'User' | 'Group' | 'Role';

/** RFC 7643 §6 ResourceType, plus what the server needs to serve it. */
export interface ResourceTypeDefinition {
  readonly id: ResourceTypeName;
  readonly name: ResourceTypeName;
  /** Path below the base URL, e.g. `/Users`. */
  readonly endpoint: string;
  readonly description: string;
  readonly schema: ResourceSchema;
}

export const USER_TYPE: ResourceTypeDefinition = {
  id: 'User',
  name: 'User',
  endpoint: '/Users',
  description: 'People with access to connected Xero organisations.',
  schema: { core: USER_SCHEMA, extensions: [XERO_USER_SCHEMA] },
};

export const GROUP_TYPE: ResourceTypeDefinition = {
  id: 'Group',
  name: 'Group',
  endpoint: '/Groups',
  description: 'Connected Xero organisations.',
  schema: { core: GROUP_SCHEMA, extensions: [XERO_ORGANISATION_SCHEMA] },
};

export const ROLE_TYPE: ResourceTypeDefinition = {
  id: 'Role',
  name: 'Role',
  endpoint: '/Roles',
  description: 'Roles of connected Xero organisations (entitlements).',
  schema: { core: ROLE_SCHEMA, extensions: [XERO_ROLE_SCHEMA] },
};

export const RESOURCE_TYPES: readonly ResourceTypeDefinition[] = [USER_TYPE, GROUP_TYPE, ROLE_TYPE];

/** Every schema `/Schemas` publishes, in a stable order. */
export const PUBLISHED_SCHEMAS: readonly SchemaDefinition[] = RESOURCE_TYPES.flatMap((t) => [t.schema.core, ...t.schema.extensions]);

/** A schema as `/Schemas` publishes it: without the §3.1 common attributes. */
export function publishedAttributes(schema: SchemaDefinition): readonly AttributeDefinition[] {
  return schema.attributes.filter((a) => !COMMON_NAMES.has(a.name));
}
