const namespaces = new Map<string, Uint8Array>();

/** The namespace and the name are written into one buffer, reused while names fit (a million ids, one allocation). */
let input = new Uint8Array(1024);
const encoder = new TextEncoder();
/** The UUID's text is written here, then read as one flat string. */
const text = Buffer.alloc(36, '-');
const HEX = Buffer.from('0123456789abcdef', 'latin1');
/** Where each of the 16 bytes' two hex digits go in the 36 characters. */
const DIGIT_AT = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];

/**
 * RFC 4122 §4.3 name-based UUID (version 5, SHA-1) in the given namespace. A snapshot of a million people computes a
 * million of these, so the SHA-1 is computed here (`sha1`) over a reused buffer: for inputs of a block or two, a call
 * into node:crypto costs more than the hash (test/directory/ids.test.ts holds it to node:crypto).
 */
export function uuidV5(name: string, namespace: string): string {
  let ns = namespaces.get(namespace);
  if (!ns) namespaces.set(namespace, (ns = Uint8Array.from(Buffer.from(namespace.replace(/-/g, ''), 'hex'))));
  // At most three bytes per UTF-16 unit, and 72 bytes of room for SHA-1's padding.
  const room = 16 + name.length * 3 + 72;
  if (room > input.length) input = new Uint8Array(Math.max(room, input.length * 2));
  input.set(ns, 0);
  let size = 16;
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    if (code >= 0x80) {
      size = 16 + encoder.encodeInto(name, input.subarray(16)).written;
      break;
    }
    input[size++] = code;
  }
  const digest = sha1(input, size);
  for (let i = 0; i < 16; i++) {
    let byte = (digest[i >> 2]! >>> (24 - 8 * (i & 3))) & 0xff;
    if (i === 6) byte = (byte & 0x0f) | 0x50;
    else if (i === 8) byte = (byte & 0x3f) | 0x80;
    const at = DIGIT_AT[i]!;
    text[at] = HEX[byte >> 4]!;
    text[at + 1] = HEX[byte & 0x0f]!;
  }
  return text.toString('latin1', 0, 36);
}

const schedule = new Int32Array(80);
const digestWords = new Int32Array(5);

/**
 * SHA-1 (FIPS 180-4) of `bytes[0, length)`, as five big-endian words in a reused array. `bytes` must have room for
 * the padding after `length` (up to 72 bytes), which it writes there.
 */
export function sha1(bytes: Uint8Array, length: number): Int32Array {
  const total = (((length + 8) >>> 6) + 1) * 64;
  if (bytes.length < total) throw new RangeError('sha1: no room for the padding');
  bytes[length] = 0x80;
  bytes.fill(0, length + 1, total - 4);
  const bits = length * 8; // below 2^32 for any input this is given
  bytes[total - 4] = bits >>> 24;
  bytes[total - 3] = (bits >>> 16) & 0xff;
  bytes[total - 2] = (bits >>> 8) & 0xff;
  bytes[total - 1] = bits & 0xff;
  const w = schedule;
  let h0 = 0x67452301;
  let h1 = 0xefcdab89 | 0;
  let h2 = 0x98badcfe | 0;
  let h3 = 0x10325476;
  let h4 = 0xc3d2e1f0 | 0;
  for (let block = 0; block < total; block += 64) {
    for (let i = 0; i < 16; i++) {
      const o = block + i * 4;
      w[i] = (bytes[o]! << 24) | (bytes[o + 1]! << 16) | (bytes[o + 2]! << 8) | bytes[o + 3]!;
    }
    for (let i = 16; i < 80; i++) {
      const x = w[i - 3]! ^ w[i - 8]! ^ w[i - 14]! ^ w[i - 16]!;
      w[i] = (x << 1) | (x >>> 31);
    }
    let a = h0;
    let b = h1;
    let c = h2;
    let d = h3;
    let e = h4;
    for (let i = 0; i < 80; i++) {
      const f = i < 20 ? (b & c) | (~b & d) : i < 40 || i >= 60 ? b ^ c ^ d : (b & c) | (b & d) | (c & d);
      const k = i < 20 ? 0x5a827999 : i < 40 ? 0x6ed9eba1 : i < 60 ? 0x8f1bbcdc | 0 : 0xca62c1d6 | 0;
      const t = (((a << 5) | (a >>> 27)) + f + e + k + w[i]!) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = t;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
  }
  digestWords[0] = h0;
  digestWords[1] = h1;
  digestWords[2] = h2;
  digestWords[3] = h3;
  digestWords[4] = h4;
  return digestWords;
}

/** Namespace of person ids. Fixed forever: changing it changes every user's SCIM id. */
const PERSON_NAMESPACE = '9f6c1e52-3b0a-4d7e-8a51-6f0d2c9b7e14';
/** Namespace of role ids. Fixed forever, for the same reason. */
const ROLE_NAMESPACE = 'c2a4b8e0-5d13-4f6a-9b7c-1e3f5a7d9c20';

/** How e-mails are compared: Xero may hold the same address in different letter case in two organisations. */
export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

export function personId(email: string): string {
  return personIdOfUserName(normaliseEmail(email));
}

/** `personId` of an e-mail already normalised (a userName), without normalising it again. */
export function personIdOfUserName(userName: string): string {
  return uuidV5(userName, PERSON_NAMESPACE);
}

export function roleId(organisationId: string, code: string): string {
  return uuidV5(`${organisationId.toLowerCase()}/${code}`, ROLE_NAMESPACE);
}
