/** LMDB-backed durable storage (src/runtime/storage.ts) against a Map model, across reopen and SIGKILL. */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { open } from "lmdb";
import { isPhalanxError } from "../../src/core/errors.ts";
import { type DurableStorage, openLmdbStorage } from "../../src/runtime/storage.ts";
import { crashKey, crashValue } from "./fixtures/crash-writer.ts";

type Op =
  | { kind: "put"; key: string; value: Uint8Array }
  | { kind: "delete"; key: string }
  | { kind: "check"; prefix: string }
  /** Await flushed(). */
  | { kind: "flush" }
  /** Start a commit without awaiting it: reads must still see every write. */
  | { kind: "startFlush" }
  /** Await the last started commit only: later writes stay pending while it leaves the overlay. */
  | { kind: "awaitStarted" }
  /** Let the event loop run, so an in-flight commit may land. */
  | { kind: "tick" };

// Characters whose UTF-16 order differs from LMDB's byte order ("\uffff" < "😀" in LMDB only).
const unit = fc.constantFrom("a", "b", "/", "é", "\uffff", "😀");
// Few keys (42), so that writes of one key meet in the overlay, in flight and in LMDB.
const keyArb = fc.string({ unit, minLength: 1, maxLength: 2 });
// "\ud83d" is a lone high surrogate: a prefix of "😀" that is no key itself.
const prefixArb = fc.oneof(fc.string({ unit, maxLength: 2 }), fc.constant("\ud83d"));
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({ kind: fc.constant("put"), key: keyArb, value: fc.uint8Array({ maxLength: 8 }) }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("delete"), key: keyArb }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("check"), prefix: prefixArb }) },
  { weight: 1, arbitrary: fc.constant({ kind: "flush" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "startFlush" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "awaitStarted" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "tick" as const }) },
);

let root = "";
let dirCount = 0;
before(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "phalanx-storage-"));
});
after(() => {
  fs.rmSync(root, { recursive: true, force: true });
});
function freshDir(): string {
  return path.join(root, `db-${dirCount++}`);
}

function expectedKeys(model: Map<string, Uint8Array>, prefix = ""): string[] {
  return [...model.keys()].filter((k) => k.startsWith(prefix)).sort();
}

/** Every key, value and prefix listing of `s` equals the model's. */
function assertMatches(s: DurableStorage, model: Map<string, Uint8Array>, prefix = ""): void {
  const want = expectedKeys(model, prefix);
  assert.deepEqual(s.keys(prefix), want);
  for (const k of want) assert.deepEqual(s.get(k), model.get(k));
}

/** Apply `ops` to `s` and the model, checking reads after each. Pending flushes are returned, not awaited. */
async function apply(s: DurableStorage, model: Map<string, Uint8Array>, ops: Op[]): Promise<Promise<void>[]> {
  const started: Promise<void>[] = [];
  for (const op of ops) {
    switch (op.kind) {
      case "put":
        s.put(op.key, op.value);
        model.set(op.key, op.value.slice());
        assert.deepEqual(s.get(op.key), op.value);
        break;
      case "delete":
        s.delete(op.key);
        model.delete(op.key);
        assert.equal(s.get(op.key), undefined);
        break;
      case "check":
        assertMatches(s, model, op.prefix);
        break;
      case "flush":
        await s.flushed();
        break;
      case "startFlush":
        started.push(s.flushed());
        break;
      case "awaitStarted":
        await started.at(-1);
        assertMatches(s, model);
        break;
      case "tick":
        await new Promise((resolve) => setImmediate(resolve));
        break;
    }
  }
  return started;
}

describe("LMDB storage", () => {
  it("reads its own writes before and after commits; keys(prefix) is sorted and filtered like a Map", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 80, size: "max" }), async (ops) => {
        const s = openLmdbStorage(freshDir());
        const model = new Map<string, Uint8Array>();
        try {
          const started = await apply(s, model, ops);
          assertMatches(s, model);
          await Promise.all(started);
          await s.flushed();
          // Everything is durable, the overlay is empty: reads now come from LMDB alone.
          s.sync();
          assert.equal(s.syncPending, false);
          assertMatches(s, model);
          for (const p of ["a", "/", "😀", "\ud83d", "é/"]) assertMatches(s, model, p);
        } finally {
          await s.close();
        }
      }),
      { numRuns: 40 },
    );
  });

  it("after close and reopen holds exactly the model's contents", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { maxLength: 80, size: "max" }),
        fc.boolean(),
        async (ops, flushFirst) => {
          const dir = freshDir();
          const model = new Map<string, Uint8Array>();
          const s = openLmdbStorage(dir);
          const started = await apply(s, model, ops);
          if (flushFirst) await s.flushed();
          // close() flushes whatever is left.
          await s.close();
          await Promise.all(started);
          const reopened = openLmdbStorage(dir);
          try {
            assertMatches(reopened, model);
            for (const p of ["a", "b/", "😀", "\ud83d"]) assertMatches(reopened, model, p);
          } finally {
            await reopened.close();
          }
        },
      ),
      { numRuns: 15 },
    );
  });

  it("keeps every key reported as flushed when the writer is killed with SIGKILL", async () => {
    const dir = freshDir();
    const fixture = fileURLToPath(new URL("./fixtures/crash-writer.ts", import.meta.url));
    const child = spawn(process.execPath, ["--import", "tsx", fixture, dir, "10000000"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let reported = 0;
    let stdout = "";
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on("exit", (_code, signal) => resolve(signal)),
    );
    const enough = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`timed out after ${reported} keys; child stderr: ${stderr}`));
      }, 20_000);
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        stdout += chunk;
        const lines = stdout.split("\n");
        stdout = lines.pop() ?? "";
        for (const line of lines) reported = Math.max(reported, Number(line));
        if (reported >= 20_000) {
          clearTimeout(timer);
          child.kill("SIGKILL");
          resolve();
        }
      });
      child.on("exit", () => {
        clearTimeout(timer);
        reject(new Error(`child exited early after ${reported} keys; stderr: ${stderr}`));
      });
    });
    await enough;
    assert.equal(await exited, "SIGKILL");

    const s = openLmdbStorage(dir);
    try {
      // Commits land in order, so the keys present are 0..present-1, at least those reported.
      const keys = s.keys("crash/");
      assert.ok(keys.length >= reported, `${keys.length} keys present, ${reported} reported durable`);
      keys.forEach((k, i) => {
        assert.equal(k, crashKey(i));
        assert.deepEqual(s.get(k), crashValue(i));
      });
    } finally {
      await s.close();
    }
  });

  it("group commit: 1000 puts and one flush make one LMDB transaction", async () => {
    const dir = freshDir();
    const s = openLmdbStorage(dir);
    for (let i = 0; i < 1000; i++)
      s.put(`pbft/seq/${String(i).padStart(20, "0")}`, new Uint8Array([i & 255, i >> 8]));
    for (let i = 0; i < 1000; i += 10) s.delete(`pbft/seq/${String(i).padStart(20, "0")}`);
    s.sync();
    await s.flushed();
    assert.equal(s.stats.commits, 1);
    assert.equal(s.stats.puts, 1000);
    assert.equal(s.stats.deletes, 100);
    // Each key once (29 bytes), with a 2-byte value or none (deleted before the commit).
    assert.equal(s.stats.bytesWritten, 900 * 31 + 100 * 29);
    // One put per flush: one commit each.
    for (let i = 0; i < 5; i++) {
      s.put("pbft/view", new Uint8Array([i]));
      await s.flushed();
    }
    assert.equal(s.stats.commits, 6);
    await s.close();
    // LMDB's own transaction counter agrees (a fresh environment starts at 0).
    const raw = open(dir, { readOnly: true, noSubdir: false });
    try {
      const stat = raw.getStats() as { lastTxnId: number; entryCount: number };
      assert.equal(stat.lastTxnId, 6);
      assert.equal(stat.entryCount, 901);
    } finally {
      await raw.close();
    }
  });

  it("LMDB itself orders ASCII keys as JavaScript does (not so above U+FFFF)", async () => {
    const dir = freshDir();
    const ascii = [
      "pbft/seq/00000000000000000042",
      "pbft/seq/00000000000000000041",
      "pbft/seq/0000000000000000004",
      "pbft/seq/00000000000000000100",
      "pbft/stable",
      "pbft/view",
      "pbft",
      "r/3/17",
      "r/10/2",
      "\u0005",
      "\u001b",
      "\u001c",
      " ",
      "A",
      "a",
      "~",
      "\u007f",
    ];
    const s = openLmdbStorage(dir);
    for (const k of [...ascii, "\uffff", "😀"]) s.put(k, new Uint8Array([1]));
    await s.close();
    const raw = open<Uint8Array, string>(dir, { readOnly: true, noSubdir: false, encoding: "binary" });
    try {
      const lmdbOrder = [...raw.getKeys({})];
      assert.deepEqual(lmdbOrder, [...ascii].sort().concat(["\uffff", "😀"]));
      // JavaScript compares UTF-16 code units: "😀" (\ud83d\ude00) < "\uffff". keys() follows JavaScript.
      assert.deepEqual(["\uffff", "😀"].sort(), ["😀", "\uffff"]);
    } finally {
      await raw.close();
    }
    const reopened = openLmdbStorage(dir);
    try {
      assert.deepEqual(reopened.keys(), [...ascii, "\uffff", "😀"].sort());
    } finally {
      await reopened.close();
    }
  });

  it("keeps a newer write of a key in the overlay when an older commit of that key lands", async () => {
    const s = openLmdbStorage(freshDir());
    try {
      s.put("k", new Uint8Array([1]));
      s.put("gone", new Uint8Array([1]));
      const first = s.flushed();
      s.put("k", new Uint8Array([2]));
      s.delete("gone");
      await first;
      assert.deepEqual(s.get("k"), new Uint8Array([2]));
      assert.equal(s.get("gone"), undefined);
      assert.deepEqual(s.keys(), ["k"]);
      await s.flushed();
      assert.deepEqual(s.get("k"), new Uint8Array([2]));
      assert.deepEqual(s.keys(), ["k"]);
    } finally {
      await s.close();
    }
  });

  it("tracks syncPending: set by sync() while writes are not durable, cleared when flushed() starts", async () => {
    const s = openLmdbStorage(freshDir());
    try {
      s.sync();
      assert.equal(s.syncPending, false, "nothing written");
      s.put("a", new Uint8Array([1]));
      assert.equal(s.syncPending, false, "no sync yet");
      s.sync();
      assert.equal(s.syncPending, true);
      const first = s.flushed();
      assert.equal(s.syncPending, false);
      // The write is in flight, not durable yet: a barrier now must still wait.
      s.sync();
      assert.equal(s.syncPending, true);
      await s.flushed();
      await first;
      s.sync();
      assert.equal(s.syncPending, false, "everything durable");
    } finally {
      await s.close();
    }
  });

  it("copies values in and out: no aliasing with the caller, the overlay or lmdb-js's read buffer", async () => {
    const s = openLmdbStorage(freshDir());
    try {
      const input = new Uint8Array([1, 2, 3]);
      s.put("a", input);
      input[0] = 99;
      const fromOverlay = s.get("a")!;
      fromOverlay[1] = 99;
      assert.deepEqual(s.get("a"), new Uint8Array([1, 2, 3]));
      s.put("b", new Uint8Array(5000).fill(9));
      await s.flushed();
      s.sync();
      assert.equal(s.syncPending, false, "reads below come from LMDB");
      const a = s.get("a")!;
      const b = s.get("b")!;
      assert.equal(Object.getPrototypeOf(a), Uint8Array.prototype);
      assert.deepEqual(a, new Uint8Array([1, 2, 3]));
      assert.equal(b.length, 5000);
      assert.equal(b[4999], 9);
      a[0] = 42;
      assert.deepEqual(s.get("a"), new Uint8Array([1, 2, 3]));
      assert.deepEqual(a, new Uint8Array([42, 2, 3]));
    } finally {
      await s.close();
    }
  });

  it("refuses bad keys and values with an error naming the key, leaving the store intact", async () => {
    const dir = freshDir();
    const s = openLmdbStorage(dir);
    s.put("ok", new Uint8Array([7]));
    const longest = "k".repeat(1978);
    s.put(longest, new Uint8Array([8]));
    const bad: [string, unknown, RegExp][] = [
      ["", new Uint8Array(1), /key "".*empty/],
      ["k".repeat(1979), new Uint8Array(1), /key "kkkk.*1979 bytes.*1978/],
      ["é".repeat(990), new Uint8Array(1), /1980 bytes/],
      ["x\u0000y", new Uint8Array(1), /key "x\\u0000y".*U\+0000/],
      ["bad\ud800", new Uint8Array(1), /lone surrogate/],
      ["ok", "not bytes", /key "ok".*Uint8Array, got string/],
      ["ok", [1, 2], /key "ok".*Uint8Array, got Array/],
      ["ok", null, /key "ok".*got null/],
    ];
    for (const [key, value, message] of bad) {
      assert.throws(
        () => s.put(key, value as Uint8Array),
        (e: unknown) => isPhalanxError(e, "BAD_ARGUMENT") && message.test(e.message),
        `put ${JSON.stringify(key.slice(0, 10))}`,
      );
    }
    assert.throws(() => s.delete(""), /key "".*empty/);
    assert.equal(s.get(""), undefined);
    assert.equal(s.get("k".repeat(1979)), undefined);
    assert.deepEqual(s.keys(""), [longest, "ok"].sort());
    await s.close();
    const reopened = openLmdbStorage(dir);
    try {
      assert.deepEqual(reopened.keys(), [longest, "ok"].sort());
      assert.deepEqual(reopened.get("ok"), new Uint8Array([7]));
      assert.deepEqual(reopened.get(longest), new Uint8Array([8]));
      assert.equal(reopened.stats.commits, 0);
    } finally {
      await reopened.close();
    }
    assert.throws(() => reopened.get("ok"), /closed/);
  });
});
