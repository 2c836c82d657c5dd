/** SHA-256 digests through node:crypto (the one-shot `hash`: no Hash object per call). */
import { hash } from "node:crypto";

export function sha256(data: Uint8Array | string): Uint8Array {
  const d = hash("sha256", data, "buffer");
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

export function sha256Hex(data: Uint8Array | string): string {
  return hash("sha256", data, "hex");
}
