/**
 * Turns a parsed filter into a predicate over a rendered SCIM resource (RFC 7644 §3.4.2.2).
 * Every path is resolved against the schema once, here, case-insensitively (RFC 7643 §2.1), and every
 * construct the schema cannot support is refused with `invalidFilter` before any resource is read.
 */
import type { AttributeDefinition, ResourceSchema, SchemaDefinition } from '../attributes';
import { invalidFilter } from '../errors';
import type { AttributePath, CompareOp, CompareValue, Filter } from './ast';
import { compareInstants, parseInstant, type Instant } from './datetime';

type Json = Readonly<Record<string, unknown>>;
export type ResourcePredicate = (resource: Json) => boolean;

/** Where a path was resolved: which schema, and the definitions of the attribute and sub-attribute. */
export interface ResolvedPath {
  readonly schema: SchemaDefinition;
  /** True when the attribute lives under the extension's URN key in the rendered resource (RFC 7643 §3.3). */
  readonly inExtension: boolean;
  readonly attribute: AttributeDefinition;
  readonly subAttribute?: AttributeDefinition;
}

export function compileFilter(filter: Filter, schema: ResourceSchema): ResourcePredicate {
  return compile(filter, { kind: 'resource', schema }, { instantOf: instantMemo() });
}

/**
 * Resolves `[schema:]attribute[.sub]` against a resource type. Without a schema URN the core schema is searched
 * first, then the extensions (RFC 7644 §3.10 lets clients omit the URN; they only SHOULD qualify extension
 * attributes). Unknown names and ambiguous ones throw `invalidFilter`.
 */
export function resolvePath(path: AttributePath, schema: ResourceSchema): ResolvedPath {
  const { owner, inExtension } = findSchemaFor(path, schema);
  const attribute = findAttribute(owner.attributes, path.attribute);
  if (!attribute) throw invalidFilter(`Unknown attribute "${formatPath(path)}" in the filter (schema ${owner.id}).`);
  if (path.subAttribute === undefined) return { schema: owner, inExtension, attribute };
  const subAttribute = findAttribute(attribute.subAttributes ?? [], path.subAttribute);
  if (!subAttribute) {
    throw invalidFilter(`Unknown sub-attribute "${formatPath(path)}" in the filter: "${attribute.name}" has no "${path.subAttribute}".`);
  }
  return { schema: owner, inExtension, attribute, subAttribute };
}

/** What every part of one compiled filter shares. */
interface Compilation {
  /** `parseInstant`, remembering the last text read (see `instantMemo`). */
  readonly instantOf: (text: string) => Instant | undefined;
}

type Scope =
  | { readonly kind: 'resource'; readonly schema: ResourceSchema }
  /** Inside `attr[...]`: paths name sub-attributes of `parent` and are read from one of its values. */
  | { readonly kind: 'element'; readonly parent: AttributeDefinition };

function compile(filter: Filter, scope: Scope, compilation: Compilation): ResourcePredicate {
  switch (filter.op) {
    case 'and': {
      const left = compile(filter.left, scope, compilation);
      const right = compile(filter.right, scope, compilation);
      return (resource) => left(resource) && right(resource);
    }
    case 'or': {
      const left = compile(filter.left, scope, compilation);
      const right = compile(filter.right, scope, compilation);
      return (resource) => left(resource) || right(resource);
    }
    case 'not': {
      const inner = compile(filter.filter, scope, compilation);
      return (resource) => !inner(resource);
    }
    case 'valuePath': {
      const target = resolveIn(filter.path, scope);
      if (target.attribute.type !== 'complex' || target.subAttribute) {
        throw invalidFilter(`"${formatPath(filter.path)}[...]" needs a complex attribute; "${target.attribute.name}" is ${target.attribute.type}.`);
      }
      const inner = compile(filter.filter, { kind: 'element', parent: target.attribute }, compilation);
      return (resource) => someElement(target.read(resource), inner);
    }
    case 'pr': {
      const leaves = compileLeaves(filter.path, filter.where, scope, 'pr', compilation);
      return (resource) => leaves.some(resource, isPresent);
    }
    case 'eq':
    case 'ne':
    case 'co':
    case 'sw':
    case 'ew':
    case 'gt':
    case 'ge':
    case 'lt':
    case 'le':
      return compileComparison(filter.op, filter.path, filter.value, filter.where, scope, compilation);
    default:
      throw invalidFilter(`Unsupported filter operator "${String((filter as { op: unknown }).op)}".`);
  }
}

function compileComparison(
  op: CompareOp,
  path: AttributePath,
  value: CompareValue,
  where: Filter | undefined,
  scope: Scope,
  compilation: Compilation,
): ResourcePredicate {
  // RFC 7643 §2.5: null and unassigned are the same, so `eq null` means "not present" and `ne null` "present"
  // (for a complex attribute, of the whole node, as with pr).
  const leaves = compileLeaves(path, where, scope, value === null ? 'pr' : op, compilation);
  if (value === null) {
    if (op === 'eq') return (resource) => !leaves.some(resource, isPresent);
    if (op === 'ne') return (resource) => leaves.some(resource, isPresent);
    throw invalidFilter(`"${formatPath(path)} ${op} null": null can only be compared with eq or ne.`);
  }
  const test = leafTest(op === 'ne' ? 'eq' : op, value, leaves.definition, path, compilation);
  // `ne` is the complement of `eq`: a missing attribute is "not equal", and a multi-valued attribute is
  // "not equal" only when none of its values equals (so `x ne v` and `not (x eq v)` always agree).
  if (op === 'ne') return (resource) => !leaves.some(resource, test);
  return (resource) => leaves.some(resource, test);
}

interface Leaves {
  /** The definition values are compared by: the sub-attribute, or `value` for a complex attribute. */
  readonly definition: AttributeDefinition;
  /** Whether any leaf value of the resource satisfies `test`, without building arrays. */
  some(resource: Json, test: (value: unknown) => boolean): boolean;
}

interface Target {
  readonly attribute: AttributeDefinition;
  readonly subAttribute?: AttributeDefinition;
  /** Reads the attribute's value (own properties only) from a resource or, in brackets, from one element. */
  read(container: Json): unknown;
}

/** Resolves a path and builds an iterator over its leaf values (flattening multi-valued attributes). */
function compileLeaves(path: AttributePath, where: Filter | undefined, scope: Scope, op: CompareOp | 'pr', compilation: Compilation): Leaves {
  const target = resolveIn(path, scope);
  const { attribute, subAttribute } = target;
  const keep = where ? compileWhere(path, where, target, scope, compilation) : undefined;

  if (attribute.type !== 'complex') {
    return { definition: attribute, some: (resource, test) => someValue(target.read(resource), test) };
  }

  if (subAttribute) {
    const name = subAttribute.name;
    return {
      definition: subAttribute,
      some: (resource, test) =>
        someElement(target.read(resource), (element) => (!keep || keep(element)) && someValue(ownValue(element, name), test)),
    };
  }

  if (op === 'pr') {
    return { definition: attribute, some: (resource, test) => someElement(target.read(resource), (element) => (!keep || keep(element)) && test(element)) };
  }
  // RFC 7644 §3.4.2.2: a complex attribute compared directly (`emails co "@example.com"`) is compared by its
  // `value` sub-attribute. Ordering a complex value has no meaning, so gt/ge/lt/le are refused.
  if (op === 'gt' || op === 'ge' || op === 'lt' || op === 'le') {
    throw invalidFilter(`"${formatPath(path)} ${op}": ${op} cannot compare the complex attribute "${attribute.name}"; name a sub-attribute.`);
  }
  const valueDefinition = findAttribute(attribute.subAttributes ?? [], 'value');
  if (!valueDefinition) {
    throw invalidFilter(`"${formatPath(path)} ${op}": "${attribute.name}" is complex and has no "value" to compare; name a sub-attribute.`);
  }
  const name = valueDefinition.name;
  return {
    definition: valueDefinition,
    some: (resource, test) =>
      someElement(target.read(resource), (element) => (!keep || keep(element)) && someValue(ownValue(element, name), test)),
  };
}

/** `emails[type eq "work"].value`: the bracketed filter selects which values of `emails` count. */
function compileWhere(path: AttributePath, where: Filter, target: Target, scope: Scope, compilation: Compilation): ResourcePredicate {
  if (target.attribute.type !== 'complex') {
    throw invalidFilter(`"${formatPath(path)}": "[...]" needs a complex attribute; "${target.attribute.name}" is ${target.attribute.type}.`);
  }
  if (scope.kind === 'element') throw invalidFilter('A value filter "[...]" cannot be nested in another.');
  return compile(where, { kind: 'element', parent: target.attribute }, compilation);
}

function resolveIn(path: AttributePath, scope: Scope): Target {
  if (scope.kind === 'resource') {
    const resolved = resolvePath(path, scope.schema);
    const { attribute, subAttribute } = resolved;
    const read = resolved.inExtension
      ? (resource: Json) => ownValue(ownValue(resource, resolved.schema.id), attribute.name)
      : (resource: Json) => ownValue(resource, attribute.name);
    return subAttribute ? { attribute, subAttribute, read } : { attribute, read };
  }
  const { parent } = scope;
  if (path.schema !== undefined || path.subAttribute !== undefined) {
    throw invalidFilter(
      `"${formatPath(path)}" inside "${parent.name}[...]": name a sub-attribute of "${parent.name}" (e.g. "${parent.subAttributes?.[0]?.name ?? 'value'}").`,
    );
  }
  const attribute = findAttribute(parent.subAttributes ?? [], path.attribute);
  if (!attribute) throw invalidFilter(`Unknown sub-attribute "${path.attribute}" inside "${parent.name}[...]".`);
  const name = attribute.name;
  return { attribute, read: (element: Json) => ownValue(element, name) };
}

function findSchemaFor(path: AttributePath, schema: ResourceSchema): { owner: SchemaDefinition; inExtension: boolean } {
  if (path.schema !== undefined) {
    const urn = path.schema.toLowerCase();
    if (schema.core.id.toLowerCase() === urn) return { owner: schema.core, inExtension: false };
    const extension = schema.extensions.find((candidate) => candidate.id.toLowerCase() === urn);
    if (extension) return { owner: extension, inExtension: true };
    throw invalidFilter(`Unknown schema "${path.schema}" in the filter.`);
  }
  if (findAttribute(schema.core.attributes, path.attribute)) return { owner: schema.core, inExtension: false };
  const owners = schema.extensions.filter((extension) => findAttribute(extension.attributes, path.attribute));
  if (owners.length === 1) return { owner: owners[0] as SchemaDefinition, inExtension: true };
  if (owners.length > 1) {
    throw invalidFilter(`"${path.attribute}" is ambiguous: prefix it with one of ${owners.map((owner) => owner.id).join(', ')}.`);
  }
  throw invalidFilter(`Unknown attribute "${formatPath(path)}" in the filter.`);
}

function findAttribute(attributes: readonly AttributeDefinition[], name: string): AttributeDefinition | undefined {
  const wanted = name.toLowerCase();
  return attributes.find((attribute) => attribute.name.toLowerCase() === wanted);
}

/** Builds the test one leaf value must pass, checking the operator and literal against the attribute's type. */
function leafTest(
  op: Exclude<CompareOp, 'ne'>,
  value: string | number | boolean,
  definition: AttributeDefinition,
  path: AttributePath,
  { instantOf }: Compilation,
): (leaf: unknown) => boolean {
  const where = `"${formatPath(path)} ${op} ${JSON.stringify(value)}"`;
  const ordering = op === 'gt' || op === 'ge' || op === 'lt' || op === 'le';
  const substring = op === 'co' || op === 'sw' || op === 'ew';
  switch (definition.type) {
    case 'boolean':
      // RFC 7644 §3.4.2.2: gt/ge/lt/le on a boolean is a 400 invalidFilter.
      if (ordering || substring) throw invalidFilter(`${where}: the boolean "${definition.name}" supports only eq, ne and pr.`);
      if (typeof value !== 'boolean') throw invalidFilter(`${where}: "${definition.name}" is boolean; compare it with true or false.`);
      return (leaf) => leaf === value;
    case 'integer':
    case 'decimal':
      if (substring) throw invalidFilter(`${where}: ${op} applies to strings; "${definition.name}" is a number.`);
      if (typeof value !== 'number') throw invalidFilter(`${where}: "${definition.name}" is a number; compare it with a number.`);
      return (leaf) => typeof leaf === 'number' && ordered(op, leaf - value);
    case 'dateTime': {
      if (substring) throw invalidFilter(`${where}: ${op} applies to strings; "${definition.name}" is a dateTime.`);
      const instant = typeof value === 'string' ? parseInstant(value) : undefined;
      if (!instant) {
        throw invalidFilter(`${where}: "${definition.name}" is a dateTime; compare it with an xsd:dateTime such as "2024-01-31T12:00:00Z".`);
      }
      return (leaf) => {
        const other = typeof leaf === 'string' ? instantOf(leaf) : undefined;
        return other !== undefined && ordered(op, compareInstants(other, instant));
      };
    }
    case 'complex':
      throw invalidFilter(`${where}: "${definition.name}" is complex; name a sub-attribute.`);
    case 'binary':
      if (ordering) throw invalidFilter(`${where}: the binary "${definition.name}" cannot be ordered.`);
      return stringTest(op, value, true, where, definition);
    case 'string':
    case 'reference':
      return stringTest(op, value, definition.caseExact, where, definition);
  }
}

function stringTest(op: Exclude<CompareOp, 'ne'>, value: string | number | boolean, caseExact: boolean, where: string, definition: AttributeDefinition): (leaf: unknown) => boolean {
  if (typeof value !== 'string') throw invalidFilter(`${where}: "${definition.name}" is a string; compare it with a "quoted string".`);
  const fold = caseExact ? (text: string) => text : foldCase;
  const wanted = fold(value);
  const check = (leaf: string): boolean => {
    switch (op) {
      case 'eq':
        return leaf === wanted;
      case 'co':
        return leaf.includes(wanted);
      case 'sw':
        return leaf.startsWith(wanted);
      case 'ew':
        return leaf.endsWith(wanted);
      case 'gt':
        return leaf > wanted;
      case 'ge':
        return leaf >= wanted;
      case 'lt':
        return leaf < wanted;
      case 'le':
        return leaf <= wanted;
    }
  };
  return (leaf) => typeof leaf === 'string' && check(fold(leaf));
}

/**
 * parseInstant with a one-entry memo, shared by the comparisons of one compiled filter: a range such as Entra's
 * `meta.lastModified ge … and meta.lastModified le …` reads the same timestamp twice per resource.
 */
function instantMemo(): (text: string) => Instant | undefined {
  let lastText: string | undefined;
  let lastInstant: Instant | undefined;
  return (text) => {
    if (text !== lastText) {
      lastInstant = parseInstant(text);
      lastText = text;
    }
    return lastInstant;
  };
}

/** RFC 7643 §2.2 caseExact: false → compare without regard to case. */
const foldCase = (text: string) => text.toLowerCase();

/**
 * The key under which an index must store a string value of `definition` so that an indexed `eq` lookup finds
 * exactly what the compiled filter would (e.g. userName is not case-exact, id is).
 */
export function equalityKey(definition: AttributeDefinition, value: string): string {
  return definition.caseExact || definition.type === 'binary' ? value : foldCase(value);
}

function ordered(op: Exclude<CompareOp, 'ne'>, difference: number): boolean {
  switch (op) {
    case 'gt':
      return difference > 0;
    case 'ge':
      return difference >= 0;
    case 'lt':
      return difference < 0;
    case 'le':
      return difference <= 0;
    default:
      return difference === 0;
  }
}

/** Own properties only: a resource never exposes `__proto__`, `constructor` or anything inherited. */
function ownValue(container: unknown, name: string): unknown {
  if (typeof container !== 'object' || container === null || Array.isArray(container)) return undefined;
  return Object.hasOwn(container, name) ? (container as Json)[name] : undefined;
}

function someValue(value: unknown, test: (value: unknown) => boolean): boolean {
  if (Array.isArray(value)) return value.some((item) => item !== null && item !== undefined && test(item));
  return value !== null && value !== undefined && test(value);
}

function someElement(value: unknown, test: (element: Json) => boolean): boolean {
  return someValue(value, (item) => isObject(item) && test(item));
}

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** RFC 7644 §3.4.2.2 `pr`: a non-empty value, or for a complex attribute a non-empty node. */
function isPresent(value: unknown): boolean {
  if (value === null || value === undefined) return false;
  if (typeof value === 'string') return value.length > 0;
  if (Array.isArray(value)) return value.some(isPresent);
  if (typeof value === 'object') return Object.values(value).some(isPresent);
  return true;
}

function formatPath(path: AttributePath): string {
  return `${path.schema !== undefined ? `${path.schema}:` : ''}${path.attribute}${path.subAttribute !== undefined ? `.${path.subAttribute}` : ''}`;
}
