import { hash as oneShotHash } from 'node:crypto';

const namespaces = new Map<string, Buffer>();

/** The namespace and the name are written into one buffer, reused while names fit (a million ids, one allocation). */
let input = Buffer.allocUnsafe(1024);
/** The UUID's text is written here, then read as one flat string. */
const text = Buffer.alloc(36, '-');
const HEX = Buffer.from('0123456789abcdef', 'latin1');
/** Where each of the 16 bytes' two hex digits go in the 36 characters. */
const DIGIT_AT = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];

/**
 * RFC 4122 §4.3 name-based UUID (version 5, SHA-1) in the given namespace. One-shot hashing over a reused buffer,
 * and the text written digit by digit: a snapshot of a million people computes a million of these.
 */
export function uuidV5(name: string, namespace: string): string {
  let ns = namespaces.get(namespace);
  if (!ns) namespaces.set(namespace, (ns = Buffer.from(namespace.replace(/-/g, ''), 'hex')));
  const size = 16 + Buffer.byteLength(name, 'utf8');
  if (size > input.length) input = Buffer.allocUnsafe(Math.max(size, input.length * 2));
  ns.copy(input, 0);
  input.write(name, 16, 'utf8');
  const hash = oneShotHash('sha1', input.subarray(0, size), 'buffer') as unknown as Buffer;
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  for (let i = 0; i < 16; i++) {
    const at = DIGIT_AT[i]!;
    text[at] = HEX[hash[i]! >> 4]!;
    text[at + 1] = HEX[hash[i]! & 0x0f]!;
  }
  return text.toString('latin1', 0, 36);
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
  return uuidV5(normaliseEmail(email), PERSON_NAMESPACE);
}

export function roleId(organisationId: string, code: string): string {
  return uuidV5(`${organisationId.toLowerCase()}/${code}`, ROLE_NAMESPACE);
}
