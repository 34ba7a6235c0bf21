import fc from 'fast-check';
import { compileFilter, equalityKey, formatFilter, parseAttributePath, parseFilter, resolvePath } from '../../../src/scim/filter';
import { invalidFilterFrom } from './expect-invalid-filter';
import { CORE_USER, XERO_EXTENSION, userSchema } from './schema';

describe('RFC 7644 §3.10 attribute paths resolved against the schema', () => {
  it('resolves names and schema URNs case-insensitively to the declared definitions', () => {
    const resolved = resolvePath(parseAttributePath('URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:META.LASTMODIFIED'), userSchema);
    expect([resolved.schema.id, resolved.inExtension, resolved.attribute.name, resolved.subAttribute?.name, resolved.subAttribute?.type]).toEqual([
      CORE_USER,
      false,
      'meta',
      'lastModified',
      'dateTime',
    ]);
  });

  it('finds an unqualified extension attribute under its extension', () => {
    const resolved = resolvePath(parseAttributePath('Organisations.ROLE'), userSchema);
    expect([resolved.schema.id, resolved.inExtension, resolved.attribute.name, resolved.subAttribute?.name]).toEqual([
      XERO_EXTENSION,
      true,
      'organisations',
      'role',
    ]);
  });

  it('answers 400 invalidFilter for a path that is not one', () => {
    expect(invalidFilterFrom(() => parseAttributePath('emails[type eq "work"]')).detail).toContain('is not an attribute path');
  });
});

describe('equalityKey: indexes agree with the compiled filter', () => {
  const cases = [
    { path: 'userName', values: ['Alice@Example.com', 'ALICE@example.COM', 'bob@example.com'] },
    { path: 'id', values: ['alice', 'ALICE', 'Alice'] },
    { path: 'emails.value', values: ['Erin@Example.com', 'erin@example.com', 'ERİN@example.com'] },
  ];

  it.each(cases)('$path: equal keys exactly when "$path eq" matches', ({ path, values }) => {
    const resolved = resolvePath(parseAttributePath(path), userSchema);
    const definition = resolved.subAttribute ?? resolved.attribute;
    const word = fc.oneof(fc.constantFrom(...values), fc.string({ unit: 'binary', maxLength: 6 }));
    fc.assert(
      fc.property(word, word, (stored, wanted) => {
        const resource = resolved.subAttribute ? { [resolved.attribute.name]: [{ [definition.name]: stored }] } : { [definition.name]: stored };
        const matches = compileFilter(parseFilter(formatFilter({ op: 'eq', path: parseAttributePath(path), value: wanted })), userSchema)(resource);
        expect(equalityKey(definition, stored) === equalityKey(definition, wanted)).toBe(matches);
      }),
      { numRuns: 300 },
    );
  });
});
