import { formatFilter, parseFilter, type Filter } from '../../../src/scim/filter';
import fixtures from './fixtures/parse.json';

describe('RFC 7644 §3.4.2.2 filter syntax', () => {
  describe.each(fixtures.cases)('$filter', ({ filter, ast }) => {
    it('parses to the expected tree', () => {
      expect(parseFilter(filter)).toEqual(ast);
    });

    it('prints back to text that parses to the same tree', () => {
      expect(parseFilter(formatFilter(parseFilter(filter)))).toEqual(ast);
    });
  });

  it('prints the canonical form with parentheses only where precedence needs them', () => {
    const printed = [
      'a eq 1 or b eq 2 and c eq 3',
      '(a eq 1 or b eq 2) and c eq 3',
      'a pr and (b pr and c pr)',
      'not (a pr) and EMAILS[type eq "work"].value eq "x"',
    ].map((text) => formatFilter(parseFilter(text)));
    expect(printed).toEqual([
      'a eq 1 or b eq 2 and c eq 3',
      '(a eq 1 or b eq 2) and c eq 3',
      'a pr and (b pr and c pr)',
      'not (a pr) and EMAILS[type eq "work"].value eq "x"',
    ]);
  });

  it('keeps the shapes the SCIM layer relies on', () => {
    const shapes: Array<[string, Filter]> = [
      [
        'emails[type eq "work"].value eq "a@b"',
        { op: 'eq', path: { attribute: 'emails', subAttribute: 'value' }, value: 'a@b', where: { op: 'eq', path: { attribute: 'type' }, value: 'work' } },
      ],
      ['members[value eq "x"]', { op: 'valuePath', path: { attribute: 'members' }, filter: { op: 'eq', path: { attribute: 'value' }, value: 'x' } }],
      ['meta.lastModified gt "2024-01-01T00:00:00Z"', { op: 'gt', path: { attribute: 'meta', subAttribute: 'lastModified' }, value: '2024-01-01T00:00:00Z' }],
    ];
    for (const [text, tree] of shapes) expect(parseFilter(text)).toEqual(tree);
  });
});
