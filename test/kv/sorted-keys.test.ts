/** The chunked sorted string set behind KV scans, against a plain sorted array. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { Prng } from "../../src/core/prng.ts";
import { SortedStrings } from "../../src/kv/sorted-keys.ts";

function reference(keys: Iterable<string>): string[] {
  return [...new Set(keys)].sort();
}

describe("SortedStrings", () => {
  it("matches a sorted array under random inserts and deletes (small key space)", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(fc.boolean(), fc.string({ maxLength: 3, unit: fc.constantFrom("a", "b", "é", "😀") })),
        ),
        (steps) => {
          const set = new SortedStrings();
          const model = new Set<string>();
          for (const [insert, key] of steps) {
            const had = model.has(key);
            if (insert) {
              assert.equal(set.insert(key), !had);
              model.add(key);
            } else {
              assert.equal(set.delete(key), had);
              model.delete(key);
            }
            assert.equal(set.has(key), model.has(key));
          }
          set.checkInvariants();
          assert.deepEqual(set.toArray(), reference(model));
          assert.deepEqual([...set], reference(model));
          assert.equal(set.size, model.size);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("keeps its invariants through splits and merges (tens of thousands of ops)", () => {
    const prng = new Prng(7);
    const set = new SortedStrings();
    const model = new Set<string>();
    for (let round = 0; round < 4; round++) {
      // Grow past many chunk splits, then shrink to force merges and emptied chunks.
      for (let i = 0; i < 8000; i++) {
        const key = `k${prng.int(20000)}`;
        assert.equal(set.insert(key), !model.has(key));
        model.add(key);
      }
      set.checkInvariants();
      // ~75% of the keys go: most chunks drop below chunkLoad/4 and merge.
      for (let i = 0; i < 28000; i++) {
        const key = `k${prng.int(20000)}`;
        assert.equal(set.delete(key), model.has(key));
        model.delete(key);
      }
      set.checkInvariants();
      assert.deepEqual(set.toArray(), reference(model));
    }
    for (const key of [...model]) assert.equal(set.delete(key), true);
    set.checkInvariants();
    assert.equal(set.size, 0);
    assert.deepEqual(set.toArray(), []);
  });

  it("withPrefix returns the first `limit` keys with the prefix, across chunk boundaries", () => {
    const keys = Array.from({ length: 5000 }, (_, i) => `p${i % 3}/${String(i).padStart(5, "0")}`);
    const set = new SortedStrings();
    for (const k of keys) set.insert(k);
    const sorted = reference(keys);
    for (const [prefix, limit] of [
      ["p1/", 2000],
      ["p1/", 7],
      ["p2/0499", 100],
      ["", 3],
      ["q", 5],
      ["p", 0],
      ["p0/", 5000],
    ] as const) {
      assert.deepEqual(
        set.withPrefix(prefix, limit),
        sorted.filter((k) => k.startsWith(prefix)).slice(0, limit),
        `${prefix} ${limit}`,
      );
    }
  });

  it("fromSorted builds the same set as inserts", () => {
    const keys = reference(Array.from({ length: 3000 }, (_, i) => `x${(i * 7) % 4001}`));
    const built = SortedStrings.fromSorted(keys);
    built.checkInvariants();
    assert.deepEqual(built.toArray(), keys);
    for (const k of keys.slice(0, 1500)) built.delete(k);
    built.checkInvariants();
    assert.deepEqual(built.toArray(), keys.slice(1500));
    assert.deepEqual(SortedStrings.fromSorted([]).toArray(), []);
  });
});
