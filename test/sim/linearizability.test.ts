import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { AssertionError } from "../../src/core/assert.ts";
import { isPhalanxError } from "../../src/core/errors.ts";
import {
  applyKvModel,
  checkLinearizable,
  type HistoryEntry,
  HistoryRecorder,
  type KvOp,
  type KvResult,
  type KvState,
  kvInitialState,
  type LinearizabilityVerdict,
} from "../../src/sim/checkers/linearizability.ts";

// ---- history builders -------------------------------------------------------------------------

type Call = [KvOp, KvResult];
const get = (key: string, value: string | null, version: number): Call => [
  { kind: "get", key },
  { kind: "get", value, version },
];
const put = (key: string, value: string, version: number): Call => [
  { kind: "put", key, value },
  { kind: "put", version },
];
const del = (key: string, existed: boolean): Call => [
  { kind: "delete", key },
  { kind: "delete", existed },
];
const cas = (key: string, from: string | null, to: string, ok: boolean, version: number): Call => [
  { kind: "cas", key, from, to },
  { kind: "cas", ok, version },
];

/** Rows of [client, invokeMs, returnMs (null = never returned), call]; ids are row indexes. */
function history(...rows: [number, number, number | null, Call][]): HistoryEntry[] {
  return rows.map(([client, invokeMs, returnMs, [op, result]], id) =>
    returnMs === null ? { id, client, op, invokeMs } : { id, client, op, invokeMs, returnMs, result },
  );
}

function assertOk(verdict: LinearizabilityVerdict): void {
  assert.equal(verdict.ok, true, verdict.ok === true ? "" : verdict.message);
}

function assertIllegal(
  verdict: LinearizabilityVerdict,
  key: string,
): Extract<LinearizabilityVerdict, { ok: false }> {
  assert.equal(verdict.ok, false, `expected a violation, got ${JSON.stringify(verdict)}`);
  if (verdict.ok !== false) assert.fail("unreachable");
  assert.equal(verdict.key, key);
  return verdict;
}

// ---- the model --------------------------------------------------------------------------------

describe("applyKvModel", () => {
  it("put, get, delete and cas follow the documented rules", () => {
    let state: KvState = kvInitialState;
    const step = (op: KvOp): KvResult => {
      const out = applyKvModel(state, op);
      state = out.state;
      return out.result;
    };
    assert.deepEqual(step({ kind: "get", key: "k" }), { kind: "get", value: null, version: 0 });
    assert.deepEqual(step({ kind: "delete", key: "k" }), { kind: "delete", existed: false });
    assert.deepEqual(state, { value: null, version: 0 });
    assert.deepEqual(step({ kind: "cas", key: "k", from: "a", to: "b" }), {
      kind: "cas",
      ok: false,
      version: 0,
    });
    assert.deepEqual(step({ kind: "cas", key: "k", from: null, to: "a" }), {
      kind: "cas",
      ok: true,
      version: 1,
    });
    assert.deepEqual(step({ kind: "put", key: "k", value: "b" }), { kind: "put", version: 2 });
    assert.deepEqual(step({ kind: "cas", key: "k", from: null, to: "c" }), {
      kind: "cas",
      ok: false,
      version: 2,
    });
    assert.deepEqual(step({ kind: "cas", key: "k", from: "b", to: "c" }), {
      kind: "cas",
      ok: true,
      version: 3,
    });
    assert.deepEqual(step({ kind: "delete", key: "k" }), { kind: "delete", existed: true });
    // The version survives a delete: it counts mutations and never goes back.
    assert.deepEqual(step({ kind: "get", key: "k" }), { kind: "get", value: null, version: 4 });
    assert.deepEqual(step({ kind: "put", key: "k", value: "d" }), { kind: "put", version: 5 });
  });

  it("is pure: the input state is never mutated", () => {
    const before = { value: "a", version: 3 };
    applyKvModel(before, { kind: "put", key: "k", value: "b" });
    applyKvModel(before, { kind: "delete", key: "k" });
    applyKvModel(before, { kind: "cas", key: "k", from: "a", to: "z" });
    assert.deepEqual(before, { value: "a", version: 3 });
  });
});

// ---- hand-written histories -------------------------------------------------------------------

describe("checkLinearizable: violations", () => {
  it("rejects a stale read after a completed write", () => {
    const verdict = checkLinearizable(history([0, 0, 10, put("x", "1", 1)], [1, 20, 30, get("x", null, 0)]));
    const illegal = assertIllegal(verdict, "x");
    // The put cannot go first (the get still needs version 0), and the get cannot either.
    assert.equal(illegal.stuck.id, 0);
    assert.deepEqual(
      illegal.ops.map((op) => op.id),
      [0, 1],
    );
    assert.match(illegal.message, /past version 0, which #1 client 1 get\("x"\)/);
  });

  it("rejects a read of an older value after a newer write completed", () => {
    const verdict = checkLinearizable(
      history([0, 0, 10, put("x", "1", 1)], [0, 20, 30, put("x", "2", 2)], [1, 40, 50, get("x", "1", 1)]),
    );
    assertIllegal(verdict, "x");
  });

  it("rejects a lost write: a later read still sees the version before an acknowledged put", () => {
    const verdict = checkLinearizable(
      history(
        [0, 0, 10, put("x", "a", 1)],
        [1, 5, 15, put("x", "b", 2)], // acknowledged ...
        [2, 20, 30, get("x", "a", 1)], // ... but lost
      ),
    );
    assertIllegal(verdict, "x");
  });

  it("rejects a lost write: two concurrent puts both acknowledged with the same version", () => {
    const verdict = checkLinearizable(history([0, 0, 10, put("x", "a", 1)], [1, 0, 10, put("x", "b", 1)]));
    assertIllegal(verdict, "x");
  });

  it("rejects a write reported with a version the key never reached", () => {
    assertIllegal(checkLinearizable(history([0, 0, 10, put("x", "a", 2)])), "x");
  });

  it("rejects a cas that succeeded against the wrong value", () => {
    const verdict = checkLinearizable(
      history([0, 0, 10, put("x", "1", 1)], [1, 20, 30, cas("x", "2", "3", true, 2)]),
    );
    assertIllegal(verdict, "x");
    // The same cas failing is fine.
    assertOk(
      checkLinearizable(history([0, 0, 10, put("x", "1", 1)], [1, 20, 30, cas("x", "2", "3", false, 1)])),
    );
  });

  it("rejects a cas 'must be absent' that succeeded on a present key", () => {
    const verdict = checkLinearizable(
      history([0, 0, 10, put("x", "1", 1)], [1, 20, 30, cas("x", null, "3", true, 2)]),
    );
    assertIllegal(verdict, "x");
  });

  it("rejects a delete that reports the key absent after a completed put", () => {
    assertIllegal(
      checkLinearizable(history([0, 0, 10, put("x", "1", 1)], [1, 20, 30, del("x", false)])),
      "x",
    );
  });

  it("rejects a result of the wrong kind", () => {
    const entries: HistoryEntry[] = [
      {
        id: 0,
        client: 0,
        op: { kind: "get", key: "x" },
        invokeMs: 0,
        returnMs: 1,
        result: { kind: "put", version: 0 },
      },
    ];
    assertIllegal(checkLinearizable(entries), "x");
  });

  it("checks keys independently and names the key that fails", () => {
    const verdict = checkLinearizable(
      history(
        [0, 0, 10, put("a", "1", 1)],
        [1, 0, 10, put("b", "1", 1)],
        [2, 0, 10, put("c", "1", 1)],
        [0, 20, 30, get("a", "1", 1)],
        [1, 20, 30, get("b", "1", 1)],
        [2, 20, 30, get("c", "2", 1)],
      ),
    );
    assertIllegal(verdict, "c");
  });

  it("explains with the longest linearization found and the op that could not be placed", () => {
    const verdict = checkLinearizable(
      history(
        [0, 0, 10, put("x", "1", 1)],
        [0, 20, 30, get("x", "1", 1)],
        [0, 40, 50, put("x", "2", 2)],
        [1, 60, 70, get("x", "3", 2)],
      ),
    );
    const illegal = assertIllegal(verdict, "x");
    assert.deepEqual(
      illegal.ops.map((op) => op.id),
      [0, 1, 2, 3],
    );
    assert.equal(illegal.stuck.id, 3);
    assert.match(illegal.message, /places 3 op\(s\)/);
    assert.match(illegal.message, /state \{value "2", version 2\}/);
    assert.match(illegal.message, /then #3 .* the model would return \{value "2", version 2\}/);
  });

  it("explains a write that would leave behind a read still needing the current version", () => {
    const verdict = checkLinearizable(
      history(
        [0, 0, 10, put("x", "1", 1)],
        [0, 20, 30, get("x", "1", 1)],
        [0, 40, 50, put("x", "2", 2)],
        [1, 60, 70, get("x", "1", 1)],
      ),
    );
    const illegal = assertIllegal(verdict, "x");
    assert.equal(illegal.stuck.id, 2);
    assert.deepEqual(
      illegal.ops.map((op) => op.id),
      [0, 1, 2, 3],
    );
    assert.match(illegal.message, /places 2 op\(s\)/);
    assert.match(illegal.message, /past version 1, which #3 /);
  });
});

describe("checkLinearizable: valid histories", () => {
  it("accepts the empty history", () => {
    assert.deepEqual(checkLinearizable([]), { ok: true, keys: 0, operations: 0 });
  });

  it("accepts a sequential history and counts keys and operations", () => {
    const verdict = checkLinearizable(
      history(
        [0, 0, 1, put("x", "1", 1)],
        [0, 2, 3, get("x", "1", 1)],
        [0, 4, 5, del("x", true)],
        [0, 6, 7, get("x", null, 2)],
        [0, 8, 9, cas("y", null, "a", true, 1)],
      ),
    );
    assert.deepEqual(verdict, { ok: true, keys: 2, operations: 5 });
  });

  for (const [name, getInvoke, putInvoke] of [
    ["get invoked first", 0, 5],
    ["put invoked first", 5, 0],
  ] as const) {
    it(`accepts a get overlapping a put that returns the old or the new value (${name})`, () => {
      const before: [number, number, number, Call] = [0, -20, -10, put("x", "0", 1)];
      const old = checkLinearizable(
        history(before, [1, getInvoke, 20, get("x", "0", 1)], [2, putInvoke, 20, put("x", "1", 2)]),
      );
      const fresh = checkLinearizable(
        history(before, [1, getInvoke, 20, get("x", "1", 2)], [2, putInvoke, 20, put("x", "1", 2)]),
      );
      assertOk(old);
      assertOk(fresh);
    });
  }

  it("treats intervals as closed: an op returning at t is concurrent with one invoked at t", () => {
    // The get is invoked exactly when the put returns, so it may be ordered first.
    assertOk(checkLinearizable(history([0, 0, 10, put("x", "1", 1)], [1, 10, 20, get("x", null, 0)])));
    // One millisecond later it may not.
    assertIllegal(
      checkLinearizable(history([0, 0, 10, put("x", "1", 1)], [1, 11, 20, get("x", null, 0)])),
      "x",
    );
  });

  it("orders concurrent puts as the versions they returned require", () => {
    const verdict = checkLinearizable(
      history(
        [0, 0, 100, put("x", "a", 2)],
        [1, 0, 100, put("x", "b", 1)],
        [2, 10, 20, get("x", "b", 1)],
        [2, 30, 40, get("x", "a", 2)],
      ),
    );
    assertOk(verdict);
  });
});

describe("checkLinearizable: operations that never returned", () => {
  it("accepts a pending put whose value is read later", () => {
    const verdict = checkLinearizable(history([0, 0, null, put("x", "1", 1)], [1, 50, 60, get("x", "1", 1)]));
    assertOk(verdict);
  });

  it("accepts a pending put whose value is never read", () => {
    const verdict = checkLinearizable(
      history([0, 0, null, put("x", "1", 1)], [1, 50, 60, get("x", null, 0)], [1, 70, 80, get("x", null, 0)]),
    );
    assertOk(verdict);
  });

  it("accepts a pending put that takes effect between two reads, long after its invocation", () => {
    const verdict = checkLinearizable(
      history(
        [0, 0, null, put("x", "1", 1)],
        [1, 50, 60, get("x", null, 0)],
        [1, 1000, 1010, get("x", "1", 1)],
      ),
    );
    assertOk(verdict);
  });

  it("rejects a pending put read back before it was invoked", () => {
    const verdict = checkLinearizable(history([1, 0, 10, get("x", "1", 1)], [0, 20, null, put("x", "1", 1)]));
    assertIllegal(verdict, "x");
  });

  it("rejects a read of a value nobody wrote", () => {
    const verdict = checkLinearizable(
      history([0, 0, null, put("x", "1", 1)], [1, 0, null, put("x", "2", 1)], [2, 50, 60, get("x", "3", 1)]),
    );
    assertIllegal(verdict, "x");
  });

  it("orders several pending writes as the reads require (with backtracking)", () => {
    const ok = checkLinearizable(
      history(
        [0, 0, null, put("x", "a", 1)],
        [1, 0, null, put("x", "b", 1)],
        [2, 10, 20, get("x", "b", 1)],
        [2, 30, 40, get("x", "a", 2)],
      ),
    );
    assertOk(ok);
    const illegal = checkLinearizable(
      history(
        [0, 0, null, put("x", "a", 1)],
        [1, 0, null, put("x", "b", 1)],
        [2, 10, 20, get("x", "b", 1)],
        [2, 30, 40, get("x", "a", 1)],
      ),
    );
    assertIllegal(illegal, "x");
  });

  it("lets a pending delete take effect later even though it would be a no-op first", () => {
    const verdict = checkLinearizable(
      history([1, 0, null, del("x", true)], [0, 0, 1, put("x", "1", 1)], [2, 5, 6, get("x", null, 2)]),
    );
    assertOk(verdict);
  });

  it("ignores a get that never returned", () => {
    const entries: HistoryEntry[] = [{ id: 0, client: 0, op: { kind: "get", key: "x" }, invokeMs: 0 }];
    assert.deepEqual(checkLinearizable(entries), { ok: true, keys: 1, operations: 1 });
  });
});

describe("checkLinearizable: bounds and input", () => {
  it("answers unknown, not a verdict, when the step budget runs out", () => {
    const entries = history([0, 0, 10, put("x", "1", 1)], [1, 20, 30, get("x", "1", 1)]);
    const verdict = checkLinearizable(entries, { stepsMax: 1 });
    assert.equal(verdict.ok, "unknown");
    assert.ok(verdict.ok === "unknown" && verdict.key === "x" && /stepsMax/.test(verdict.message));
    assertOk(checkLinearizable(entries, { stepsMax: 2 }));
  });

  it("rejects malformed histories with BAD_ARGUMENT", () => {
    const good: HistoryEntry = {
      id: 0,
      client: 0,
      op: { kind: "put", key: "x", value: "1" },
      invokeMs: 5,
      returnMs: 10,
      result: { kind: "put", version: 1 },
    };
    const bad: HistoryEntry[][] = [
      [good, { ...good }],
      [{ ...good, result: undefined }],
      [{ ...good, returnMs: undefined }],
      [{ ...good, returnMs: 4 }],
      [{ ...good, invokeMs: Number.NaN }],
    ];
    for (const entries of bad) {
      assert.throws(
        () => checkLinearizable(entries),
        (e) => isPhalanxError(e, "BAD_ARGUMENT"),
      );
    }
    assert.throws(
      () => checkLinearizable([good], { stepsMax: -1 }),
      (e) => isPhalanxError(e, "BAD_ARGUMENT"),
    );
  });
});

describe("HistoryRecorder", () => {
  it("records invocations, completions and failures", () => {
    const recorder = new HistoryRecorder();
    const a = recorder.invoke(0, { kind: "put", key: "x", value: "1" }, 0);
    const b = recorder.invoke(1, { kind: "put", key: "x", value: "2" }, 1);
    const c = recorder.invoke(2, { kind: "get", key: "x" }, 2);
    recorder.complete(a, { kind: "put", version: 1 }, 5);
    recorder.fail(b);
    assert.deepEqual(recorder.entries(), [
      {
        id: a,
        client: 0,
        op: { kind: "put", key: "x", value: "1" },
        invokeMs: 0,
        returnMs: 5,
        result: { kind: "put", version: 1 },
      },
      { id: c, client: 2, op: { kind: "get", key: "x" }, invokeMs: 2 },
    ]);
    assertOk(checkLinearizable(recorder.entries()));
    assert.throws(() => recorder.complete(a, { kind: "put", version: 1 }, 6), AssertionError);
    assert.throws(() => recorder.complete(b, { kind: "put", version: 1 }, 6), AssertionError);
    assert.throws(() => recorder.complete(c, { kind: "get", value: null, version: 0 }, 1), AssertionError);
    assert.throws(() => recorder.complete(c, { kind: "put", version: 0 }, 9), AssertionError);
  });

  it("entries() returns copies", () => {
    const recorder = new HistoryRecorder();
    const id = recorder.invoke(0, { kind: "get", key: "x" }, 0);
    const [entry] = recorder.entries();
    assert.ok(entry !== undefined);
    entry.returnMs = 3;
    recorder.complete(id, { kind: "get", value: null, version: 0 }, 1);
    assert.equal(recorder.entries()[0]?.returnMs, 1);
  });
});

// ---- generated histories ----------------------------------------------------------------------

interface OpSpec {
  kind: KvOp["kind"];
  key: string;
  value: string;
  from: string | null;
  gapMs: number;
  beforeMs: number;
  afterMs: number;
  /** 0: never returns and never takes effect; 1: never returns but takes effect; else returns. */
  fate: number;
}

function toOp(spec: OpSpec): KvOp {
  switch (spec.kind) {
    case "get":
      return { kind: "get", key: spec.key };
    case "put":
      return { kind: "put", key: spec.key, value: spec.value };
    case "delete":
      return { kind: "delete", key: spec.key };
    case "cas":
      return { kind: "cas", key: spec.key, from: spec.from, to: spec.value };
  }
}

/**
 * Runs clients against an atomic store: each op takes effect at one instant inside its
 * [invoke, return] interval (or, if it never returns, at some instant after its invocation or
 * never). The resulting history is linearizable by construction.
 */
function simulate(clients: readonly (readonly OpSpec[])[]): HistoryEntry[] {
  const entries: HistoryEntry[] = [];
  const effects: { atMs: number; entry: HistoryEntry }[] = [];
  clients.forEach((script, client) => {
    let nowMs = 0;
    for (const spec of script) {
      const invokeMs = nowMs + spec.gapMs;
      const atMs = invokeMs + spec.beforeMs;
      const returnMs = atMs + spec.afterMs;
      const entry: HistoryEntry = { id: entries.length, client, op: toOp(spec), invokeMs };
      entries.push(entry);
      if (spec.fate !== 0) effects.push({ atMs, entry });
      if (spec.fate >= 2) entry.returnMs = returnMs;
      nowMs = returnMs; // a client that gave up on a request moves on
    }
  });
  effects.sort((a, b) => a.atMs - b.atMs || a.entry.id - b.entry.id);
  const states = new Map<string, KvState>();
  for (const { entry } of effects) {
    const applied = applyKvModel(states.get(entry.op.key) ?? kvInitialState, entry.op);
    states.set(entry.op.key, applied.state);
    if (entry.returnMs !== undefined) entry.result = applied.result;
  }
  return entries;
}

const values = ["1", "2", "3", "4"];
const opSpec: fc.Arbitrary<OpSpec> = fc.record({
  kind: fc.constantFrom<KvOp["kind"][]>("get", "get", "put", "delete", "cas"),
  key: fc.constantFrom("a", "b", "c"),
  value: fc.constantFrom(...values),
  from: fc.constantFrom(null, ...values),
  gapMs: fc.nat(4),
  beforeMs: fc.nat(6),
  afterMs: fc.nat(6),
  fate: fc.nat(12),
});
const clientsArb = fc.array(fc.array(opSpec, { maxLength: 10 }), { minLength: 1, maxLength: 6 });

describe("checkLinearizable: generated histories", () => {
  it("accepts every history produced by an atomic store", () => {
    fc.assert(
      fc.property(clientsArb, (clients) => {
        assertOk(checkLinearizable(simulate(clients)));
      }),
      { numRuns: 1000 },
    );
  });

  it("rejects the same history once one read returns a value nobody wrote", () => {
    fc.assert(
      fc.property(clientsArb, fc.nat(), (clients, pick) => {
        const entries = simulate(clients);
        const reads = entries.filter((e) => e.result?.kind === "get");
        fc.pre(reads.length > 0);
        const read = reads[pick % reads.length]!;
        assert.ok(read.result?.kind === "get");
        read.result = { ...read.result, value: "never-written" };
        assertIllegal(checkLinearizable(entries), read.op.key);
      }),
      { numRuns: 1000 },
    );
  });

  it("rejects the same history once one put reports a version its key never reached", () => {
    fc.assert(
      fc.property(clientsArb, fc.nat(), (clients, pick) => {
        const entries = simulate(clients);
        const puts = entries.filter((e) => e.result?.kind === "put");
        fc.pre(puts.length > 0);
        const target = puts[pick % puts.length]!;
        // A key's version never exceeds the number of mutating ops on it.
        const writes = entries.filter((e) => e.op.key === target.op.key && e.op.kind !== "get").length;
        target.result = { kind: "put", version: writes + 1 };
        assertIllegal(checkLinearizable(entries), target.op.key);
      }),
      { numRuns: 1000 },
    );
  });
});

/** Tries every order that respects real time; ops that never returned may be left out. */
function bruteForceLinearizable(entries: readonly HistoryEntry[]): boolean {
  const placed = new Set<HistoryEntry>();
  const search = (states: ReadonlyMap<string, KvState>): boolean => {
    const completedLeft = entries.filter((e) => e.result !== undefined && !placed.has(e));
    if (completedLeft.length === 0) return true;
    for (const entry of entries) {
      if (placed.has(entry)) continue;
      // Every op that returned before this one was invoked must already be placed.
      if (completedLeft.some((other) => other.returnMs! < entry.invokeMs)) continue;
      const applied = applyKvModel(states.get(entry.op.key) ?? kvInitialState, entry.op);
      if (entry.result !== undefined && JSON.stringify(applied.result) !== JSON.stringify(entry.result))
        continue;
      placed.add(entry);
      const found = search(new Map(states).set(entry.op.key, applied.state));
      placed.delete(entry);
      if (found) return true;
    }
    return false;
  };
  return search(new Map());
}

interface ResultMutation {
  pick: number;
  value: string | null;
  version: number;
  flag: boolean;
}
const resultMutation: fc.Arbitrary<ResultMutation> = fc.record({
  pick: fc.nat(),
  value: fc.constantFrom(null, ...values),
  version: fc.nat(4),
  flag: fc.boolean(),
});

function mutateResult(entries: HistoryEntry[], mutation: ResultMutation): void {
  const completed = entries.filter((e) => e.result !== undefined);
  const target = completed[mutation.pick % Math.max(1, completed.length)];
  if (target?.result === undefined) return;
  const { value, version, flag } = mutation;
  switch (target.result.kind) {
    case "get":
      target.result = flag ? { kind: "get", value, version } : { ...target.result, version };
      break;
    case "put":
      target.result = { kind: "put", version };
      break;
    case "delete":
      target.result = { kind: "delete", existed: flag };
      break;
    case "cas":
      target.result = { kind: "cas", ok: flag, version };
      break;
  }
}

describe("checkLinearizable: agrees with a brute-force search on small histories", () => {
  const smallOpSpec = opSpec.map((spec) => ({ ...spec, key: spec.key === "c" ? "a" : spec.key }));
  const small = fc.array(fc.array(smallOpSpec, { maxLength: 3 }), { minLength: 1, maxLength: 3 });
  it("on histories from an atomic store with up to two results changed at random", () => {
    const outcomes = { linearizable: 0, not: 0 };
    fc.assert(
      fc.property(small, fc.array(resultMutation, { maxLength: 2 }), (clients, mutations) => {
        const entries = simulate(clients);
        for (const mutation of mutations) mutateResult(entries, mutation);
        const expected = bruteForceLinearizable(entries);
        const verdict = checkLinearizable(entries);
        assert.equal(verdict.ok, expected, JSON.stringify(verdict));
        outcomes[expected ? "linearizable" : "not"]++;
      }),
      { numRuns: 1500 },
    );
    // Both answers must come up often, or the comparison proves little.
    assert.ok(outcomes.linearizable > 200 && outcomes.not > 200, JSON.stringify(outcomes));
  });
});

// ---- size ----------------------------------------------------------------------------------

/** mulberry32: a small seeded PRNG, so the large history is the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomClients(seed: number, clients: number, ops: number, keys: number): OpSpec[][] {
  const random = prng(seed);
  const int = (n: number): number => Math.floor(random() * n);
  const kinds: KvOp["kind"][] = ["get", "get", "get", "put", "put", "delete", "cas"];
  return Array.from({ length: clients }, (_, client) =>
    Array.from({ length: Math.floor(ops / clients) + (client < ops % clients ? 1 : 0) }, () => ({
      kind: kinds[int(kinds.length)]!,
      key: `k${int(keys)}`,
      value: values[int(values.length)]!,
      from: int(5) === 0 ? null : values[int(values.length)]!,
      gapMs: int(3),
      beforeMs: int(10),
      afterMs: int(10),
      fate: int(100) === 0 ? int(2) : 2,
    })),
  );
}

describe("checkLinearizable: size", () => {
  it("checks a 5,000-op history over 50 keys with 16 concurrent clients", () => {
    const entries = simulate(randomClients(7, 16, 5000, 50));
    assert.equal(entries.length, 5000);
    const verdict = checkLinearizable(entries);
    assert.deepEqual(verdict, { ok: true, keys: 50, operations: 5000 });
  });
});
