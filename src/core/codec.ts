/**
 * The wire and storage encoding: MessagePack through msgpackr, with records off so that an
 * encoding depends only on the value (two nodes encoding the same message get the same bytes,
 * which digests and signatures rely on). Decoding input from a peer or a file goes through
 * `decodeSafe`, which turns any failure into a DECODE_FAILED error instead of a crash.
 */
import { Packr } from "msgpackr";
import { PhalanxError } from "./errors.ts";
import { limits } from "./limits.ts";

const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true, int64AsType: "number" });

export function encode(value: unknown): Uint8Array {
  return packr.pack(value);
}

/** Decode bytes we wrote ourselves (assertion-level trust). */
export function decode<T = unknown>(bytes: Uint8Array): T {
  return packr.unpack(bytes) as T;
}

/** Decode bytes from a peer, a client or a file: bounded, and never throws anything but PhalanxError. */
export function decodeSafe<T = unknown>(bytes: Uint8Array, sizeMax: number = limits.messageSizeMax): T {
  if (bytes.byteLength > sizeMax) {
    throw new PhalanxError("LIMIT_EXCEEDED", `encoded value of ${bytes.byteLength} bytes exceeds ${sizeMax}`);
  }
  try {
    return packr.unpack(bytes) as T;
  } catch (e) {
    throw new PhalanxError(
      "DECODE_FAILED",
      `cannot decode ${bytes.byteLength} bytes: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
}

/** JSON for traces and reports: byte arrays as hex, bigints as strings, keys in insertion order. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, jsonReplacer);
}

export function jsonReplacer(_key: string, v: unknown): unknown {
  if (v instanceof Uint8Array)
    return `0x${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("hex")}`;
  if (typeof v === "bigint") return v.toString();
  if (v instanceof Map) return Object.fromEntries(v);
  if (v instanceof Set) return [...v];
  return v;
}
