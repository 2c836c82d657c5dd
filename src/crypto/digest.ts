/**
 * SHA-256 digests. Inputs of up to two blocks (a KV entry, a request header with its op) are
 * hashed in JavaScript (sha256.ts): for them a call into node:crypto costs more than the
 * hashing (about 0.5 us against 0.8 us for one block here). Longer inputs go through the
 * one-shot `hash` of node:crypto (no Hash object per call).
 */
import { hash } from "node:crypto";
import { sha256Js } from "./sha256.ts";

/** Longest input hashed in JavaScript: two blocks less the 9 bytes of padding. */
const SHORT_HASH_BYTES_MAX = 119;

export function sha256(data: Uint8Array | string): Uint8Array {
  if (typeof data !== "string" && data.byteLength <= SHORT_HASH_BYTES_MAX) return sha256Js(data);
  const d = hash("sha256", data, "buffer");
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/**
 * SHA-256 of the first `length` bytes of `data`, so a caller can hash a reused scratch buffer.
 * A short input's digest is written to `out` when given (else to a fresh array); use the
 * returned array either way.
 */
export function sha256Prefix(data: Uint8Array, length: number, out?: Uint8Array): Uint8Array {
  if (length <= SHORT_HASH_BYTES_MAX) return sha256Js(data, length, out);
  return sha256(data.subarray(0, length));
}

export function sha256Hex(data: Uint8Array | string): string {
  return hash("sha256", data, "hex");
}
