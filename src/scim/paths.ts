/**
 * Resolving attribute paths (RFC 7644 §3.10 `attrPath`: `[URN ":"]attr["." subAttr]`) against a resource type's
 * declarations. Names compare case-insensitively (RFC 7643 §2.1); the result carries the canonical spelling.
 */
import type { AttributeDefinition, ResourceSchema, SchemaDefinition } from './attributes';

export interface ResolvedPath {
  readonly schema: SchemaDefinition;
  /** True when the attribute belongs to the core schema (it lives at the top level of the resource). */
  readonly core: boolean;
  readonly attribute: AttributeDefinition;
  readonly subAttribute?: AttributeDefinition;
}

const findAttribute = (list: readonly AttributeDefinition[] | undefined, name: string) => {
  const lower = name.toLowerCase();
  return list?.find((a) => a.name.toLowerCase() === lower);
};

/** The schema a URN names (case-insensitively), if it belongs to the resource type. */
export function findSchema(resourceSchema: ResourceSchema, urn: string): { schema: SchemaDefinition; core: boolean } | undefined {
  const lower = urn.toLowerCase();
  if (resourceSchema.core.id.toLowerCase() === lower) return { schema: resourceSchema.core, core: true };
  const extension = resourceSchema.extensions.find((e) => e.id.toLowerCase() === lower);
  return extension && { schema: extension, core: false };
}

/** Splits `urn:…:User:name.givenName` into the schema URN and the rest, by the longest declared URN prefix. */
function splitUrn(resourceSchema: ResourceSchema, path: string): { urn?: string; rest: string } {
  if (!/^urn:/i.test(path)) return { rest: path };
  const lower = path.toLowerCase();
  const candidates = [resourceSchema.core, ...resourceSchema.extensions]
    .map((s) => s.id)
    .filter((id) => lower.startsWith(`${id.toLowerCase()}:`) || lower === id.toLowerCase())
    .sort((a, b) => b.length - a.length);
  const urn = candidates[0];
  if (urn === undefined) return { urn: path, rest: '' };
  return { urn, rest: path.slice(urn.length + 1) };
}

/**
 * Resolves a textual path. Returns undefined for an unknown schema or attribute, and for a path naming only a
 * schema URN (see `resolveSchemaOnly`).
 */
export function resolvePath(resourceSchema: ResourceSchema, path: string): ResolvedPath | undefined {
  const { urn, rest } = splitUrn(resourceSchema, path.trim());
  const [attributeName, subName, extra] = rest.split('.');
  if (!attributeName || extra !== undefined) return undefined;
  return resolveParts(resourceSchema, urn, attributeName, subName);
}

/** Resolves a path given as parts (as the filter AST carries them). */
export function resolveParts(
  resourceSchema: ResourceSchema,
  urn: string | undefined,
  attributeName: string,
  subName?: string,
): ResolvedPath | undefined {
  let schema: SchemaDefinition = resourceSchema.core;
  let core = true;
  if (urn !== undefined) {
    const found = findSchema(resourceSchema, urn);
    if (!found) return undefined;
    ({ schema, core } = found);
  }
  let attribute = findAttribute(schema.attributes, attributeName);
  if (!attribute && urn === undefined) {
    // RFC 7644 §3.10: clients may omit the URN of an extension attribute (the filter resolves the same way).
    for (const extension of resourceSchema.extensions) {
      attribute = findAttribute(extension.attributes, attributeName);
      if (attribute) {
        schema = extension;
        core = false;
        break;
      }
    }
  }
  if (!attribute) return undefined;
  if (subName === undefined) return { schema, core, attribute };
  const subAttribute = findAttribute(attribute.subAttributes, subName);
  return subAttribute && { schema, core, attribute, subAttribute };
}

/** `urn:…:extension:…:User` alone names the whole extension object (RFC 7644 §3.10). */
export function resolveSchemaOnly(resourceSchema: ResourceSchema, path: string): SchemaDefinition | undefined {
  const found = findSchema(resourceSchema, path.trim());
  return found && !found.core ? found.schema : undefined;
}

/** The resource object that holds the path's attribute: the resource itself, or its extension object. */
export function container(resource: Readonly<Record<string, unknown>>, path: ResolvedPath): Readonly<Record<string, unknown>> | undefined {
  if (path.core) return resource;
  const value = resource[path.schema.id];
  return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
}

/** Every value a path reaches in a resource, flattening multi-valued attributes. */
export function valuesAt(resource: Readonly<Record<string, unknown>>, path: ResolvedPath): unknown[] {
  const holder = container(resource, path);
  if (!holder) return [];
  const raw = holder[path.attribute.name];
  const items = Array.isArray(raw) ? raw : raw === undefined || raw === null ? [] : [raw];
  if (!path.subAttribute) return items;
  const name = path.subAttribute.name;
  const out: unknown[] = [];
  for (const item of items) {
    if (item !== null && typeof item === 'object') {
      const v = (item as Record<string, unknown>)[name];
      if (v !== undefined && v !== null) out.push(v);
    }
  }
  return out;
}

/** The key an index stores a string under: lower-cased unless the attribute is case-exact (RFC 7643 §2.2). */
export function indexKey(value: string, attribute: AttributeDefinition): string {
  return attribute.caseExact ? value : value.toLowerCase();
}
