/**
 * Attribute selection: `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9), honouring each
 * attribute's `returned` characteristic (RFC 7643 §2.2): `always` cannot be excluded, `never` is never sent,
 * `request` only when named in `attributes`.
 *
 * Paths naming attributes the resource type does not have are ignored rather than refused: a root search
 * (`POST /.search`) names attributes of several types at once, and RFC 7644 asks for no error here.
 */
import type { AttributeDefinition, ResourceSchema } from './attributes';
import { findSchema, resolvePath } from './paths';

export interface AttributeSelection {
  readonly attributes?: readonly string[];
  readonly excludedAttributes?: readonly string[];
}

/** What to keep of one attribute: all of it, or only some sub-attributes. */
type Rule = { readonly whole: true } | { readonly whole: false; readonly subs: ReadonlySet<string> };

const WHOLE: Rule = { whole: true };

/** Per container (`''` = the resource, else an extension URN): attribute name → rule. */
type Plan = ReadonlyMap<string, ReadonlyMap<string, Rule>>;

export type Projection = (resource: Readonly<Record<string, unknown>>) => Record<string, unknown>;

/** Compiles a selection into a projection; undefined when the default representation applies unchanged. */
export function compileSelection(schema: ResourceSchema, selection: AttributeSelection): Projection | undefined {
  const { attributes, excludedAttributes } = selection;
  if (!attributes?.length && !excludedAttributes?.length) return undefined;
  const plan = attributes?.length ? planIncluded(schema, attributes) : planExcluded(schema, excludedAttributes ?? []);
  return (resource) => project(resource, schema, plan);
}

/** True when the selection is exactly `excludedAttributes=members` (the cheap, pre-rendered Group case). */
export function excludesOnlyMembers(selection: AttributeSelection): boolean {
  const excluded = selection.excludedAttributes ?? [];
  return !selection.attributes?.length && excluded.length > 0 && excluded.every((p) => /^(urn:ietf:params:scim:schemas:core:2\.0:group:)?members$/i.test(p.trim()));
}

const schemasOf = (schema: ResourceSchema) => [
  { schema: schema.core, key: '' },
  ...schema.extensions.map((s) => ({ schema: s, key: s.id })),
];

function planIncluded(schema: ResourceSchema, paths: readonly string[]): Plan {
  const wanted = new Map<string, Map<string, Set<string> | true>>();
  const want = (key: string, name: string, sub?: string) => {
    let byName = wanted.get(key);
    if (!byName) wanted.set(key, (byName = new Map()));
    const current = byName.get(name);
    if (current === true) return;
    if (sub === undefined) byName.set(name, true);
    else if (current) current.add(sub);
    else byName.set(name, new Set([sub]));
  };
  for (const text of paths) {
    const whole = findSchema(schema, text.trim());
    if (whole && !whole.core) {
      for (const a of whole.schema.attributes) if (a.returned !== 'never') want(whole.schema.id, a.name);
      continue;
    }
    const path = resolvePath(schema, text);
    if (!path) continue;
    want(path.core ? '' : path.schema.id, path.attribute.name, path.subAttribute?.name);
  }
  const plan = new Map<string, Map<string, Rule>>();
  for (const { schema: s, key } of schemasOf(schema)) {
    const rules = new Map<string, Rule>();
    for (const a of s.attributes) {
      if (a.returned === 'never') continue;
      const asked = wanted.get(key)?.get(a.name);
      if (a.returned === 'always' || asked === true) rules.set(a.name, { whole: true });
      else if (asked) rules.set(a.name, { whole: false, subs: withAlwaysSubs(a, asked) });
    }
    plan.set(key, rules);
  }
  return plan;
}

function planExcluded(schema: ResourceSchema, paths: readonly string[]): Plan {
  const excludedWhole = new Set<string>();
  const excludedSubs = new Map<string, Set<string>>();
  for (const text of paths) {
    const whole = findSchema(schema, text.trim());
    if (whole && !whole.core) {
      for (const a of whole.schema.attributes) excludedWhole.add(`${whole.schema.id}\n${a.name}`);
      continue;
    }
    const path = resolvePath(schema, text);
    if (!path) continue;
    const key = `${path.core ? '' : path.schema.id}\n${path.attribute.name}`;
    if (!path.subAttribute) excludedWhole.add(key);
    else {
      const subs = excludedSubs.get(key) ?? new Set<string>();
      subs.add(path.subAttribute.name);
      excludedSubs.set(key, subs);
    }
  }
  const plan = new Map<string, Map<string, Rule>>();
  for (const { schema: s, key } of schemasOf(schema)) {
    const rules = new Map<string, Rule>();
    for (const a of s.attributes) {
      if (a.returned === 'never' || a.returned === 'request') continue;
      const id = `${key}\n${a.name}`;
      if (a.returned === 'always') rules.set(a.name, { whole: true });
      else if (excludedWhole.has(id)) continue;
      else if (excludedSubs.has(id)) {
        const dropped = excludedSubs.get(id)!;
        const kept = (a.subAttributes ?? []).filter((sub) => sub.returned === 'always' || !dropped.has(sub.name));
        rules.set(a.name, { whole: false, subs: new Set(kept.map((sub) => sub.name)) });
      } else rules.set(a.name, { whole: true });
    }
    plan.set(key, rules);
  }
  return plan;
}

function withAlwaysSubs(attribute: AttributeDefinition, asked: ReadonlySet<string>): ReadonlySet<string> {
  const subs = new Set(asked);
  for (const sub of attribute.subAttributes ?? []) if (sub.returned === 'always') subs.add(sub.name);
  return subs;
}

function project(resource: Readonly<Record<string, unknown>>, schema: ResourceSchema, plan: Plan): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const extensionIds = new Set(schema.extensions.map((e) => e.id));
  for (const [key, value] of Object.entries(resource)) {
    if (extensionIds.has(key)) {
      const rules = plan.get(key);
      if (rules && value !== null && typeof value === 'object') {
        const projected = projectAttributes(value as Record<string, unknown>, rules);
        if (Object.keys(projected).length > 0) out[key] = projected;
      }
      continue;
    }
    // `schemas` is part of every resource (RFC 7643 §3), whether or not a schema declares it.
    const rule = key === 'schemas' ? WHOLE : plan.get('')?.get(key);
    if (rule) out[key] = applyRule(value, rule);
  }
  return out;
}

function projectAttributes(holder: Readonly<Record<string, unknown>>, rules: ReadonlyMap<string, Rule>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(holder)) {
    const rule = rules.get(name);
    if (rule && value !== undefined) out[name] = applyRule(value, rule);
  }
  return out;
}

function applyRule(value: unknown, rule: Rule): unknown {
  if (rule.whole) return value;
  const pick = (item: unknown) => {
    if (item === null || typeof item !== 'object') return item;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(item)) if (rule.subs.has(k)) out[k] = v;
    return out;
  };
  return Array.isArray(value) ? value.map(pick) : pick(value);
}

