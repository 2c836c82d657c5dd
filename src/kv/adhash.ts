/**
 * An incremental multiset hash: AdHash (Bellare and Micciancio, "A New Paradigm for
 * Collision-free Hashing: Incrementality at Reduced Cost", EUROCRYPT 1997), which PBFT's
 * state-transfer partition tree also uses (Castro and Liskov, TOCS 2002).
 * The digest of a multiset of elements is the sum of their element hashes (SHA-256, read as
 * 256-bit big-endian integers) modulo 2^256, so replacing one element costs one subtraction
 * and one addition instead of a rehash of the whole set, and the digest does not depend on the
 * order in which elements were added.
 *
 * Representation: the sum and each element's hash as 8 little-endian 32-bit limbs. Measured on
 * Node 20: ~100 ns for a subtract-parse-add step, against ~600 ns with BigInt (whose operations
 * allocate). Element hashes live in one slab indexed by slot, so replacing an element does not
 * re-hash the old one, at 32 bytes per element and no per-element object.
 *
 * Security caveat: a sum modulo 2^256 is open to Wagner's generalized-birthday attack
 * (CRYPTO 2002): someone who chooses elements freely can find k of them whose hashes sum to
 * any target in about k·2^(256/(1+lg k)) work, ~2^31 for k = 2^15. So this digest detects
 * accidental divergence but must not be the only check on a snapshot served by a possibly
 * Byzantine peer. LtHash (Lewi et al. 2019; 1024 16-bit lanes) or a Merkle tree resists it.
 */
import { assert } from "../core/assert.ts";

const limbs = 8;

export class AdHash256 {
  private readonly sum = new Uint32Array(limbs);
  private slab = new Uint32Array(limbs * 1024);
  private slots = 0;

  /** Elements added so far (slots are never freed). */
  get elementCount(): number {
    return this.slots;
  }

  /** Adds an element with this 32-byte hash; returns its slot, for `replace`. */
  add(hash: Uint8Array): number {
    const slot = this.slots++;
    if (slot * limbs >= this.slab.length) {
      const bigger = new Uint32Array(this.slab.length * 2);
      bigger.set(this.slab);
      this.slab = bigger;
    }
    this.store(slot, hash);
    this.addSlot(slot);
    return slot;
  }

  /** Replaces the element in `slot` with one of hash `hash`. */
  replace(slot: number, hash: Uint8Array): void {
    assert(slot >= 0 && slot < this.slots, `no element in slot ${slot}`);
    this.subtractSlot(slot);
    this.store(slot, hash);
    this.addSlot(slot);
  }

  /** The sum, 32 bytes big-endian (a fresh array). */
  digest(): Uint8Array {
    const out = new Uint8Array(4 * limbs);
    for (let i = 0; i < limbs; i++) {
      const limb = this.sum[i] as number;
      const p = 28 - 4 * i;
      out[p] = limb >>> 24;
      out[p + 1] = (limb >>> 16) & 0xff;
      out[p + 2] = (limb >>> 8) & 0xff;
      out[p + 3] = limb & 0xff;
    }
    return out;
  }

  private store(slot: number, hash: Uint8Array): void {
    assert(hash.length === 4 * limbs, "element hashes are 32 bytes");
    const slab = this.slab;
    const o = slot * limbs;
    for (let i = 0; i < limbs; i++) {
      const p = 28 - 4 * i;
      slab[o + i] =
        (((hash[p] as number) << 24) |
          ((hash[p + 1] as number) << 16) |
          ((hash[p + 2] as number) << 8) |
          (hash[p + 3] as number)) >>>
        0;
    }
  }

  private addSlot(slot: number): void {
    const sum = this.sum;
    const slab = this.slab;
    const o = slot * limbs;
    let carry = 0;
    for (let i = 0; i < limbs; i++) {
      const s = (sum[i] as number) + (slab[o + i] as number) + carry;
      sum[i] = s; // Uint32Array stores s mod 2^32
      carry = s > 0xffff_ffff ? 1 : 0;
    }
  }

  private subtractSlot(slot: number): void {
    const sum = this.sum;
    const slab = this.slab;
    const o = slot * limbs;
    let borrow = 0;
    for (let i = 0; i < limbs; i++) {
      const d = (sum[i] as number) - (slab[o + i] as number) - borrow;
      sum[i] = d; // Uint32Array stores d mod 2^32, negative values included
      borrow = d < 0 ? 1 : 0;
    }
  }
}
