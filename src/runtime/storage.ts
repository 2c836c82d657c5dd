/**
 * Durable storage of one runtime node: the core's synchronous `Storage` (core/process.ts) on
 * LMDB (lmdb-js), with group commit.
 *
 * - Overlay. `put` and `delete` only record the write in an in-memory overlay (key to newest
 *   unflushed value, or a tombstone); `get` and `keys` read the overlay first and LMDB under it,
 *   so a node reads its own writes at once, as the core expects, before anything is committed.
 * - Group commit. `flushed()` hands every write recorded since the previous flush to LMDB in one
 *   synchronous loop of `db.put`/`db.remove`; lmdb-js puts all writes of one event-loop turn in
 *   one transaction, committed on its writer thread (checked: 200,000 writes, one transaction).
 *   Several writes of a key between flushes become one. A barrier costs one commit whatever the
 *   number of writes it covers. Measured here (this module, 100-byte values, 30-byte keys, ext4
 *   on a virtual disk, one fdatasync per commit seen with strace): 1 put per flush, 1,300 to 1,600
 *   writes/s; 100 puts per flush, 63,000 to 73,000 writes/s (630 to 730 commits/s). Raw lmdb-js
 *   with noSync reaches about 7,000 commits/s on the same disk: fsync is most of a commit.
 * - Durability. The environment is opened with `overlappingSync: false` (and never noSync or
 *   noMetaSync), so a commit returns only after LMDB's fdatasync and its O_DSYNC meta page write:
 *   when a commit's promise resolves, the data survives a crash of the process or of the machine.
 *   Commits resolve in order, and each flush waits for the one before it, so `flushed()` resolving
 *   means every earlier write is durable. The overlay drops a write once it is durable, unless a
 *   newer write of the key replaced it meanwhile.
 * - `sync()` is the core's barrier: it only marks `syncPending`. The runtime must await
 *   `flushed()` whenever `syncPending` is true before a message sent after the barrier leaves the
 *   node. Writes never followed by a sync wait in memory for the next flush or `close()`.
 * - A failed commit (disk full, I/O error) is final: that and every later `flushed()` reject with
 *   an IO_FAILED error, since durability can no longer be promised; the node must stop.
 *
 * Keys. lmdb-js encodes string keys with ordered-binary: UTF-8, plus an escape byte 27 before a
 * first character below U+001C. LMDB compares the bytes, that is code-point order, which equals
 * JavaScript's string order except between characters above U+FFFF and U+E000..U+FFFF; `keys()`
 * sorts its result with JavaScript's comparison anyway (TimSort, linear on LMDB's sorted output),
 * and a prefix scan stays contiguous. Refused with a BAD_ARGUMENT error naming the key: the empty
 * key (LMDB has none; lmdb-js would store it as the lone escape byte), keys over LMDB's maximum of 1,978 encoded bytes, lone surrogates (written
 * lossily as U+FFFD in long keys) and U+0000..U+0004 (escaped in keys under 64 UTF-16 units but not
 * in longer ones, which a key scan then reads back wrong: `"x".repeat(70) + "\u0001"` came back
 * as `"x".repeat(70)`).
 *
 * Values are bytes. `put` copies its argument and `get` returns a fresh Uint8Array, never the
 * buffer lmdb-js reuses for the next read (`getBinaryFast`) nor one shared with the overlay.
 */
import { open, type RootDatabase } from "lmdb";
import { PhalanxError } from "../core/errors.ts";
import type { Storage } from "../core/process.ts";

export interface DurableStorageStats {
  /**
   * Group commits issued: one per flush that had writes, each one LMDB transaction (two flushes
   * in the same event-loop turn share a transaction but count twice).
   */
  commits: number;
  /** Calls of `put`. */
  puts: number;
  /** Calls of `delete`. */
  deletes: number;
  /** Key and value bytes handed to LMDB, after merging repeated writes of a key within a flush. */
  bytesWritten: number;
}

export interface DurableStorage extends Storage {
  /** True when a sync() was called since the last time flushed() was awaited/started and writes are pending. */
  readonly syncPending: boolean;
  /** Resolves when every write issued so far is committed durably (fsync'd) to disk. Group commit: all writes issued since the last commit go in ONE lmdb transaction. */
  flushed(): Promise<void>;
  /**
   * The barrier the runtime waits on after a `sync()`: undefined when every write is already
   * durable; otherwise a promise that settles once every write made so far is, issuing a
   * commit for the writes not yet handed to LMDB (or none, when a commit in flight already
   * carries them all). Clears the sync request.
   */
  barrier(): Promise<void> | undefined;
  /** Close the database (after flushing). */
  close(): Promise<void>;
  /** Figures for metrics: commits (transactions), bytes written, puts, deletes. */
  readonly stats: DurableStorageStats;
}

export interface LmdbStorageOptions {
  /** Initial size of LMDB's memory map; lmdb-js grows it when full. */
  mapSizeBytes?: number;
}

/** lmdb-js's maximum key size when no page size is given (it caps LMDB's own limit there). */
const defaultMaxKeyBytes = 1978;

/**
 * One write in the overlay. A fresh object per write: a flushed write leaves the overlay only
 * if the overlay still holds this very object, not a newer write of the same key.
 */
interface Write {
  /** `null` is a delete. */
  readonly value: Uint8Array | null;
}

/** A short printable form of a key for error messages. */
function describeKey(key: unknown): string {
  if (typeof key !== "string") return `a ${key === null ? "null" : typeof key} key`;
  const shown =
    key.length > 64 ? `${JSON.stringify(key.slice(0, 64))}... (${key.length} chars)` : JSON.stringify(key);
  return `key ${shown}`;
}

function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (typeof value !== "object") return typeof value;
  return (value as object).constructor?.name ?? "an object";
}

/**
 * Why `key` cannot be stored, or undefined if it can. One pass: forbidden characters, lone
 * surrogates, and the encoded length (escape byte plus UTF-8).
 */
function keyProblem(key: unknown, maxKeyBytes: number): string | undefined {
  if (typeof key !== "string") return "is not a string";
  if (key.length === 0) return "is empty";
  let bytes = key.charCodeAt(0) < 28 ? 1 : 0;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c <= 4) return `contains U+000${c} (U+0000..U+0004 do not round-trip through lmdb-js keys)`;
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdfff) {
      const next = key.charCodeAt(i + 1);
      if (c > 0xdbff || !(next >= 0xdc00 && next <= 0xdfff)) return `has a lone surrogate at index ${i}`;
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  if (bytes > maxKeyBytes) return `is ${bytes} bytes encoded, over LMDB's maximum key size of ${maxKeyBytes}`;
  return undefined;
}

class LmdbStorage implements DurableStorage {
  readonly stats: DurableStorageStats = { commits: 0, puts: 0, deletes: 0, bytesWritten: 0 };
  /** Newest write of each key not yet durable: issued to LMDB or not. */
  private readonly overlay = new Map<string, Write>();
  /** Writes not yet issued to LMDB: the next group commit. */
  private pending = new Map<string, Write>();
  /** Settles when the last issued commit is durable (rejects if any commit failed). */
  private tail: Promise<void> = Promise.resolve();
  private syncRequested = false;
  /** A commit completed since the read snapshot was last reset. */
  private snapshotStale = false;
  private failure: PhalanxError | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly maxKeyBytes: number;

  constructor(
    private readonly db: RootDatabase<Uint8Array, string>,
    private readonly path: string,
  ) {
    const max = (db as unknown as { maxKeySize?: unknown }).maxKeySize;
    this.maxKeyBytes = typeof max === "number" && max > 0 ? max : defaultMaxKeyBytes;
  }

  get syncPending(): boolean {
    return this.syncRequested && this.overlay.size > 0;
  }

  get(key: string): Uint8Array | undefined {
    this.checkOpen();
    const w = this.overlay.get(key);
    if (w !== undefined) return w.value === null ? undefined : w.value.slice();
    // A key that cannot be stored is absent (and lmdb-js would throw on it).
    if (keyProblem(key, this.maxKeyBytes) !== undefined) return undefined;
    this.freshSnapshot();
    const stored = this.db.getBinary(key);
    // getBinary is documented as a stable Buffer; copy anyway, into a plain Uint8Array of its own.
    return stored === undefined ? undefined : new Uint8Array(stored);
  }

  put(key: string, value: Uint8Array): void {
    this.checkOpen();
    this.checkKey("put", key);
    if (!(value instanceof Uint8Array)) {
      throw new PhalanxError(
        "BAD_ARGUMENT",
        `storage.put(${describeKey(key)}): the value must be a Uint8Array, got ${describeValue(value)}`,
      );
    }
    this.stats.puts++;
    this.record(key, { value: value.slice() });
  }

  delete(key: string): void {
    this.checkOpen();
    this.checkKey("delete", key);
    this.stats.deletes++;
    this.record(key, { value: null });
  }

  keys(prefix = ""): string[] {
    this.checkOpen();
    const out: string[] = [];
    // A prefix that is itself a storable key starts a contiguous range of LMDB's order (the key
    // encoding is prefix-preserving); any other prefix (a lone high surrogate that a key may
    // complete, say) falls back to a filtered full scan.
    const ranged = prefix !== "" && keyProblem(prefix, this.maxKeyBytes) === undefined;
    this.freshSnapshot();
    for (const key of this.db.getKeys(ranged ? { start: prefix } : {})) {
      if (!key.startsWith(prefix)) {
        if (ranged) break;
        continue;
      }
      if (!this.overlay.has(key)) out.push(key);
    }
    for (const [key, w] of this.overlay) if (w.value !== null && key.startsWith(prefix)) out.push(key);
    return out.sort();
  }

  sync(): void {
    this.checkOpen();
    if (this.overlay.size > 0) this.syncRequested = true;
  }

  barrier(): Promise<void> | undefined {
    this.syncRequested = false;
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.overlay.size === 0) return undefined;
    if (this.pending.size > 0) this.commit();
    return this.tail;
  }

  flushed(): Promise<void> {
    this.syncRequested = false;
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.pending.size > 0) this.commit();
    return this.tail;
  }

  close(): Promise<void> {
    if (this.closing === undefined) {
      const flushed = this.flushed();
      this.closed = true;
      this.closing = flushed.finally(() => this.db.close());
    }
    return this.closing;
  }

  private freshSnapshot(): void {
    if (!this.snapshotStale) return;
    this.snapshotStale = false;
    this.db.resetReadTxn();
  }

  private record(key: string, w: Write): void {
    this.overlay.set(key, w);
    this.pending.set(key, w);
  }

  /** Issue every pending write to LMDB in one synchronous loop: one transaction. */
  private commit(): void {
    const batch = this.pending;
    this.pending = new Map();
    let committed: Promise<boolean> | undefined;
    let bytes = 0;
    try {
      for (const [key, w] of batch) {
        bytes += Buffer.byteLength(key, "utf8");
        if (w.value === null) committed = this.db.remove(key);
        else {
          bytes += w.value.byteLength;
          committed = this.db.put(key, w.value);
        }
      }
    } catch (e) {
      // Keys were checked, so only a closed or broken environment gets here.
      committed = Promise.reject(e);
    }
    this.stats.commits++;
    this.stats.bytesWritten += bytes;
    const previous = this.tail;
    const done = Promise.all([previous, committed]).then(
      () => {
        // Reads must see this commit once the overlay lets go of it: the read snapshot is reset
        // before the next read (resetting it here, inside lmdb-js's commit callback, made the
        // next commit take 0.7 ms longer).
        this.snapshotStale = true;
        for (const [key, w] of batch) if (this.overlay.get(key) === w) this.overlay.delete(key);
      },
      (e: unknown) => {
        this.failure ??=
          e instanceof PhalanxError
            ? e
            : new PhalanxError("IO_FAILED", `LMDB commit failed at ${this.path}: ${String(e)}`, { cause: e });
        throw this.failure;
      },
    );
    // The failure is also kept in `failure` and reported by every later flushed(): no unhandled rejection.
    done.catch(() => {});
    this.tail = done;
  }

  private checkKey(op: string, key: string): void {
    const problem = keyProblem(key, this.maxKeyBytes);
    if (problem !== undefined)
      throw new PhalanxError("BAD_ARGUMENT", `storage.${op}(${describeKey(key)}): the key ${problem}`);
  }

  private checkOpen(): void {
    if (this.closed) throw new PhalanxError("BAD_ARGUMENT", `storage at ${this.path} is closed`);
  }
}

/**
 * Open the LMDB environment in directory `path` (created if missing, with data.mdb and lock.mdb
 * in it) as a node's storage. One process at a time.
 */
export function openLmdbStorage(path: string, options: LmdbStorageOptions = {}): DurableStorage {
  const db = open<Uint8Array, string>(path, {
    encoding: "binary",
    // `path` is always a directory; lmdb-js would otherwise take a path with a dot for a file.
    noSubdir: false,
    // Commit only after fdatasync, so a resolved commit is durable; see the module comment.
    overlappingSync: false,
    ...(options.mapSizeBytes !== undefined ? { mapSize: options.mapSizeBytes } : {}),
  });
  return new LmdbStorage(db, path);
}
