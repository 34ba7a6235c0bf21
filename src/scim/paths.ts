/**
 * Resolving attribute paths (RFC 7644 §3.10 `attrPath`: `[URN ":"]attr["." subAttr]`) against a resource type's
 * declarations. Names compare case-insensitively (RFC 7643 §2.1); the result carries the canonical spelling.
 */
import type { AttributeDefinition, ResourceSchema, SchemaDefinition } from './attributes';
import { ScimError } from './errors';
import { parseAttributePath, resolvePath as resolveFilterPath, type AttributePath, type ResolvedPath as FilterResolvedPath } from './filter';

export interface ResolvedPath {
  readonly schema: SchemaDefinition;
  /** True when the attribute belongs to the core schema (it lives at the top level of the resource). */
  readonly core: boolean;
  readonly attribute: AttributeDefinition;
  readonly subAttribute?: AttributeDefinition;
}

/** The schema a URN names (case-insensitively), if it belongs to the resource type. */
export function findSchema(resourceSchema: ResourceSchema, urn: string): { schema: SchemaDefinition; core: boolean } | undefined {
  const lower = urn.toLowerCase();
  if (resourceSchema.core.id.toLowerCase() === lower) return { schema: resourceSchema.core, core: true };
  const extension = resourceSchema.extensions.find((e) => e.id.toLowerCase() === lower);
  return extension && { schema: extension, core: false };
}

/**
 * Resolves a textual path (`sortBy`, an `attributes` entry) with the filter's own path grammar and resolution
 * rules, so all three agree. Returns undefined for an unknown, ambiguous or malformed path.
 */
export function resolvePath(resourceSchema: ResourceSchema, path: string): ResolvedPath | undefined {
  try {
    return adapt(resolveFilterPath(parseAttributePath(path), resourceSchema));
  } catch (error) {
    if (error instanceof ScimError) return undefined;
    throw error;
  }
}

/** Resolves a path given as parts (as the filter AST carries them). */
export function resolveParts(
  resourceSchema: ResourceSchema,
  urn: string | undefined,
  attributeName: string,
  subName?: string,
): ResolvedPath | undefined {
  const path: AttributePath = { attribute: attributeName };
  if (urn !== undefined) path.schema = urn;
  if (subName !== undefined) path.subAttribute = subName;
  try {
    return adapt(resolveFilterPath(path, resourceSchema));
  } catch (error) {
    if (error instanceof ScimError) return undefined;
    throw error;
  }
}

function adapt(resolved: FilterResolvedPath): ResolvedPath {
  const { schema, inExtension, attribute, subAttribute } = resolved;
  return subAttribute ? { schema, core: !inExtension, attribute, subAttribute } : { schema, core: !inExtension, attribute };
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

