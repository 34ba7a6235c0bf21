/**
 * RFC 7644 §4 discovery documents, generated from the declarations in `schemas.ts`: what is advertised is
 * exactly what is implemented (filter with maxResults, sort, etag, index and cursor paging; no patch, bulk or
 * changePassword).
 */
import type { AttributeDefinition, SchemaDefinition } from './attributes';
import {
  PUBLISHED_SCHEMAS,
  RESOURCE_TYPES,
  RESOURCE_TYPE_SCHEMA,
  SCHEMA_SCHEMA,
  SERVICE_PROVIDER_CONFIG_SCHEMA,
  type ResourceTypeDefinition,
  publishedAttributes,
} from './schemas';

export interface DiscoveryOptions {
  /** SCIM base URL, e.g. `https://host/scim/v2`. */
  readonly baseUrl: string;
  readonly maxResults: number;
  readonly basicAuth: boolean;
  /** RFC 9865 `cursorTimeout`. */
  readonly cursorTimeoutSeconds: number;
}

/** RFC 7643 §5. */
export function serviceProviderConfig(options: DiscoveryOptions): Record<string, unknown> {
  const authenticationSchemes: Record<string, unknown>[] = [
    {
      type: 'oauthbearertoken',
      name: 'Bearer token',
      description: 'Authorization: Bearer <token>, with a token configured in SCIM_BEARER_TOKEN.',
      specUri: 'https://www.rfc-editor.org/rfc/rfc6750',
      primary: true,
    },
  ];
  if (options.basicAuth) {
    authenticationSchemes.push({
      type: 'httpbasic',
      name: 'HTTP Basic',
      description: 'HTTP Basic with any user name and a configured bearer token as the password.',
      specUri: 'https://www.rfc-editor.org/rfc/rfc7617',
      primary: false,
    });
  }
  return {
    schemas: [SERVICE_PROVIDER_CONFIG_SCHEMA],
    documentationUri: 'https://www.rfc-editor.org/rfc/rfc7644',
    patch: { supported: false },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: options.maxResults },
    changePassword: { supported: false },
    sort: { supported: true },
    etag: { supported: true },
    // RFC 9865 §4. Index paging stays the default: clients written before cursors page by startIndex without asking.
    // A page without `count` holds up to maxResults, and `count` is clamped to it.
    pagination: {
      cursor: true,
      index: true,
      defaultPaginationMethod: 'index',
      defaultPageSize: options.maxResults,
      maxPageSize: options.maxResults,
      cursorTimeout: options.cursorTimeoutSeconds,
    },
    authenticationSchemes,
    meta: {
      resourceType: 'ServiceProviderConfig',
      location: `${options.baseUrl}/ServiceProviderConfig`,
    },
  };
}

/** RFC 7643 §6. */
export function resourceTypeDocument(type: ResourceTypeDefinition, baseUrl: string): Record<string, unknown> {
  return {
    schemas: [RESOURCE_TYPE_SCHEMA],
    id: type.id,
    name: type.name,
    endpoint: type.endpoint,
    description: type.description,
    schema: type.schema.core.id,
    schemaExtensions: type.schema.extensions.map((e) => ({ schema: e.id, required: false })),
    meta: { resourceType: 'ResourceType', location: `${baseUrl}/ResourceTypes/${type.id}` },
  };
}

export function resourceTypeDocuments(baseUrl: string): Record<string, unknown>[] {
  return RESOURCE_TYPES.map((t) => resourceTypeDocument(t, baseUrl));
}

export function findResourceType(id: string): ResourceTypeDefinition | undefined {
  return RESOURCE_TYPES.find((t) => t.id === id);
}

/** RFC 7643 §7: every characteristic spelled out, so clients need not know the defaults. */
function attributeDocument(a: AttributeDefinition): Record<string, unknown> {
  const doc: Record<string, unknown> = {
    name: a.name,
    type: a.type,
    multiValued: a.multiValued,
    description: a.description,
    required: a.required,
    caseExact: a.caseExact,
    mutability: a.mutability,
    returned: a.returned,
    uniqueness: a.uniqueness,
  };
  if (a.canonicalValues) doc.canonicalValues = a.canonicalValues;
  if (a.referenceTypes) doc.referenceTypes = a.referenceTypes;
  if (a.subAttributes) doc.subAttributes = a.subAttributes.map(attributeDocument);
  return doc;
}

export function schemaDocument(schema: SchemaDefinition, baseUrl: string): Record<string, unknown> {
  return {
    schemas: [SCHEMA_SCHEMA],
    id: schema.id,
    name: schema.name,
    description: schema.description,
    attributes: publishedAttributes(schema).map(attributeDocument),
    meta: { resourceType: 'Schema', location: `${baseUrl}/Schemas/${schema.id}` },
  };
}

export function schemaDocuments(baseUrl: string): Record<string, unknown>[] {
  return PUBLISHED_SCHEMAS.map((s) => schemaDocument(s, baseUrl));
}

/** Schema URNs compare case-insensitively (RFC 7643 §2.1 / RFC 8141). */
export function findSchemaDefinition(id: string): SchemaDefinition | undefined {
  const lower = id.toLowerCase();
  return PUBLISHED_SCHEMAS.find((s) => s.id.toLowerCase() === lower);
}
