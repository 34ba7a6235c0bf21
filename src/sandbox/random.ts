import { createHash } from 'node:crypto';

/** A deterministic source of numbers in [0, 1), so a seed always reproduces the same data and faults. */
export type Random = () => number;

/** Folds any seed (number or text) into 32 bits. */
export function seedToUint32(seed: number | string): number {
  return createHash('sha1').update(String(seed), 'utf8').digest().readUInt32BE(0);
}

const imul = Math.imul;

/** mulberry32: tiny, fast, and good enough for test data (not for secrets). */
export function seededRandom(seed: number | string): Random {
  let state = seedToUint32(seed);
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = imul(t ^ (t >>> 15), t | 1);
    t ^= t + imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function pick<T>(random: Random, items: readonly T[]): T {
  const item = items[Math.floor(random() * items.length)];
  if (item === undefined) throw new RangeError('pick from an empty list');
  return item;
}
