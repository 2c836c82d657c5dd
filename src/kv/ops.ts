/**
 * Operations of the replicated key-value store and their validation (DESIGN.md, "services:
 * kv/"). The per-key model is the one the linearizability checker uses
 * (src/sim/checkers/linearizability.ts, `applyKvModel`): state `{value, version}`, initially
 * `{null, 0}`; every successful mutation increments the version, which never goes back.
 *
 * Operations come from clients, through a primary that may be Byzantine, so every replica
 * validates each one the same way before executing it: an invalid operation yields an `error`
 * result on every correct replica alike and changes nothing (DESIGN.md, "Security model").
 */
import { limits } from "../core/limits.ts";

export type KvOp =
  | { kind: "get"; key: string }
  | { kind: "put"; key: string; value: string }
  | { kind: "delete"; key: string }
  /** `from: null` means "the key must be absent". */
  | { kind: "cas"; key: string; from: string | null; to: string }
  /** Up to `limit` live keys that start with `prefix`, in ascending key order. */
  | { kind: "scan"; prefix: string; limit: number };

export type KvOpKind = KvOp["kind"];

export interface KvScanEntry {
  key: string;
  value: string;
  version: number;
}

export type KvErrorCode = "BAD_OP" | "TOO_LARGE";

export type KvResult =
  /** `version` is 0 for a key never written; a deleted key keeps its version, with value null. */
  | { kind: "get"; value: string | null; version: number }
  | { kind: "put"; version: number }
  | { kind: "delete"; existed: boolean }
  /** The version after a success, the current version after a failure. */
  | { kind: "cas"; ok: boolean; version: number }
  | { kind: "scan"; entries: KvScanEntry[] }
  /** An invalid operation (or one the store's bounds refuse): nothing changed. */
  | { kind: "error"; code: KvErrorCode; message: string };

export type KvError = Extract<KvResult, { kind: "error" }>;

export function kvError(code: KvErrorCode, message: string): KvError {
  return { kind: "error", code, message };
}

/** Get and scan: they change nothing, so they may take PBFT's read-only path. */
export function isReadOnly(op: KvOp): boolean {
  return op.kind === "get" || op.kind === "scan";
}

/** The fields each kind must have (and the only ones it may have), `kind` included. */
const fieldsByKind: Readonly<Record<KvOpKind, readonly string[]>> = {
  get: ["kind", "key"],
  put: ["kind", "key", "value"],
  delete: ["kind", "key"],
  cas: ["kind", "key", "from", "to"],
  scan: ["kind", "prefix", "limit"],
};

/**
 * Checks untrusted input (a decoded client request) and returns a fresh, well-typed op, or the
 * error result to reply with. Never throws. Rules:
 * - a plain object with exactly the fields of its kind (unknown fields are refused, so that
 *   two replicas can never read one op differently);
 * - strings well-formed UTF-16 (see `wellFormed`); keys and prefixes at most
 *   `limits.kvKeyBytesMax` UTF-8 bytes, values at most `limits.kvValueBytesMax`;
 * - `limit` an integer in [0, `limits.kvScanLimitMax`].
 * A value over a bound gives TOO_LARGE; anything else malformed gives BAD_OP.
 */
export function validateKvOp(x: unknown): KvOp | { error: KvError } {
  if (typeof x !== "object" || x === null || Array.isArray(x)) return bad("an op must be an object");
  const proto: unknown = Object.getPrototypeOf(x);
  if (proto !== Object.prototype && proto !== null) return bad("an op must be a plain object");
  const op = x as Record<string, unknown>;
  const kind = op.kind;
  if (typeof kind !== "string" || !Object.hasOwn(fieldsByKind, kind)) {
    return bad(`unknown op kind ${describe(kind)}`);
  }
  const fields = fieldsByKind[kind as KvOpKind];
  const present = Object.keys(op);
  for (const name of present) {
    if (!fields.includes(name)) return bad(`${kind}: unknown field ${JSON.stringify(name)}`);
  }
  for (const name of fields) {
    if (!Object.hasOwn(op, name)) return bad(`${kind}: missing field ${JSON.stringify(name)}`);
  }

  switch (kind as KvOpKind) {
    case "get":
    case "delete": {
      const key = checkKvString(op.key, "key", limits.kvKeyBytesMax);
      if (typeof key !== "string") return key;
      return { kind: kind as "get" | "delete", key };
    }
    case "put": {
      const key = checkKvString(op.key, "key", limits.kvKeyBytesMax);
      if (typeof key !== "string") return key;
      const value = checkKvString(op.value, "value", limits.kvValueBytesMax);
      if (typeof value !== "string") return value;
      return { kind: "put", key, value };
    }
    case "cas": {
      const key = checkKvString(op.key, "key", limits.kvKeyBytesMax);
      if (typeof key !== "string") return key;
      let from: string | null = null;
      if (op.from !== null) {
        const checked = checkKvString(op.from, "from", limits.kvValueBytesMax);
        if (typeof checked !== "string") return checked;
        from = checked;
      }
      const to = checkKvString(op.to, "to", limits.kvValueBytesMax);
      if (typeof to !== "string") return to;
      return { kind: "cas", key, from, to };
    }
    case "scan": {
      const prefix = checkKvString(op.prefix, "prefix", limits.kvKeyBytesMax);
      if (typeof prefix !== "string") return prefix;
      const limit = op.limit;
      if (typeof limit !== "number" || !Number.isSafeInteger(limit) || limit < 0) {
        return bad(`scan: limit must be an integer >= 0, got ${describe(limit)}`);
      }
      if (limit > limits.kvScanLimitMax) {
        return tooLarge(`scan: limit ${limit} exceeds ${limits.kvScanLimitMax}`);
      }
      return { kind: "scan", prefix, limit };
    }
  }
}

/** UTF-8 length of a string (what MessagePack stores). */
export function utf8Bytes(s: string): number {
  return Buffer.byteLength(s, "utf8");
}

/**
 * Checks one untrusted string: its type, well-formedness and UTF-8 length against `bytesMax`.
 * Returns the string, or the error result naming `name`.
 */
export function checkKvString(v: unknown, name: string, bytesMax: number): string | { error: KvError } {
  if (typeof v !== "string") return bad(`${name} must be a string, got ${describe(v)}`);
  // Each UTF-16 unit is at least one UTF-8 byte, so a long string is refused before it is scanned.
  if (v.length > bytesMax) return tooLarge(`${name} of ${v.length}+ bytes exceeds ${bytesMax}`);
  if (!wellFormed(v)) return bad(`${name} contains a lone surrogate`);
  if (v.length * 3 > bytesMax) {
    const bytes = Buffer.byteLength(v, "utf8");
    if (bytes > bytesMax) return tooLarge(`${name} of ${bytes} bytes exceeds ${bytesMax}`);
  }
  return v;
}

type WellFormedString = string & { isWellFormed(): boolean };
const loneSurrogate = /\p{Surrogate}/u;

/**
 * True iff `s` has no lone surrogate. MessagePack stores strings as UTF-8, where a lone
 * surrogate becomes U+FFFD: two distinct keys would then encode, hash and snapshot alike, and
 * a restored store would differ from the original. So such strings are refused at the door.
 */
function wellFormed(s: string): boolean {
  return typeof (s as Partial<WellFormedString>).isWellFormed === "function"
    ? (s as WellFormedString).isWellFormed()
    : !loneSurrogate.test(s);
}

function bad(message: string): { error: KvError } {
  return { error: kvError("BAD_OP", message) };
}

function tooLarge(message: string): { error: KvError } {
  return { error: kvError("TOO_LARGE", message) };
}

/** A short, safe description of an untrusted value for an error message. */
function describe(v: unknown): string {
  if (typeof v === "string") {
    if (v.length <= 40) return JSON.stringify(v);
    // Cut before a high surrogate so that the message itself stays well formed.
    const end = (v.charCodeAt(39) & 0xfc00) === 0xd800 ? 39 : 40;
    return JSON.stringify(`${v.slice(0, end)}…`);
  }
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "undefined") return String(v);
  return `a ${typeof v}`;
}
