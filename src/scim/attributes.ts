/**
 * SCIM attribute declarations as data (RFC 7643 §2.2 characteristics, §7 schema representation).
 * One declaration per resource type drives `/Schemas`, `/ResourceTypes`, attribute selection, filter case
 * rules and the OpenAPI document.
 */

export type AttributeType = 'string' | 'boolean' | 'decimal' | 'integer' | 'dateTime' | 'reference' | 'complex' | 'binary';

export interface AttributeDefinition {
  readonly name: string;
  readonly type: AttributeType;
  readonly multiValued: boolean;
  readonly description: string;
  readonly required: boolean;
  /** Only for `string` and `reference`; RFC 7643 default is false. */
  readonly caseExact: boolean;
  readonly mutability: 'readOnly' | 'readWrite' | 'immutable' | 'writeOnly';
  readonly returned: 'always' | 'never' | 'default' | 'request';
  readonly uniqueness: 'none' | 'server' | 'global';
  readonly canonicalValues?: readonly string[];
  readonly referenceTypes?: readonly string[];
  readonly subAttributes?: readonly AttributeDefinition[];
}

export interface SchemaDefinition {
  /** Schema URN, e.g. `urn:ietf:params:scim:schemas:core:2.0:User`. */
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly attributes: readonly AttributeDefinition[];
}

/** What a filter needs to know about a resource type: its core schema and its extensions. */
export interface ResourceSchema {
  readonly core: SchemaDefinition;
  readonly extensions: readonly SchemaDefinition[];
}

/** Builds a read-only attribute with RFC 7643 defaults; only what differs needs saying. */
export function attribute(
  name: string,
  type: AttributeType,
  description: string,
  more: Partial<Omit<AttributeDefinition, 'name' | 'type' | 'description'>> = {},
): AttributeDefinition {
  return {
    name,
    type,
    multiValued: false,
    description,
    required: false,
    caseExact: false,
    mutability: 'readOnly',
    returned: 'default',
    uniqueness: 'none',
    ...more,
  };
}
