import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { personId, roleId, sha1, uuidV5 } from '../../src/directory/ids';

/** RFC 4122 §4.3 by the book, with node:crypto's SHA-1: what `uuidV5` must equal. */
function reference(name: string, namespace: string): string {
  const hash = createHash('sha1').update(Buffer.from(namespace.replace(/-/g, ''), 'hex')).update(name, 'utf8').digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const DNS = '6ba7b810-9dad-11d1-80b4-00c04fd430c8';

describe('name-based ids', () => {
  it('match the published example of a version 5 UUID', () => {
    expect(uuidV5('python.org', DNS)).toBe('886313e1-3b8a-5372-9b90-0c9aee199e5d');
  });

  it('equal RFC 4122 with node:crypto for any name, ASCII or not, across SHA-1 block boundaries', () => {
    // 16 bytes of namespace: names of 39, 40, 47, 48, 103 and 104 bytes put the padding on either side of a block.
    const lengths = [0, 1, 39, 40, 47, 48, 103, 104, 500].map((n) => 'a'.repeat(n));
    for (const name of lengths) expect(uuidV5(name, DNS)).toBe(reference(name, DNS));
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'grapheme', maxLength: 80 }), fc.string({ unit: 'binary', maxLength: 80 }), fc.emailAddress()), (name) => {
        expect(uuidV5(name, DNS)).toBe(reference(name, DNS));
      }),
      { numRuns: 2000 },
    );
  });

  it('hash bytes as SHA-1 does, whatever is left in the reused buffer', () => {
    const bytes = new Uint8Array(300).fill(0xff);
    bytes.set(Buffer.from('abc'), 0);
    const words = sha1(bytes, 3);
    const hex = Array.from(words, (w) => (w >>> 0).toString(16).padStart(8, '0')).join('');
    expect(hex).toBe('a9993e364706816aba3e25717850c26c9cd0d89d'); // FIPS 180 example "abc"
    expect(() => sha1(new Uint8Array(60), 60)).toThrow(RangeError);
  });

  it('keep person and role ids stable: changing them changes every SCIM id', () => {
    expect(personId(' Ann.Lee@Example.com ')).toBe(personId('ann.lee@example.com'));
    expect(personId('ann.lee@example.com')).toBe(reference('ann.lee@example.com', '9f6c1e52-3b0a-4d7e-8a51-6f0d2c9b7e14'));
    expect(roleId('ABC', 'STANDARD')).toBe(reference('abc/STANDARD', 'c2a4b8e0-5d13-4f6a-9b7c-1e3f5a7d9c20'));
  });
});
