/**
 * The key-value store's deterministic state machine, the service PBFT replicates (Castro and
 * Liskov, OSDI 1999, section 4: replicas execute the same operations in the same order, so a
 * deterministic service ends in the same state everywhere). Per key: `{value, version}` as in
 * ops.ts. Deleted keys stay as tombstones (value null, version kept), so a key's version never
 * goes back and `get` of a deleted key reports it.
 *
 * What it keeps, and why:
 * - `byKey`, a Map from key to entry: O(1) get, put, delete, cas;
 * - `live` and `dead`, the live and tombstoned keys, each a sorted chunk list (sorted-keys.ts):
 *   a scan is O(log n + limit) and never walks over tombstones; a snapshot merges the two in O(n);
 * - an AdHash (adhash.ts) over one element per key, SHA-256 of its version, key and value (kvEntryHash)
 *   (tombstones included, never-written keys absent): each change costs one SHA-256 and two
 *   passes over 8 limbs, so a checkpoint digest is O(1) and needs no rehash of the store.
 *
 * No clock, no randomness, no iteration over a hash map's order: the results and the digest
 * depend only on the sequence of operations.
 */
import { assert, assertNever } from "../core/assert.ts";
import { decodeSafe, encode } from "../core/codec.ts";
import { PhalanxError } from "../core/errors.ts";
import { limits } from "../core/limits.ts";
import { sha256Prefix } from "../crypto/digest.ts";
import { AdHash256 } from "./adhash.ts";
import {
  checkKvString,
  type KvError,
  type KvOp,
  type KvResult,
  kvError,
  utf8Bytes,
  validateKvOp,
} from "./ops.ts";
import { SortedStrings } from "./sorted-keys.ts";

/** One key's state as `entries()` and snapshots list it; `value: null` is a tombstone. */
export interface KvEntry {
  key: string;
  value: string | null;
  version: number;
}

interface Entry {
  value: string | null;
  version: number;
  /** UTF-8 bytes of `value`, 0 for a tombstone. */
  valueBytes: number;
  /** This key's slot in the AdHash. */
  slot: number;
}

/** First element of every snapshot; bump it when the layout changes. */
const snapshotFormat = 1;

const textEncoder = new TextEncoder();
let entryScratch = new Uint8Array(4096);
let entryView = new DataView(entryScratch.buffer);
const entryHashOut = new Uint8Array(32);

/**
 * The element hash of one key's state: SHA-256 of a fixed, injective layout (cheaper than
 * MessagePack, and hashed on every write): the version as float64 (a safe integer, so exact),
 * the key's UTF-8 length as uint32 and its bytes, then 0 for a tombstone or 1 and the value's
 * UTF-8 bytes to the end. A short entry's hash is written to a buffer that the next call
 * overwrites (AdHash copies it at once), so a write allocates nothing for it.
 */
export function kvEntryHash(key: string, value: string | null, version: number): Uint8Array {
  const need = 13 + 3 * key.length + (value === null ? 0 : 3 * value.length);
  if (entryScratch.byteLength < need) {
    entryScratch = new Uint8Array(Math.max(need, 2 * entryScratch.byteLength));
    entryView = new DataView(entryScratch.buffer);
  }
  const buf = entryScratch;
  entryView.setFloat64(0, version);
  const keyLen = writeUtf8(key, buf, 12);
  entryView.setUint32(8, keyLen);
  let end = 12 + keyLen;
  if (value === null) buf[end++] = 0;
  else {
    buf[end++] = 1;
    end += writeUtf8(value, buf, end);
  }
  return sha256Prefix(buf, end, entryHashOut);
}

/**
 * UTF-8 of `s` into `buf` at `at` (room for 3 bytes per UTF-16 unit is the caller's); returns
 * the byte count. ASCII, the common case, is copied here: TextEncoder's call and the subarray
 * it needs cost more than the copy for keys and values this short.
 */
function writeUtf8(s: string, buf: Uint8Array, at: number): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return textEncoder.encodeInto(s, buf.subarray(at)).written;
    buf[at + i] = c;
  }
  return s.length;
}

export class KvStateMachine {
  private readonly byKey = new Map<string, Entry>();
  private live = new SortedStrings();
  private dead = new SortedStrings();
  private readonly hash = new AdHash256();
  /** UTF-8 bytes of every key plus every live value, bounded by `limits.kvStateBytesMax`. */
  private bytes = 0;

  /** Live keys (tombstones not counted). */
  get size(): number {
    return this.live.size;
  }

  /** Keys ever written, tombstones included. */
  get keyCount(): number {
    return this.byKey.size;
  }

  /** UTF-8 bytes of all keys (tombstones included) and all live values. */
  get stateBytes(): number {
    return this.bytes;
  }

  /**
   * Executes one operation. `op` is validated first (validateKvOp): an op ordered by a
   * Byzantine primary may be anything, and every correct replica must answer it with the same
   * error and no change. A write that would exceed `limits.kvKeysMax` or
   * `limits.kvStateBytesMax` is refused with TOO_LARGE and changes nothing.
   */
  apply(op: KvOp): KvResult {
    const checked = validateKvOp(op);
    if ("error" in checked) return checked.error;
    switch (checked.kind) {
      case "get":
        return this.get(checked.key);
      case "scan":
        return this.scan(checked.prefix, checked.limit);
      case "put": {
        const version = this.write(checked.key, checked.value);
        return typeof version === "number" ? { kind: "put", version } : version;
      }
      case "delete":
        return this.delete(checked.key);
      case "cas": {
        const current = this.byKey.get(checked.key);
        const value = current === undefined ? null : current.value;
        if (value !== checked.from) return { kind: "cas", ok: false, version: current?.version ?? 0 };
        const version = this.write(checked.key, checked.to);
        return typeof version === "number" ? { kind: "cas", ok: true, version } : version;
      }
      default:
        return assertNever(checked, "KvOp");
    }
  }

  /**
   * Executes a read-only operation (get, scan) without ordering it: PBFT's read-only
   * optimization. Never changes state; any other op gets a BAD_OP error.
   */
  read(op: KvOp): KvResult {
    const checked = validateKvOp(op);
    if ("error" in checked) return checked.error;
    if (checked.kind === "get") return this.get(checked.key);
    if (checked.kind === "scan") return this.scan(checked.prefix, checked.limit);
    return kvError("BAD_OP", `${checked.kind} is not read-only: it must be ordered`);
  }

  /** The 32-byte state digest (AdHash over every key's entry), kept up to date on every change. */
  digest(): Uint8Array {
    return this.hash.digest();
  }

  /**
   * The canonical encoding of the state: `[format, [key, value, version, key, value, ...]]`,
   * every key (tombstones included, value null) in ascending order. Equal states give equal
   * bytes.
   */
  snapshot(): Uint8Array {
    const keys = this.sortedKeys();
    const flat: Array<string | number | null> = new Array(keys.length * 3);
    let i = 0;
    for (const key of keys) {
      const entry = this.entry(key);
      flat[i++] = key;
      flat[i++] = entry.value;
      flat[i++] = entry.version;
    }
    return encode([snapshotFormat, flat]);
  }

  /**
   * Rebuilds a state machine from `snapshot()` bytes that may come from a faulty peer or file:
   * checks the layout, every string and version, ascending keys and every bound, and recomputes
   * the digest from the entries (compare it with a digest the cluster agreed on before trusting
   * the state). Throws PhalanxError: DECODE_FAILED for malformed bytes, LIMIT_EXCEEDED for an
   * oversized snapshot, BAD_ARGUMENT if `bytes` is not a Uint8Array. Nothing else.
   */
  static restore(bytes: Uint8Array): KvStateMachine {
    if (!(bytes instanceof Uint8Array)) {
      throw new PhalanxError("BAD_ARGUMENT", "a KV snapshot must be a Uint8Array");
    }
    const decoded = decodeSafe<unknown>(bytes, limits.kvSnapshotBytesMax);
    if (!Array.isArray(decoded) || decoded.length !== 2) {
      throw malformed("a KV snapshot must be the array [format, entries]");
    }
    if (decoded[0] !== snapshotFormat) {
      const format = typeof decoded[0] === "number" ? String(decoded[0]) : `of type ${typeof decoded[0]}`;
      throw malformed(`unknown KV snapshot format ${format}, expected ${snapshotFormat}`);
    }
    const flat: unknown = decoded[1];
    if (!Array.isArray(flat) || flat.length % 3 !== 0) {
      throw malformed("KV snapshot entries must be a flat array of [key, value, version] triples");
    }
    const count = flat.length / 3;
    if (count > limits.kvKeysMax) {
      throw new PhalanxError(
        "LIMIT_EXCEEDED",
        `KV snapshot has ${count} keys, more than ${limits.kvKeysMax}`,
      );
    }

    const sm = new KvStateMachine();
    const live: string[] = [];
    const dead: string[] = [];
    let previous: string | undefined;
    for (let i = 0; i < count; i++) {
      const key = snapshotString(flat[3 * i], i, "key", limits.kvKeyBytesMax);
      if (previous !== undefined && !(previous < key)) {
        throw malformed(`KV snapshot entry ${i}: keys must be strictly ascending`);
      }
      previous = key;
      const rawValue: unknown = flat[3 * i + 1];
      const value = rawValue === null ? null : snapshotString(rawValue, i, "value", limits.kvValueBytesMax);
      const version: unknown = flat[3 * i + 2];
      // A live key was written at least once; a tombstone was written and then deleted.
      const versionMin = value === null ? 2 : 1;
      if (typeof version !== "number" || !Number.isSafeInteger(version) || version < versionMin) {
        throw malformed(`KV snapshot entry ${i}: version must be an integer >= ${versionMin}`);
      }
      const valueBytes = value === null ? 0 : utf8Bytes(value);
      sm.bytes += utf8Bytes(key) + valueBytes;
      if (sm.bytes > limits.kvStateBytesMax) {
        throw new PhalanxError(
          "LIMIT_EXCEEDED",
          `KV snapshot holds more than ${limits.kvStateBytesMax} bytes of keys and values`,
        );
      }
      const slot = sm.hash.add(kvEntryHash(key, value, version));
      sm.byKey.set(key, { value, version, valueBytes, slot });
      (value === null ? dead : live).push(key);
    }
    sm.live = SortedStrings.fromSorted(live);
    sm.dead = SortedStrings.fromSorted(dead);
    return sm;
  }

  /** Every key ever written, tombstones included (value null), in ascending key order. */
  *entries(): IterableIterator<KvEntry> {
    for (const key of this.sortedKeys()) {
      const entry = this.entry(key);
      yield { key, value: entry.value, version: entry.version };
    }
  }

  private get(key: string): KvResult {
    const entry = this.byKey.get(key);
    return entry === undefined
      ? { kind: "get", value: null, version: 0 }
      : { kind: "get", value: entry.value, version: entry.version };
  }

  private scan(prefix: string, limit: number): KvResult {
    const keys = this.live.withPrefix(prefix, limit);
    const entries = keys.map((key) => {
      const entry = this.entry(key);
      assert(entry.value !== null, `live key ${key} has a tombstone`);
      return { key, value: entry.value, version: entry.version };
    });
    return { kind: "scan", entries };
  }

  /** Sets `key` to `value` (a put, or a cas that matched); returns the new version or a refusal. */
  private write(key: string, value: string): number | KvError {
    const valueBytes = utf8Bytes(value);
    const entry = this.byKey.get(key);
    if (entry === undefined) {
      if (this.byKey.size >= limits.kvKeysMax) {
        return kvError("TOO_LARGE", `store full: it holds ${limits.kvKeysMax} keys (tombstones included)`);
      }
      const added = utf8Bytes(key) + valueBytes;
      if (this.bytes + added > limits.kvStateBytesMax) return this.full();
      const slot = this.hash.add(kvEntryHash(key, value, 1));
      this.byKey.set(key, { value, version: 1, valueBytes, slot });
      this.live.insert(key);
      this.bytes += added;
      return 1;
    }
    if (this.bytes - entry.valueBytes + valueBytes > limits.kvStateBytesMax) return this.full();
    if (entry.version >= Number.MAX_SAFE_INTEGER) return this.versionsExhausted(key);
    const version = entry.version + 1;
    this.hash.replace(entry.slot, kvEntryHash(key, value, version));
    if (entry.value === null) {
      this.dead.delete(key);
      this.live.insert(key);
    }
    this.bytes += valueBytes - entry.valueBytes;
    entry.value = value;
    entry.version = version;
    entry.valueBytes = valueBytes;
    return version;
  }

  private delete(key: string): KvResult {
    const entry = this.byKey.get(key);
    if (entry === undefined || entry.value === null) return { kind: "delete", existed: false };
    if (entry.version >= Number.MAX_SAFE_INTEGER) return this.versionsExhausted(key);
    const version = entry.version + 1;
    this.hash.replace(entry.slot, kvEntryHash(key, null, version));
    this.live.delete(key);
    this.dead.insert(key);
    this.bytes -= entry.valueBytes;
    entry.value = null;
    entry.version = version;
    entry.valueBytes = 0;
    return { kind: "delete", existed: true };
  }

  private full(): KvError {
    return kvError("TOO_LARGE", `store full: keys and values would exceed ${limits.kvStateBytesMax} bytes`);
  }

  /** Unreachable by 2^53 real writes; only a restored snapshot can carry such a version. */
  private versionsExhausted(key: string): KvError {
    return kvError("TOO_LARGE", `key ${JSON.stringify(key)} has used up its versions`);
  }

  private entry(key: string): Entry {
    const entry = this.byKey.get(key);
    assert(entry !== undefined, `sorted key ${key} has no entry`);
    return entry;
  }

  /** Live and tombstoned keys merged, ascending: O(n). */
  private sortedKeys(): string[] {
    const live = this.live.toArray();
    const dead = this.dead.toArray();
    const out: string[] = new Array(live.length + dead.length);
    let i = 0;
    let j = 0;
    let k = 0;
    while (i < live.length && j < dead.length) {
      const a = live[i] as string;
      const b = dead[j] as string;
      if (a < b) {
        out[k++] = a;
        i++;
      } else {
        out[k++] = b;
        j++;
      }
    }
    while (i < live.length) out[k++] = live[i++] as string;
    while (j < dead.length) out[k++] = dead[j++] as string;
    return out;
  }
}

function malformed(message: string): PhalanxError {
  return new PhalanxError("DECODE_FAILED", message);
}

function snapshotString(v: unknown, index: number, name: string, bytesMax: number): string {
  const checked = checkKvString(v, name, bytesMax);
  if (typeof checked === "string") return checked;
  const code = checked.error.code === "TOO_LARGE" ? "LIMIT_EXCEEDED" : "DECODE_FAILED";
  throw new PhalanxError(code, `KV snapshot entry ${index}: ${checked.error.message}`);
}
