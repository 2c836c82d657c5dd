/**
 * KV state machine throughput: puts per second applied through `apply` (validation, the map,
 * the sorted key set and the incremental AdHash digest all included) for 100k puts of 16-byte
 * values over 10k keys; and snapshot, restore (which re-hashes every entry) and a prefix scan
 * for a store of 100k keys. Keys and values come from a seeded PRNG. Prints one JSON line.
 */
import { Prng } from "../src/core/prng.ts";
import type { KvOp } from "../src/kv/ops.ts";
import { KvStateMachine } from "../src/kv/state-machine.ts";

const putCount = 100_000;
const keySpace = 10_000;
const storeKeys = 100_000;

function randomValue(prng: Prng): string {
  let s = "";
  for (let i = 0; i < 16; i++) s += String.fromCharCode(97 + prng.int(26));
  return s;
}

function makePuts(count: number, keys: number, seed: number): KvOp[] {
  const prng = new Prng(seed);
  return Array.from({ length: count }, () => ({
    kind: "put" as const,
    key: `user/${prng.int(keys).toString().padStart(8, "0")}`,
    value: randomValue(prng),
  }));
}

function timePuts(ops: readonly KvOp[]): { ms: number; machine: KvStateMachine } {
  const machine = new KvStateMachine();
  const t0 = performance.now();
  for (const op of ops) machine.apply(op);
  return { ms: performance.now() - t0, machine };
}

const ops = makePuts(putCount, keySpace, 1);
timePuts(ops.slice(0, 20_000)); // warm up the JIT
let bestPutMs = Number.POSITIVE_INFINITY;
for (let i = 0; i < 3; i++) bestPutMs = Math.min(bestPutMs, timePuts(ops).ms);

// A store of exactly `storeKeys` keys, inserted in random order.
const prng = new Prng(2);
const order = prng.shuffle(Array.from({ length: storeKeys }, (_, i) => i));
const store = new KvStateMachine();
const t0 = performance.now();
for (const i of order) {
  store.apply({ kind: "put", key: `user/${i.toString().padStart(8, "0")}`, value: randomValue(prng) });
}
const loadMs = performance.now() - t0;

let snapshotMs = Number.POSITIVE_INFINITY;
let restoreMs = Number.POSITIVE_INFINITY;
let snapshotBytes = 0;
let digestsMatch = true;
for (let i = 0; i < 3; i++) {
  const t1 = performance.now();
  const snap = store.snapshot();
  const t2 = performance.now();
  const copy = KvStateMachine.restore(snap);
  const t3 = performance.now();
  snapshotMs = Math.min(snapshotMs, t2 - t1);
  restoreMs = Math.min(restoreMs, t3 - t2);
  snapshotBytes = snap.byteLength;
  digestsMatch &&= Buffer.from(copy.digest()).equals(Buffer.from(store.digest()));
}

const scans = 2000;
const t4 = performance.now();
for (let i = 0; i < scans; i++) {
  store.apply({ kind: "scan", prefix: `user/000${(i % 1000).toString().padStart(3, "0")}`, limit: 100 });
}
const scanUs = ((performance.now() - t4) / scans) * 1000;

console.log(
  JSON.stringify({
    bench: "kv-state-machine",
    puts: putCount,
    keys: keySpace,
    valueBytes: 16,
    putsPerSec: Math.round(putCount / (bestPutMs / 1000)),
    putWallMs: Math.round(bestPutMs),
    storeKeys,
    loadRandomOrderMs: Math.round(loadMs),
    snapshotMs: Math.round(snapshotMs),
    restoreMs: Math.round(restoreMs),
    snapshotPlusRestoreMs: Math.round(snapshotMs + restoreMs),
    snapshotBytes,
    restoredDigestMatches: digestsMatch,
    scan100UsPerOp: Number(scanUs.toFixed(1)),
  }),
);
