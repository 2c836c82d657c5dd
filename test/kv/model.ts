/**
 * Test helpers for the KV state machine: an independent reference model (a Map and a sort per
 * scan, nothing incremental), a from-scratch digest (BigInt sum, not the machine's limbs), and
 * fast-check arbitraries over a small key alphabet so that ops collide and prefixes nest.
 */
import fc from "fast-check";
import { sha256 } from "../../src/crypto/digest.ts";
import type { KvOp, KvResult } from "../../src/kv/ops.ts";
import type { KvEntry } from "../../src/kv/state-machine.ts";

export class KvModel {
  private readonly state = new Map<string, { value: string | null; version: number }>();

  apply(op: KvOp): KvResult {
    switch (op.kind) {
      case "get": {
        const s = this.state.get(op.key) ?? { value: null, version: 0 };
        return { kind: "get", value: s.value, version: s.version };
      }
      case "put": {
        const version = (this.state.get(op.key)?.version ?? 0) + 1;
        this.state.set(op.key, { value: op.value, version });
        return { kind: "put", version };
      }
      case "delete": {
        const s = this.state.get(op.key);
        if (s === undefined || s.value === null) return { kind: "delete", existed: false };
        this.state.set(op.key, { value: null, version: s.version + 1 });
        return { kind: "delete", existed: true };
      }
      case "cas": {
        const s = this.state.get(op.key) ?? { value: null, version: 0 };
        if (s.value !== op.from) return { kind: "cas", ok: false, version: s.version };
        this.state.set(op.key, { value: op.to, version: s.version + 1 });
        return { kind: "cas", ok: true, version: s.version + 1 };
      }
      case "scan": {
        const keys = [...this.state.keys()]
          .filter((k) => k.startsWith(op.prefix) && this.state.get(k)?.value !== null)
          .sort()
          .slice(0, op.limit);
        return {
          kind: "scan",
          entries: keys.map((key) => {
            const s = this.state.get(key)!;
            return { key, value: s.value!, version: s.version };
          }),
        };
      }
    }
  }

  /** Every key ever written, tombstones included, ascending. */
  entries(): KvEntry[] {
    return [...this.state.keys()].sort().map((key) => ({ key, ...this.state.get(key)! }));
  }
}

/**
 * One key's element, built independently of kvEntryHash: version as float64 big-endian, key
 * length (UTF-8 bytes) as uint32 big-endian, key, then 0 (tombstone) or 1 and the value.
 */
function elementBytes(e: KvEntry): Buffer {
  const version = Buffer.alloc(8);
  version.writeDoubleBE(e.version);
  const key = Buffer.from(e.key, "utf8");
  const keyLen = Buffer.alloc(4);
  keyLen.writeUInt32BE(key.length);
  const value =
    e.value === null ? Buffer.from([0]) : Buffer.concat([Buffer.from([1]), Buffer.from(e.value, "utf8")]);
  return Buffer.concat([version, keyLen, key, value]);
}

/** The digest recomputed from scratch: Σ SHA-256(element) mod 2^256, big-endian. */
export function recomputeDigest(entries: Iterable<KvEntry>): Uint8Array {
  let sum = 0n;
  for (const e of entries) {
    const h = sha256(elementBytes(e));
    sum += BigInt(`0x${Buffer.from(h).toString("hex")}`);
  }
  sum = BigInt.asUintN(256, sum);
  return new Uint8Array(Buffer.from(sum.toString(16).padStart(64, "0"), "hex"));
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

/** Keys over a tiny alphabet, with multi-byte and astral characters so UTF-16 order is exercised. */
export const keyArb: fc.Arbitrary<string> = fc
  .array(fc.constantFrom("a", "b", "é", "😀", "z"), { maxLength: 3 })
  .map((cs) => cs.join(""));
export const valueArb: fc.Arbitrary<string> = fc.constantFrom("", "x", "y", "ü", "longer value");

export const writeOpArb: fc.Arbitrary<KvOp> = fc.oneof(
  fc.record({ kind: fc.constant("put" as const), key: keyArb, value: valueArb }),
  fc.record({ kind: fc.constant("delete" as const), key: keyArb }),
  fc.record({
    kind: fc.constant("cas" as const),
    key: keyArb,
    from: fc.option(valueArb, { nil: null }),
    to: valueArb,
  }),
);

export const opArb: fc.Arbitrary<KvOp> = fc.oneof(
  { arbitrary: writeOpArb, weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant("get" as const), key: keyArb }), weight: 1 },
  {
    arbitrary: fc.record({
      kind: fc.constant("scan" as const),
      prefix: fc.constantFrom("", "a", "é", "😀", "b", "ab", "zz"),
      limit: fc.integer({ min: 0, max: 6 }),
    }),
    weight: 1,
  },
);
