import { compileFilter, MAX_FILTER_DEPTH, MAX_FILTER_LENGTH, parseFilter } from '../../../src/scim/filter';
import type { Filter } from '../../../src/scim/filter';
import { invalidFilterFrom } from './expect-invalid-filter';
import fixtures from './fixtures/errors.json';
import { userSchema } from './schema';

const parseAndCompile = (filter: string) => compileFilter(parseFilter(filter), userSchema);

describe('RFC 7644 §3.4.2.2 filter errors: 400 invalidFilter', () => {
  it.each(fixtures.cases)('$filter → "$detail"', ({ filter, detail }) => {
    expect(invalidFilterFrom(() => parseAndCompile(filter)).detail).toContain(detail);
  });

  it(`answers 400 invalidFilter for a filter nested deeper than ${MAX_FILTER_DEPTH} levels`, () => {
    const deep = `${'('.repeat(MAX_FILTER_DEPTH + 1)}userName pr${')'.repeat(MAX_FILTER_DEPTH + 1)}`;
    expect(invalidFilterFrom(() => parseFilter(deep)).detail).toContain(`deeper than ${MAX_FILTER_DEPTH} levels`);
    const deepNot = `${'not ('.repeat(MAX_FILTER_DEPTH + 1)}userName pr${')'.repeat(MAX_FILTER_DEPTH + 1)}`;
    expect(invalidFilterFrom(() => parseFilter(deepNot)).detail).toContain('deeper than');
    const bareNots = `${'not '.repeat(MAX_FILTER_DEPTH + 1)}userName pr`;
    expect(invalidFilterFrom(() => parseFilter(bareNots)).detail).toContain('deeper than');
  });

  it(`accepts nesting of exactly ${MAX_FILTER_DEPTH} levels`, () => {
    const deepest = `${'('.repeat(MAX_FILTER_DEPTH)}userName pr${')'.repeat(MAX_FILTER_DEPTH)}`;
    expect(parseAndCompile(deepest)({ userName: 'x' })).toBe(true);
  });

  it(`answers 400 invalidFilter for a filter longer than ${MAX_FILTER_LENGTH} characters`, () => {
    const long = `userName eq "${'x'.repeat(MAX_FILTER_LENGTH)}"`;
    expect(invalidFilterFrom(() => parseFilter(long)).detail).toContain(`at most ${MAX_FILTER_LENGTH}`);
  });

  it('parses the longest accepted chain of and without exhausting the stack', () => {
    const terms = Math.floor(MAX_FILTER_LENGTH / 'id pr and '.length);
    const chain = Array.from({ length: terms }, () => 'id pr').join(' and ');
    expect(parseAndCompile(chain)({ id: 'x' })).toBe(true);
  });

  it('answers 400 invalidFilter for a tree the parser would never build', () => {
    const unknownOperator = { op: 'regex', path: { attribute: 'userName' }, value: '.*' } as unknown as Filter;
    expect(invalidFilterFrom(() => compileFilter(unknownOperator, userSchema)).detail).toContain('Unsupported filter operator "regex"');
    const nestedWhere: Filter = {
      op: 'valuePath',
      path: { attribute: 'emails' },
      filter: { op: 'pr', path: { attribute: 'value' }, where: { op: 'pr', path: { attribute: 'type' } } },
    };
    expect(invalidFilterFrom(() => compileFilter(nestedWhere, userSchema)).detail).toContain('needs a complex attribute');
  });

  it('renders as an RFC 7644 §3.12 error body', () => {
    expect(invalidFilterFrom(() => parseFilter('userName eq')).toJSON()).toEqual({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
      status: '400',
      scimType: 'invalidFilter',
      detail: 'Filter syntax error at position 12: expected a value (a "quoted string", a number, true, false or null) after "eq", found the end of the filter.',
    });
  });
});

describe('invalidFilter details stay small', () => {
  it('cuts a long token it quotes back to the client', () => {
    const detail = invalidFilterFrom(() => parseFilter(`userName eq ${'x'.repeat(5000)}`)).detail;
    expect(detail.length).toBeLessThan(200);
  });
});
