import { createHash, randomBytes } from 'node:crypto';

/** Namespace of every id the sandbox derives. Fixed, so a seed yields the same ids on every run. */
export const SANDBOX_NAMESPACE = '5b0e7c3a-91d4-4f2e-b6a8-0c7d3e9f1a42';
const SANDBOX_NAMESPACE_BYTES = Buffer.from(SANDBOX_NAMESPACE.replace(/-/g, ''), 'hex');

/** RFC 4122 §4.3 name-based UUID (version 5, SHA-1). The sandbox keeps its own copy: it imports nothing of the server. */
export function uuidV5(name: string, namespace: string = SANDBOX_NAMESPACE): string {
  const ns = namespace === SANDBOX_NAMESPACE ? SANDBOX_NAMESPACE_BYTES : Buffer.from(namespace.replace(/-/g, ''), 'hex');
  const hash = createHash('sha1').update(ns).update(name, 'utf8').digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/** An unguessable opaque token (access token, refresh token, authorization code). */
export function opaqueToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** Bound once for the hot loops below. */
const imul = Math.imul;
const HEX = Array.from({ length: 256 }, (_, n) => n.toString(16).padStart(2, '0'));

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * A deterministic UUID for generated data, from a 32-bit seed and small integers (kind, index, slot): murmur3
 * finalisers over four lanes. SHA-1 for 100,000 users costs half a second; this costs a few milliseconds and, at
 * 122 well-mixed bits, is as unlikely to collide for test data.
 */
export function mixedUuid(seed: number, kind: number, a: number, b = 0): string {
  const bytes: number[] = [];
  let h = fmix32(seed ^ imul(kind + 1, 0x9e3779b1));
  h = fmix32(h ^ imul(a + 1, 0x85ebca77));
  h = fmix32(h ^ imul(b + 1, 0xc2b2ae3d));
  for (let lane = 0; lane < 4; lane++) {
    h = fmix32(h + 0x6d2b79f5 + lane);
    bytes.push(h >>> 24, (h >>> 16) & 0xff, (h >>> 8) & 0xff, h & 0xff);
  }
  // RFC 4122 §4.4 layout: version 4, variant 10xx.
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const x = bytes.map((n) => HEX[n]!);
  return `${x[0]}${x[1]}${x[2]}${x[3]}-${x[4]}${x[5]}-${x[6]}${x[7]}-${x[8]}${x[9]}-${x[10]}${x[11]}${x[12]}${x[13]}${x[14]}${x[15]}`;
}
