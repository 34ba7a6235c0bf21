import fc from 'fast-check';
import { compareInstants, parseInstant } from '../../../src/scim/filter';
import fixtures from './fixtures/datetimes.json';

describe('RFC 7643 §2.3.5 dateTime values compared as instants', () => {
  it.each(fixtures.cases)('$text → $instant', ({ text, instant }) => {
    expect(parseInstant(text) ?? null).toEqual(instant);
  });

  it('agrees with Date on every millisecond-precision instant from year 1 to 9999', () => {
    const dates = fc.date({ min: new Date('0001-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true });
    fc.assert(fc.property(dates, (date) => expect(parseInstant(date.toISOString())).toEqual({ ms: date.getTime(), ns: 0 })), { numRuns: 500 });
  });

  it('orders instants written with different offsets and precisions', () => {
    const ordered = ['2024-03-01T10:00:00Z', '2024-03-01T11:00:00.0000001+01:00', '2024-03-01T10:00:00.001Z', '2024-03-01T05:00:00.0011-05:00'];
    const instants = ordered.map((text) => parseInstant(text));
    for (let i = 1; i < instants.length; i++) {
      expect(compareInstants(instants[i - 1] as NonNullable<(typeof instants)[number]>, instants[i] as NonNullable<(typeof instants)[number]>)).toBeLessThan(0);
    }
  });
});
