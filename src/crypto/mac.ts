/**
 * HMAC-SHA256 message authentication codes (RFC 2104): the cheap authentication of PBFT's
 * normal case. HMAC(K, m) = H((K' ^ opad) || H((K' ^ ipad) || m)), K' the key zero-padded to the
 * 64-byte block (hashed first if longer).
 *
 * For a raw key, the SHA-256 states after absorbing the two padded-key blocks (the "midstates")
 * are computed once per key object and cached, as HMAC implementations in C do; a MAC then costs
 * the compression of the message blocks plus one block for the outer hash (two compressions for
 * a 32-byte digest), done in JavaScript (sha256.ts): about 2 us per MAC here against 3.5-5 us
 * for a `createHmac` call, whose cost is mostly building the Hmac object. The result is exactly
 * HMAC-SHA256: test/crypto/mac.test.ts checks it against createHmac over random keys and
 * messages. A cached key must not be mutated in place after its first use.
 */
import { createHash, createHmac, type KeyObject, timingSafeEqual } from "node:crypto";
import { BLOCK, compress, finish, IV, writeState } from "./sha256.ts";

export const MAC_BYTES = 32;

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
  finish(state, data, data.byteLength, BLOCK);
  writeState(state, innerDigest);
  state.set(m.outer);
  finish(state, innerDigest, MAC_BYTES, BLOCK);
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
