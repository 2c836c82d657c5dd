/**
 * Ed25519 signatures through node:crypto (about 22k signs/s and 7.5k verifies/s per core
 * here; see DESIGN.md). Keys can be derived from a 32-byte seed, so a simulated run gets the
 * same keys, and (Ed25519 being deterministic) the same signatures, from the same run seed.
 */
import {
  createPrivateKey,
  createPublicKey,
  sign as edSign,
  verify as edVerify,
  type KeyObject,
} from "node:crypto";
import { assert } from "../core/assert.ts";
import type { Prng } from "../core/prng.ts";

// PKCS#8 DER prefix of an Ed25519 private key; the 32-byte seed follows it (RFC 8410).
const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
// SPKI DER prefix of an Ed25519 public key; the 32-byte key follows it.
const SPKI_ED25519_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

export interface KeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** Raw 32-byte public key, as listed in a cluster configuration. */
  readonly publicRaw: Uint8Array;
}

export function keyPairFromSeed(seed: Uint8Array): KeyPair {
  assert(seed.byteLength === 32, "an Ed25519 seed is 32 bytes");
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]),
    format: "der",
    type: "pkcs8",
  });
  const publicKey = createPublicKey(privateKey);
  const spki = publicKey.export({ format: "der", type: "spki" });
  return { privateKey, publicKey, publicRaw: new Uint8Array(spki.subarray(SPKI_ED25519_PREFIX.length)) };
}

export function keyPairFromPrng(prng: Prng): KeyPair {
  const seed = new Uint8Array(32);
  const view = new DataView(seed.buffer);
  for (let i = 0; i < 8; i++) view.setUint32(i * 4, prng.nextU32());
  return keyPairFromSeed(seed);
}

export function publicKeyFromRaw(raw: Uint8Array): KeyObject {
  assert(raw.byteLength === 32, "an Ed25519 public key is 32 bytes");
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: "der", type: "spki" });
}

export function sign(privateKey: KeyObject, data: Uint8Array): Uint8Array {
  return new Uint8Array(edSign(null, data, privateKey));
}

/** False for a wrong or malformed signature; never throws on bad input. */
export function verify(publicKey: KeyObject, data: Uint8Array, signature: Uint8Array): boolean {
  if (!(signature instanceof Uint8Array) || signature.byteLength !== 64) return false;
  try {
    return edVerify(null, data, publicKey, signature);
  } catch {
    return false;
  }
}
