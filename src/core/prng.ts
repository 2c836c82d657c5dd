/**
 * The only source of randomness: xoshiro128** (Blackman and Vigna, 2018), seeded through
 * splitmix32. 32-bit integer arithmetic only (Math.imul, >>> 0), so one seed gives the same
 * sequence on every machine and every JavaScript engine.
 */
import { assert } from "./assert.ts";

function splitmix32(state: number): [number, number] {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return [next, (z ^ (z >>> 16)) >>> 0];
}

/** FNV-1a over a string: turns labels into sub-seeds. */
export function hashString32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class Prng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** Seed from an integer (the usual way) or from a full 128-bit state. */
  constructor(seed: number | readonly [number, number, number, number]) {
    if (typeof seed === "number") {
      assert(Number.isFinite(seed), "seed must be finite");
      // Fold seeds above 2^32 in, so 2^32 + 1 and 1 differ.
      let st = (seed >>> 0) ^ Math.floor(seed / 0x100000000);
      const out: number[] = [];
      for (let i = 0; i < 4; i++) {
        const [next, value] = splitmix32(st);
        st = next;
        out.push(value);
      }
      [this.s0, this.s1, this.s2, this.s3] = out as [number, number, number, number];
    } else {
      [this.s0, this.s1, this.s2, this.s3] = seed.map((x) => x >>> 0) as [number, number, number, number];
    }
    assert((this.s0 | this.s1 | this.s2 | this.s3) !== 0, "xoshiro state must not be all zero");
  }

  /** Next 32-bit unsigned integer. */
  nextU32(): number {
    const s0 = this.s0;
    const s1 = this.s1;
    const s2 = this.s2;
    const s3 = this.s3;
    const m = Math.imul(s1, 5);
    const result = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
    const t = s1 << 9;
    const n2 = s2 ^ s0;
    const n3 = s3 ^ s1;
    this.s1 = s1 ^ n2;
    this.s0 = s0 ^ n3;
    this.s2 = n2 ^ t;
    this.s3 = (n3 << 11) | (n3 >>> 21);
    return result;
  }

  /** Uniform float in [0, 1) with 32 bits of randomness. */
  float(): number {
    return this.nextU32() / 0x100000000;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    assert(Number.isInteger(n) && n > 0, `int(n) needs a positive integer, got ${n}`);
    return Math.floor(this.float() * n);
  }

  /** Uniform integer in [lo, hi]. */
  intBetween(lo: number, hi: number): number {
    assert(hi >= lo, "intBetween needs lo <= hi");
    return lo + this.int(hi - lo + 1);
  }

  /** Uniform float in [lo, hi). */
  between(lo: number, hi: number): number {
    return lo + this.float() * (hi - lo);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return p > 0 && this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    assert(items.length > 0, "pick from an empty list");
    return items[this.int(items.length)] as T;
  }

  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i] as T;
      items[i] = items[j] as T;
      items[j] = tmp;
    }
    return items;
  }

  /** Exponentially distributed value with the given mean. */
  exponential(mean: number): number {
    return -Math.log(1 - this.float()) * mean;
  }

  /** An independent generator for a subsystem, derived from this one's stream and a label. */
  fork(label: string): Prng {
    const h = hashString32(label);
    return new Prng([this.nextU32() ^ h, this.nextU32(), this.nextU32() ^ 0x5bd1e995, this.nextU32() | 1]);
  }

  /** The raw 128-bit state, for reproducing a generator. */
  state(): [number, number, number, number] {
    return [this.s0, this.s1, this.s2, this.s3];
  }
}
