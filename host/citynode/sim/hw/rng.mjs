// Deterministic randomness for the device models.
// Counter-based (a hash of seed + keys), so a value depends only on the scenario seed and on
// what it is for (device, quantity, time slot), never on how often or in which order the
// firmware happened to ask: the same scenario gives the same readings on every run.

/** 32-bit integer hash of a string (FNV-1a), to turn ids and names into hash keys. */
export function strHash(s) {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Mix one more 32-bit key into a hash state (murmur3-style finaliser). */
export function mix(h, k) {
  h = (h ^ Math.imul(k | 0, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Hash of any number of integer keys. Non-integers are split into two 32-bit halves. */
export function hashKeys(...keys) {
  let h = 0x2545f491;
  for (const k of keys) {
    if (Number.isInteger(k) && Math.abs(k) < 2 ** 31) h = mix(h, k);
    else {
      const x = Math.floor(k);
      h = mix(mix(h, x % 2 ** 31), Math.floor(x / 2 ** 31));
    }
  }
  return h;
}

/** Uniform in [0, 1) from keys. */
export function uniform(...keys) {
  return hashKeys(...keys) / 4294967296;
}

/** Standard normal from keys (Box-Muller on two derived uniforms). */
export function gauss(...keys) {
  const h = hashKeys(...keys);
  const u1 = (mix(h, 1) + 1) / 4294967297;
  const u2 = mix(h, 2) / 4294967296;
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/** Sequential generator (mulberry32) for places where a stream is natural (e.g. garbage bytes). */
export class Rng {
  constructor(seed) {
    this.s = seed >>> 0;
  }
  next() {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  byte() {
    return Math.floor(this.next() * 256);
  }
}
