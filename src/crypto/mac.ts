/**
 * HMAC-SHA256 message authentication codes (RFC 2104): the cheap authentication of PBFT's
 * normal case. HMAC(K, m) = H((K' ^ opad) || H((K' ^ ipad) || m)), K' the key zero-padded to the
 * 64-byte block (hashed first if longer).
 *
 * For a raw key, the SHA-256 states after absorbing the two padded-key blocks (the "midstates")
 * are computed once per key object and cached, as HMAC implementations in C do; a MAC then costs
 * the compression of the message blocks plus one block for the outer hash (two compressions for
 * a 32-byte digest), done here in JavaScript: about 2 us per MAC here against 3.5-5 us for a
 * `createHmac` call, whose cost is mostly building the Hmac object. The result is exactly
 * HMAC-SHA256: test/crypto/mac.test.ts checks it against createHmac over random keys and
 * messages. A cached key must not be mutated in place after its first use.
 */
import { createHash, createHmac, type KeyObject, timingSafeEqual } from "node:crypto";

export const MAC_BYTES = 32;
const BLOCK = 64;

// biome-ignore format: a table of round constants
const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const IV = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
const W = new Int32Array(64);

/** The SHA-256 compression function (FIPS 180-4, 6.2.2) of one block of `b` at `off`. */
function compress(st: Int32Array, b: Uint8Array, off: number): void {
  for (let i = 0; i < 16; i++) {
    const j = off + i * 4;
    W[i] =
      ((b[j] as number) << 24) |
      ((b[j + 1] as number) << 16) |
      ((b[j + 2] as number) << 8) |
      (b[j + 3] as number);
  }
  for (let i = 16; i < 64; i++) {
    const w15 = W[i - 15] as number;
    const w2 = W[i - 2] as number;
    const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
    const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
    W[i] = ((W[i - 16] as number) + s0 + (W[i - 7] as number) + s1) | 0;
  }
  let a = st[0] as number;
  let bb = st[1] as number;
  let c = st[2] as number;
  let d = st[3] as number;
  let e = st[4] as number;
  let f = st[5] as number;
  let g = st[6] as number;
  let h = st[7] as number;
  for (let i = 0; i < 64; i++) {
    const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const ch = (e & f) ^ (~e & g);
    const t1 = (h + s1 + ch + (K[i] as number) + (W[i] as number)) | 0;
    const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const maj = (a & bb) ^ (a & c) ^ (bb & c);
    const t2 = (s0 + maj) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = bb;
    bb = a;
    a = (t1 + t2) | 0;
  }
  st[0] = ((st[0] as number) + a) | 0;
  st[1] = ((st[1] as number) + bb) | 0;
  st[2] = ((st[2] as number) + c) | 0;
  st[3] = ((st[3] as number) + d) | 0;
  st[4] = ((st[4] as number) + e) | 0;
  st[5] = ((st[5] as number) + f) | 0;
  st[6] = ((st[6] as number) + g) | 0;
  st[7] = ((st[7] as number) + h) | 0;
}

const tail = new Uint8Array(2 * BLOCK);

/**
 * Absorb `data` into `st`, which has already absorbed one 64-byte block, and apply the final
 * padding (0x80, zeros, the 64-bit big-endian length in bits of everything hashed).
 */
function finish(st: Int32Array, data: Uint8Array): void {
  const len = data.byteLength;
  const full = len - (len % BLOCK);
  for (let off = 0; off < full; off += BLOCK) compress(st, data, off);
  const rest = len - full;
  const padded = rest + 9 <= BLOCK ? BLOCK : 2 * BLOCK;
  tail.set(data.subarray(full), 0);
  tail[rest] = 0x80;
  tail.fill(0, rest + 1, padded);
  const bits = (BLOCK + len) * 8;
  const hi = Math.floor(bits / 0x100000000);
  const lo = bits >>> 0;
  tail[padded - 8] = hi >>> 24;
  tail[padded - 7] = hi >>> 16;
  tail[padded - 6] = hi >>> 8;
  tail[padded - 5] = hi;
  tail[padded - 4] = lo >>> 24;
  tail[padded - 3] = lo >>> 16;
  tail[padded - 2] = lo >>> 8;
  tail[padded - 1] = lo;
  compress(st, tail, 0);
  if (padded > BLOCK) compress(st, tail, BLOCK);
}

function writeState(st: Int32Array, out: Uint8Array): void {
  for (let i = 0; i < 8; i++) {
    const v = st[i] as number;
    out[i * 4] = v >>> 24;
    out[i * 4 + 1] = v >>> 16;
    out[i * 4 + 2] = v >>> 8;
    out[i * 4 + 3] = v;
  }
}

/**
 * A raw HMAC key with its two midstates computed once. Holders of a long-lived key (a session
 * key between two nodes) keep one of these, so a MAC costs no key lookup at all.
 */
export class MacKey {
  readonly inner = new Int32Array(IV);
  readonly outer = new Int32Array(IV);

  constructor(key: Uint8Array) {
    const k = key.byteLength > BLOCK ? new Uint8Array(createHash("sha256").update(key).digest()) : key;
    const ipad = new Uint8Array(BLOCK).fill(0x36);
    const opad = new Uint8Array(BLOCK).fill(0x5c);
    for (let i = 0; i < k.byteLength; i++) {
      ipad[i] = (ipad[i] as number) ^ (k[i] as number);
      opad[i] = (opad[i] as number) ^ (k[i] as number);
    }
    compress(this.inner, ipad, 0);
    compress(this.outer, opad, 0);
  }
}

const macKeysByRaw = new WeakMap<Uint8Array, MacKey>();

function macKeyOf(key: Uint8Array): MacKey {
  let m = macKeysByRaw.get(key);
  if (m === undefined) {
    m = new MacKey(key);
    macKeysByRaw.set(key, m);
  }
  return m;
}

const state = new Int32Array(8);
const innerDigest = new Uint8Array(MAC_BYTES);
const scratchTag = new Uint8Array(MAC_BYTES);

function macInto(m: MacKey, data: Uint8Array, out: Uint8Array): void {
  state.set(m.inner);
  finish(state, data);
  writeState(state, innerDigest);
  state.set(m.outer);
  finish(state, innerDigest);
  writeState(state, out);
}

/** HMAC-SHA256 under a prepared key. */
export function macWith(key: MacKey, data: Uint8Array): Uint8Array {
  const tag = new Uint8Array(MAC_BYTES);
  macInto(key, data, tag);
  return tag;
}

/**
 * Checks a tag under a prepared key without allocating; false for a tag of the wrong type or
 * length. The comparison folds every byte (no early exit), so its time does not depend on
 * where the tags differ.
 */
export function checkMacWith(key: MacKey, data: Uint8Array, tag: unknown): boolean {
  if (!(tag instanceof Uint8Array) || tag.byteLength !== MAC_BYTES) return false;
  macInto(key, data, scratchTag);
  let diff = 0;
  for (let i = 0; i < MAC_BYTES; i++) diff |= (scratchTag[i] as number) ^ (tag[i] as number);
  return diff === 0;
}

export function hmac(key: Uint8Array | KeyObject, data: Uint8Array): Uint8Array {
  if (key instanceof Uint8Array) return macWith(macKeyOf(key), data);
  return new Uint8Array(createHmac("sha256", key).update(data).digest());
}

/** Constant-time check; false for a tag of the wrong type or length. */
export function checkHmac(key: Uint8Array | KeyObject, data: Uint8Array, tag: unknown): boolean {
  if (key instanceof Uint8Array) return checkMacWith(macKeyOf(key), data, tag);
  if (!(tag instanceof Uint8Array) || tag.byteLength !== MAC_BYTES) return false;
  return timingSafeEqual(hmac(key, data), tag);
}

/** 64-byte HMAC-SHA512 tag: the simulator's stand-in for a signature in "fast" mode. */
export function fastSign(key: Uint8Array | KeyObject, data: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac("sha512", key).update(data).digest());
}

export function fastVerify(key: Uint8Array | KeyObject, data: Uint8Array, tag: unknown): boolean {
  if (!(tag instanceof Uint8Array) || tag.byteLength !== 64) return false;
  return timingSafeEqual(fastSign(key, data), tag);
}
