/**
 * Property tests (fast-check): whatever text or tree arrives, the filter answers with a tree, a predicate or a
 * ScimError 400 invalidFilter, never anything else; printing a tree and parsing it back gives the same tree.
 */
import fc from 'fast-check';
import { ScimError } from '../../../src/scim/errors';
import { compileFilter, formatFilter, parseFilter, type AttributePath, type CompareOp, type Filter } from '../../../src/scim/filter';
import users from './fixtures/users.json';
import { userSchema } from './schema';

const RUNS = { numRuns: 300 };

/** Parses and compiles; returns the predicate, or undefined for a ScimError 400 invalidFilter; rethrows anything else. */
function compileOrRefuse(text: string): ((resource: Record<string, unknown>) => boolean) | undefined {
  try {
    return compileFilter(parseFilter(text), userSchema);
  } catch (error) {
    if (error instanceof ScimError && error.status === 400 && error.scimType === 'invalidFilter') return undefined;
    throw error;
  }
}

const ops: CompareOp[] = ['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le'];
const value = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
);

/** Syntax-only trees: any names the grammar allows, any values. */
function syntaxTrees(): fc.Arbitrary<Filter> {
  const name = fc.oneof(fc.stringMatching(/^[A-Za-z][A-Za-z0-9_-]{0,8}$/), fc.constantFrom('$ref', 'not', 'and', 'or', 'pr', 'eq'));
  const schema = fc.stringMatching(/^urn:[a-z0-9]{1,6}(:[A-Za-z0-9.-]{1,6}){0,3}$/);
  const path = fc.record({ schema, attribute: name, subAttribute: name }, { requiredKeys: ['attribute'] });
  const relativePath = fc.record({ attribute: name });

  const tree = (inBrackets: boolean): fc.Arbitrary<Filter> =>
    fc.letrec<{ filter: Filter }>((tie) => {
      const self = tie('filter');
      const atomPath = inBrackets ? relativePath : path;
      const valueFilter = inBrackets ? fc.constant(undefined) : fc.option(tree(true), { nil: undefined, freq: 4 });
      const where = (p: AttributePath) => valueFilter.map((w) => (w && p.subAttribute !== undefined ? w : undefined));
      const compare = fc.tuple(atomPath, fc.constantFrom(...ops), value).chain(([p, op, v]) =>
        where(p).map((w): Filter => (w ? { op, path: p, value: v, where: w } : { op, path: p, value: v })),
      );
      const present = atomPath.chain((p) => where(p).map((w): Filter => (w ? { op: 'pr', path: p, where: w } : { op: 'pr', path: p })));
      const atoms: fc.Arbitrary<Filter>[] = [compare, present];
      if (!inBrackets) {
        atoms.push(
          fc.tuple(fc.record({ schema, attribute: name }, { requiredKeys: ['attribute'] }), tree(true)).map(
            ([p, inner]): Filter => ({ op: 'valuePath', path: p, filter: inner }),
          ),
        );
      }
      return {
        filter: fc.oneof(
          { depthSize: 'small', withCrossShrink: true },
          ...atoms,
          fc.record({ op: fc.constantFrom('and' as const, 'or' as const), left: self, right: self }),
          fc.record({ op: fc.constant('not' as const), filter: self }),
        ),
      };
    }).filter;
  return tree(false);
}

/** Trees over the test schema's real attribute names (in random case), so many of them compile. */
const knownPaths: AttributePath[] = [
  { attribute: 'id' },
  { attribute: 'userName' },
  { attribute: 'displayName' },
  { attribute: 'active' },
  { attribute: 'loginCount' },
  { attribute: 'emails' },
  { attribute: 'emails', subAttribute: 'value' },
  { attribute: 'emails', subAttribute: 'type' },
  { attribute: 'groups', subAttribute: 'value' },
  { attribute: 'meta', subAttribute: 'lastModified' },
  { attribute: 'name', subAttribute: 'givenName' },
  { schema: 'urn:example:ext:2.0:User', attribute: 'organisations', subAttribute: 'role' },
  { attribute: 'nope' },
];
const knownValues = fc.oneof(
  value,
  fc.constantFrom('alice@example.com', 'work', 'org-acme', 'STANDARD', '2024-03-01T10:00:00.1234567Z', 'Alice', 'A', '0001-01-03T00:00:00.0000000Z'),
);
const schemaTrees: fc.Arbitrary<Filter> = fc.letrec<{ filter: Filter }>((tie) => ({
  filter: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.tuple(fc.constantFrom(...knownPaths), fc.constantFrom(...ops), knownValues).map(([path, op, v]): Filter => ({ op, path, value: v })),
    fc.constantFrom(...knownPaths).map((path): Filter => ({ op: 'pr', path })),
    fc.tuple(fc.constantFrom('work', 'home', 'other'), fc.constantFrom('alice@example.com', 'erin@example.com', 'example')).map(
      ([type, text]): Filter => ({ op: 'co', path: { attribute: 'emails', subAttribute: 'value' }, value: text, where: { op: 'eq', path: { attribute: 'type' }, value: type } }),
    ),
    fc.record({ op: fc.constantFrom('and' as const, 'or' as const), left: tie('filter'), right: tie('filter') }),
    fc.record({ op: fc.constant('not' as const), filter: tie('filter') }),
  ),
})).filter;

const resources: Record<string, unknown>[] = [
  ...users,
  {},
  { userName: null, emails: null, meta: null, active: 'true', loginCount: '1' },
  { emails: [null, 'x', [], { value: ['nested'] }], name: [], groups: {} },
];
const idsOf = (predicate: (resource: Record<string, unknown>) => boolean) => resources.map((resource) => predicate(resource));

describe('RFC 7644 §3.4.2.2 filters under random input', () => {
  it('answers any string with a tree or a 400 invalidFilter', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (text) => void compileOrRefuse(text)), { numRuns: 1000 });
  });

  it('answers any string built from filter tokens with a tree or a 400 invalidFilter', () => {
    const token = fc.constantFrom(
      'userName', 'emails', '.value', 'meta.lastModified', 'urn:example:ext:2.0:User:organisations', 'type', 'eq', 'EQ', 'pr', 'gt', 'co',
      'and', 'or', 'not', '(', ')', '[', ']', '"x"', '"2024-01-01T00:00:00Z"', '"', '\\', 'true', 'null', '1', '-0.5e3', ' ', '__proto__', 'constructor',
    );
    const text = fc.array(token, { maxLength: 25 }).map((tokens) => tokens.join(''));
    const spaced = fc.array(token, { maxLength: 25 }).map((tokens) => tokens.join(' '));
    fc.assert(
      fc.property(fc.oneof(text, spaced), (filter) => {
        const predicate = compileOrRefuse(filter);
        if (predicate) for (const resource of resources) expect(typeof predicate(resource)).toBe('boolean');
      }),
      { numRuns: 2000 },
    );
  });

  it('prints any well-formed tree as text that parses back to the same tree', () => {
    fc.assert(fc.property(syntaxTrees(), (tree) => expect(parseFilter(formatFilter(tree))).toEqual(tree)), RUNS);
  });

  it('compiles any well-formed tree to a predicate or a 400 invalidFilter, and the predicate never throws', () => {
    fc.assert(
      fc.property(fc.oneof(syntaxTrees(), schemaTrees), (tree) => {
        const predicate = compileOrRefuse(formatFilter(tree));
        if (predicate) for (const resource of resources) expect(typeof predicate(resource)).toBe('boolean');
      }),
      RUNS,
    );
  });

  it('matches the complement under not, the intersection under and, the union under or', () => {
    fc.assert(
      fc.property(schemaTrees, schemaTrees, (a, b) => {
        const [left, right] = [compileOrRefuse(formatFilter(a)), compileOrRefuse(formatFilter(b))];
        if (!left || !right) return;
        const [l, r] = [idsOf(left), idsOf(right)];
        expect(idsOf(compileFilter({ op: 'not', filter: a }, userSchema))).toEqual(l.map((x) => !x));
        expect(idsOf(compileFilter({ op: 'and', left: a, right: b }, userSchema))).toEqual(l.map((x, i) => x && r[i]));
        expect(idsOf(compileFilter({ op: 'or', left: a, right: b }, userSchema))).toEqual(l.map((x, i) => x || r[i]));
      }),
      RUNS,
    );
  });

  it('matches the same resources whatever the case of attribute names and operators', () => {
    const atom = fc.tuple(fc.constantFrom(...knownPaths.slice(0, -1)), fc.constantFrom(...ops), knownValues);
    const caseMask = fc.array(fc.boolean(), { minLength: 1, maxLength: 64 });
    fc.assert(
      fc.property(atom, caseMask, ([path, op, v], upper) => {
        const text = formatFilter({ op, path, value: v });
        const reference = compileOrRefuse(text);
        fc.pre(reference !== undefined);
        const valueStart = text.indexOf(' ', text.indexOf(' ') + 1);
        const recased = [...text.slice(0, valueStart)].map((c, i) => (upper[i % upper.length] ? c.toUpperCase() : c.toLowerCase())).join('');
        const shuffled = compileOrRefuse(recased + text.slice(valueStart));
        expect(shuffled && idsOf(shuffled)).toEqual(idsOf(reference as NonNullable<typeof reference>));
      }),
      RUNS,
    );
  });

  it('says ne when and only when it would not say eq', () => {
    const atom = fc.tuple(fc.constantFrom(...knownPaths), knownValues);
    fc.assert(
      fc.property(atom, ([path, v]) => {
        const eq = compileOrRefuse(formatFilter({ op: 'eq', path, value: v }));
        const ne = compileOrRefuse(formatFilter({ op: 'ne', path, value: v }));
        expect(ne === undefined).toBe(eq === undefined);
        if (eq && ne) expect(idsOf(ne)).toEqual(idsOf(eq).map((x) => !x));
      }),
      RUNS,
    );
  });
});
