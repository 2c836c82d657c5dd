/**
 * Linearizability checker for the key-value store's client-visible history.
 *
 * Algorithm: Wing & Gong's tree search (Wing & Gong 1993) with Lowe's memoization of
 * configurations (Lowe 2017, "Testing for linearizability"), ported closely from Porcupine's
 * `checkSingle` (anishathalye/porcupine, checker.go); see testing-anchors.md section 2.2.
 * Call and return events sit in one doubly linked list in time order. The search walks it from
 * the head: at a call it tries to linearize that op next (the model must produce the recorded
 * result), lifts the op out of the list and restarts; reaching a return means an op that has
 * already returned cannot be placed, so it backtracks. A cache of (set of linearized ops, model
 * state) prunes orderings that reach a configuration already explored.
 *
 * Two refinements, both sound for this model and both checked against a brute-force search in
 * the tests, keep highly concurrent keys tractable: (1) a completed op whose result makes it a
 * no-op (a get, a failed cas, a delete that found nothing) is placed as soon as it is legal,
 * with no alternatives tried (`isReadOnly` says why that loses nothing); (2) since versions only
 * grow, an op that would move the key past a version some unplaced completed op still needs is
 * refused at once (`strandsAnOp`). Results of delete carry no version, so many concurrent
 * deletes together with ops that never returned on one hot key can still exhaust the budget.
 *
 * P-compositionality (Horn & Kroening 2015, generalising Herlihy & Wing's locality): a KV
 * history is linearizable iff each key's sub-history is, so keys are checked one by one with a
 * one-register model, which keeps the search small.
 *
 * Time: `[invokeMs, returnMs]` is a closed interval, as in Porcupine, so an op returning at t is
 * concurrent with one invoked at t (at equal times calls sort before returns).
 *
 * Ops that never returned (no `returnMs`/`result`: a crashed client, a timeout) are treated as
 * Porcupine and Knossos treat indefinite outcomes: they return at +infinity with any result, so
 * they may take effect at any point after their invocation, or never. Because the per-key model
 * accepts every op in every state, "never" is the same as "after everything else", so the search
 * succeeds as soon as every completed op is linearized. A pending get changes nothing and is
 * dropped up front.
 *
 * The sequential model, per key (`applyKvModel`; the KV state machine follows the same rules):
 * - state is `{value, version}`, initially `{null, 0}`; `version` counts the successful
 *   mutations of the key and never goes back, not even when the key is deleted;
 * - get returns the current value and version (version 0 only for a key never written);
 * - put sets the value and increments the version, and returns the new version;
 * - delete of a present key sets the value to null and increments the version, returning
 *   `existed: true`; delete of an absent key changes nothing and returns `existed: false`;
 * - cas succeeds iff the current value equals `from` (`null` means "absent"): it sets the value
 *   to `to`, increments the version and returns `ok: true` with the new version; otherwise it
 *   changes nothing and returns `ok: false` with the current version.
 * Results must match exactly, version included.
 */
import { assert, assertNever } from "../../core/assert.ts";
import { PhalanxError } from "../../core/errors.ts";

export type KvOp =
  | { kind: "get"; key: string }
  | { kind: "put"; key: string; value: string }
  | { kind: "delete"; key: string }
  /** `from: null` means "the key must be absent". */
  | { kind: "cas"; key: string; from: string | null; to: string };

export type KvResult =
  /** `version` is 0 for a key never written. */
  | { kind: "get"; value: string | null; version: number }
  | { kind: "put"; version: number }
  | { kind: "delete"; existed: boolean }
  /** The version after a success, the current version after a failure. */
  | { kind: "cas"; ok: boolean; version: number };

/**
 * One client request. No `returnMs`/`result` means it never returned: it may or may not have
 * taken effect. A request known not to have taken effect should not be recorded at all.
 */
export interface HistoryEntry {
  id: number;
  client: number;
  op: KvOp;
  invokeMs: number;
  returnMs?: number;
  result?: KvResult;
}

/** The state of one key in the sequential model. */
export interface KvState {
  readonly value: string | null;
  readonly version: number;
}

export const kvInitialState: KvState = Object.freeze({ value: null, version: 0 });

export type LinearizabilityVerdict =
  | { ok: true; keys: number; operations: number }
  | {
      ok: false;
      key: string;
      message: string;
      /**
       * The longest linearization the search found for `key`, in order; then `stuck`, the
       * completed op that could not be placed after it; then, if `stuck` would have returned its
       * recorded result there, the completed ops that need the key's current version and that
       * placing `stuck` would have left behind for ever.
       */
      ops: HistoryEntry[];
      stuck: HistoryEntry;
    }
  | { ok: "unknown"; key: string; message: string };

/**
 * Search steps (ops tried at some point of a linearization) one `checkLinearizable` call may
 * take over all keys before it answers "unknown": about a second of work.
 * These bounds belong in core/limits.ts; they are here while that file is edited by others.
 */
export const linearizabilityStepsMax = 5_000_000;

/** 32-bit words the memoization cache of one key may hold (128 MiB) before "unknown". */
export const linearizabilityCacheWordsMax = 32 * 1024 * 1024;

/** Entries one `HistoryRecorder` holds. */
export const historyEntriesMax = 10_000_000;

/** The sequential model of one key. Pure: never mutates `state`. */
export function applyKvModel(state: KvState, op: KvOp): { state: KvState; result: KvResult } {
  switch (op.kind) {
    case "get":
      return { state, result: { kind: "get", value: state.value, version: state.version } };
    case "put": {
      const next = { value: op.value, version: state.version + 1 };
      return { state: next, result: { kind: "put", version: next.version } };
    }
    case "delete":
      if (state.value === null) return { state, result: { kind: "delete", existed: false } };
      return {
        state: { value: null, version: state.version + 1 },
        result: { kind: "delete", existed: true },
      };
    case "cas": {
      if (state.value !== op.from)
        return { state, result: { kind: "cas", ok: false, version: state.version } };
      const next = { value: op.to, version: state.version + 1 };
      return { state: next, result: { kind: "cas", ok: true, version: next.version } };
    }
    default:
      return assertNever(op, "KvOp");
  }
}

export function kvResultsEqual(a: KvResult, b: KvResult): boolean {
  switch (a.kind) {
    case "get":
      return b.kind === "get" && a.value === b.value && a.version === b.version;
    case "put":
      return b.kind === "put" && a.version === b.version;
    case "delete":
      return b.kind === "delete" && a.existed === b.existed;
    case "cas":
      return b.kind === "cas" && a.ok === b.ok && a.version === b.version;
    default:
      return assertNever(a, "KvResult");
  }
}

/**
 * Checks that `history` is linearizable with respect to `applyKvModel`, key by key. Keys are
 * checked smallest first; the first key that fails decides the verdict. `stepsMax` bounds the
 * search steps over all keys; when it runs out the verdict is "unknown".
 * Throws PhalanxError BAD_ARGUMENT for a malformed history (duplicate ids, a result without a
 * return time or the reverse, a return before the invocation, non-finite times).
 */
export function checkLinearizable(
  history: readonly HistoryEntry[],
  options: { stepsMax?: number } = {},
): LinearizabilityVerdict {
  const stepsMax = options.stepsMax ?? linearizabilityStepsMax;
  if (!Number.isSafeInteger(stepsMax) || stepsMax < 0) {
    throw new PhalanxError("BAD_ARGUMENT", `stepsMax must be an integer >= 0, got ${stepsMax}`);
  }
  validateHistory(history);

  const byKey = new Map<string, HistoryEntry[]>();
  for (const entry of history) {
    let entries = byKey.get(entry.op.key);
    if (entries === undefined) byKey.set(entry.op.key, (entries = []));
    // A get that never returned observed nothing and changed nothing.
    if (entry.op.kind === "get" && entry.result === undefined) continue;
    entries.push(entry);
  }
  const keys = [...byKey.keys()].sort((a, b) => {
    const bySize = byKey.get(a)!.length - byKey.get(b)!.length;
    return bySize !== 0 ? bySize : a < b ? -1 : a > b ? 1 : 0;
  });

  let stepsLeft = stepsMax;
  for (const key of keys) {
    const outcome = checkKey(byKey.get(key)!, stepsLeft);
    stepsLeft -= outcome.steps;
    switch (outcome.kind) {
      case "ok":
        break;
      case "illegal":
        return illegalVerdict(key, outcome);
      case "unknown":
        return { ok: "unknown", key, message: `key ${JSON.stringify(key)}: ${outcome.reason}` };
      default:
        assertNever(outcome, "key outcome");
    }
  }
  return { ok: true, keys: byKey.size, operations: history.length };
}

function validateHistory(history: readonly HistoryEntry[]): void {
  const ids = new Set<number>();
  for (const entry of history) {
    const what = `history entry ${JSON.stringify(entry.id)}`;
    if (ids.has(entry.id))
      throw new PhalanxError("BAD_ARGUMENT", `${what} appears twice; ids must be unique`);
    ids.add(entry.id);
    const kind: string = entry.op?.kind;
    if (kind !== "get" && kind !== "put" && kind !== "delete" && kind !== "cas") {
      throw new PhalanxError("BAD_ARGUMENT", `${what} has an unknown op kind ${JSON.stringify(kind)}`);
    }
    if (typeof entry.op.key !== "string") {
      throw new PhalanxError("BAD_ARGUMENT", `${what} must name its key as a string`);
    }
    if (!Number.isFinite(entry.invokeMs)) {
      throw new PhalanxError("BAD_ARGUMENT", `${what} needs a finite invokeMs, got ${entry.invokeMs}`);
    }
    if ((entry.returnMs === undefined) !== (entry.result === undefined)) {
      throw new PhalanxError(
        "BAD_ARGUMENT",
        `${what} must have both returnMs and result (it returned) or neither (it never returned)`,
      );
    }
    if (
      entry.returnMs !== undefined &&
      !(Number.isFinite(entry.returnMs) && entry.returnMs >= entry.invokeMs)
    ) {
      throw new PhalanxError(
        "BAD_ARGUMENT",
        `${what} returned at ${entry.returnMs}, which is not a finite time at or after its invokeMs ${entry.invokeMs}`,
      );
    }
  }
}

type KeyOutcome =
  | { kind: "ok"; steps: number }
  | {
      kind: "illegal";
      steps: number;
      linearized: HistoryEntry[];
      stuck: HistoryEntry;
      state: KvState;
      stranded: HistoryEntry[];
    }
  | { kind: "unknown"; steps: number; reason: string };

/** Head of the event list; event nodes are 1..2n. */
const head = 0;
const none = -1;

/** Wing & Gong with Lowe's cache over the ops of one key (Porcupine's checkSingle). */
function checkKey(ops: readonly HistoryEntry[], stepsMax: number): KeyOutcome {
  const n = ops.length;
  let completedLeft = 0;
  for (const op of ops) if (op.result !== undefined) completedLeft++;
  if (completedLeft === 0) return { kind: "ok", steps: 0 };

  // Events in time order: calls before returns at equal times (closed intervals), then by op.
  const events: { timeMs: number; isCall: boolean; op: number }[] = [];
  ops.forEach((op, index) => {
    events.push({ timeMs: op.invokeMs, isCall: true, op: index });
    if (op.returnMs !== undefined) events.push({ timeMs: op.returnMs, isCall: false, op: index });
  });
  events.sort((a, b) => a.timeMs - b.timeMs || Number(b.isCall) - Number(a.isCall) || a.op - b.op);

  const nodes = events.length + 1;
  const next = new Int32Array(nodes);
  const prev = new Int32Array(nodes);
  const nodeOp = new Int32Array(nodes);
  const nodeIsCall = new Uint8Array(nodes);
  const returnNode = new Int32Array(n).fill(none);
  events.forEach((event, index) => {
    const node = index + 1;
    nodeOp[node] = event.op;
    nodeIsCall[node] = event.isCall ? 1 : 0;
    if (!event.isCall) returnNode[event.op] = node;
    prev[node] = node - 1;
    next[node] = node + 1 < nodes ? node + 1 : none;
  });
  next[head] = nodes > 1 ? 1 : none;
  prev[head] = none;

  const lift = (call: number): void => {
    const p = prev[call]!;
    const q = next[call]!;
    next[p] = q;
    if (q !== none) prev[q] = p;
    const ret = returnNode[nodeOp[call]!]!;
    if (ret !== none) {
      const rp = prev[ret]!;
      const rq = next[ret]!;
      next[rp] = rq;
      if (rq !== none) prev[rq] = rp;
    }
  };
  // Exact inverse of lift, valid because lifts are undone in LIFO order (dancing links).
  const unlift = (call: number): void => {
    const ret = returnNode[nodeOp[call]!]!;
    if (ret !== none) {
      next[prev[ret]!] = ret;
      const rq = next[ret]!;
      if (rq !== none) prev[rq] = ret;
    }
    next[prev[call]!] = call;
    const q = next[call]!;
    if (q !== none) prev[q] = call;
  };

  const readOnly = ops.map(isReadOnly);
  // waiting[v]: unlinearized completed ops that can only be placed where the version is v.
  const versionNeeded = ops.map((entry) => neededVersion(entry, n));
  const waiting = new Int32Array(n + 1);
  for (const v of versionNeeded) if (v !== none) waiting[v]!++;
  const cache = new ConfigurationCache(n);
  // The linearized ops: their call nodes, the state before each, and whether each was a
  // read-only op, placed with no alternatives (see below).
  const stackCalls: number[] = [];
  const stackStates: KvState[] = [];
  const stackForced: boolean[] = [];
  let state: KvState = kvInitialState;
  let steps = 0;
  let deepest: { linearized: number[]; stuck: number; state: KvState } | undefined;
  // Each configuration is explored in two passes over the ops that may go next: read-only ones
  // first, then the others.
  let readsPass = true;
  let node = next[head]!;

  /**
   * Versions only grow, so moving the state past version v strands every op still waiting for
   * v. Refusing such moves prunes, at once, orders that would fail only much later: a delete
   * (whose result carries no version) taking the slot of a put, a pending write placed early.
   */
  const strandsAnOp = (opIndex: number, after: KvState): boolean => {
    if (after.version === state.version) return false;
    const others = versionNeeded[opIndex] === state.version ? 1 : 0;
    return (waiting[state.version] ?? 0) > others;
  };

  /**
   * Undoes linearized ops up to and including the newest one that had alternatives, and
   * resumes the writes pass after it. False if none is left: the history is not linearizable.
   */
  const backtrack = (): boolean => {
    for (;;) {
      const call = stackCalls.pop();
      if (call === undefined) return false;
      state = stackStates.pop()!;
      const forced = stackForced.pop()!;
      const undone = nodeOp[call]!;
      cache.unmark(undone);
      unlift(call);
      if (ops[undone]!.result !== undefined) completedLeft++;
      if (versionNeeded[undone] !== none) waiting[versionNeeded[undone]!]!++;
      if (!forced) {
        node = next[call]!;
        readsPass = false;
        return true;
      }
    }
  };

  for (;;) {
    assert(node !== none, "the walk reaches a return before running off the list");
    const opIndex = nodeOp[node]!;
    if (nodeIsCall[node] === 1) {
      if (readOnly[opIndex] !== readsPass) {
        node = next[node]!;
        continue;
      }
      if (steps >= stepsMax) {
        return { kind: "unknown", steps, reason: `search gave up after ${steps} steps (stepsMax)` };
      }
      if (cache.wordsStored > linearizabilityCacheWordsMax) {
        return {
          kind: "unknown",
          steps,
          reason: `search gave up with ${cache.wordsStored} words in its cache (linearizabilityCacheWordsMax)`,
        };
      }
      steps++;
      const entry = ops[opIndex]!;
      const applied = applyKvModel(state, entry.op);
      const legal =
        (entry.result === undefined || kvResultsEqual(applied.result, entry.result)) &&
        !strandsAnOp(opIndex, applied.state);
      if (legal && cache.addIfNew(opIndex, applied.state)) {
        if (versionNeeded[opIndex] !== none) waiting[versionNeeded[opIndex]!]!--;
        stackCalls.push(node);
        stackStates.push(state);
        stackForced.push(readsPass);
        state = applied.state;
        lift(node);
        if (entry.result !== undefined && --completedLeft === 0) return { kind: "ok", steps };
        readsPass = true;
        node = next[head]!;
        continue;
      }
      if (!legal || !readsPass) {
        node = next[node]!;
        continue;
      }
      // A legal read-only op whose following configuration was explored and failed (one on
      // the current path has fewer ops): then this configuration fails too.
      assert(deepest !== undefined, "a configuration failed before any backtrack");
    } else if (readsPass) {
      // No read-only op fits here: try the ops that change the state.
      readsPass = false;
      node = next[head]!;
      continue;
    } else if (deepest === undefined || stackCalls.length > deepest.linearized.length) {
      // A completed op cannot be placed after the current prefix: keep the deepest such prefix
      // for the explanation.
      deepest = { linearized: stackCalls.map((call) => nodeOp[call]!), stuck: opIndex, state };
    }
    if (!backtrack()) {
      assert(deepest !== undefined, "the search failed without meeting a return");
      return {
        kind: "illegal",
        steps,
        linearized: deepest.linearized.map((index) => ops[index]!),
        stuck: ops[deepest.stuck]!,
        state: deepest.state,
        stranded: strandedBy(ops, deepest),
      };
    }
  }
}

/** For the explanation: the ops that placing `stuck` after `linearized` would strand, if any. */
function strandedBy(
  ops: readonly HistoryEntry[],
  deepest: { linearized: number[]; stuck: number; state: KvState },
): HistoryEntry[] {
  const stuck = ops[deepest.stuck]!;
  const applied = applyKvModel(deepest.state, stuck.op);
  if (stuck.result === undefined || !kvResultsEqual(applied.result, stuck.result)) return [];
  if (applied.state.version === deepest.state.version) return [];
  const placed = new Set(deepest.linearized);
  return ops.filter(
    (entry, index) =>
      index !== deepest.stuck &&
      !placed.has(index) &&
      neededVersion(entry, ops.length) === deepest.state.version,
  );
}

/**
 * The version the state must have just before `entry` for its result to match, or `none` if the
 * result pins no version (a delete, an op that never returned) or pins one that a key with
 * `ops` ops never reaches (such an op can never be placed anyway).
 */
function neededVersion(entry: HistoryEntry, ops: number): number {
  const result = entry.result;
  if (result === undefined) return none;
  let version: number;
  switch (result.kind) {
    case "get":
      version = result.version;
      break;
    case "put":
      version = result.version - 1;
      break;
    case "cas":
      version = result.ok ? result.version - 1 : result.version;
      break;
    case "delete":
      return none;
    default:
      return assertNever(result, "KvResult");
  }
  return Number.isInteger(version) && version >= 0 && version <= ops ? version : none;
}

/**
 * A completed op whose result says it changed nothing: a get, a failed cas, a delete that found
 * nothing. Wherever such an op is legal it is a no-op, so if it is legal in some configuration
 * it can be moved there in any linearization that extends it: nothing unlinearized returned
 * before it was invoked (else the walk would have met that return first), and the ops it jumps
 * over see the same states. The search therefore places it with no alternatives, and a
 * configuration whose successor through it failed fails too. This keeps bursts of concurrent
 * reads from going exponential. An op that never returned is never read-only: its result is
 * free, so it may be a no-op now and a write later.
 */
function isReadOnly(entry: HistoryEntry): boolean {
  const result = entry.result;
  if (result === undefined) return false;
  return (
    result.kind === "get" ||
    (result.kind === "cas" && !result.ok) ||
    (result.kind === "delete" && !result.existed)
  );
}

/**
 * Lowe's memo: the configurations (set of linearized ops, model state) already explored.
 * The current set is a bitset with an incremental Zobrist hash; entries compare exactly, so a
 * hash collision costs time, never a wrong verdict.
 */
class ConfigurationCache {
  private readonly bits: Uint32Array;
  private bitsHash = 0;
  private readonly buckets = new Map<number, { bits: Uint32Array; valueId: number; version: number }[]>();
  private readonly valueIds = new Map<string, number>();
  private words = 0;

  constructor(ops: number) {
    this.bits = new Uint32Array(Math.ceil(ops / 32));
  }

  /** Marks `op` linearized; true if that reaches a new configuration (kept marked), else unmarks. */
  addIfNew(op: number, state: KvState): boolean {
    this.toggle(op);
    const valueId = this.valueId(state.value);
    const hash = (this.bitsHash ^ mix32(Math.imul(valueId, 0x27d4eb2f) + state.version)) | 0;
    let bucket = this.buckets.get(hash);
    if (bucket === undefined) this.buckets.set(hash, (bucket = []));
    for (const seen of bucket) {
      if (seen.valueId === valueId && seen.version === state.version && wordsEqual(seen.bits, this.bits)) {
        this.toggle(op);
        return false;
      }
    }
    bucket.push({ bits: this.bits.slice(), valueId, version: state.version });
    this.words += this.bits.length + 4;
    return true;
  }

  /** Rough memory held, in 32-bit words. */
  get wordsStored(): number {
    return this.words;
  }

  unmark(op: number): void {
    this.toggle(op);
  }

  private toggle(op: number): void {
    const word = op >>> 5;
    this.bits[word] = this.bits[word]! ^ (1 << (op & 31));
    this.bitsHash ^= mix32(op + 0x9e3779b9);
  }

  private valueId(value: string | null): number {
    if (value === null) return 0;
    let id = this.valueIds.get(value);
    if (id === undefined) this.valueIds.set(value, (id = this.valueIds.size + 1));
    return id;
  }
}

/** murmur3's 32-bit finalizer. */
function mix32(x: number): number {
  let h = x | 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

function wordsEqual(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const messageOpsMax = 8;

function illegalVerdict(
  key: string,
  outcome: Extract<KeyOutcome, { kind: "illegal" }>,
): LinearizabilityVerdict {
  const { linearized, stuck, state, stranded } = outcome;
  const shown = linearized.slice(-messageOpsMax).map(describeEntry);
  const elided = linearized.length - shown.length;
  const prefix =
    linearized.length === 0
      ? "no op can be linearized first"
      : `the longest linearization found places ${linearized.length} op(s) (${elided > 0 ? "... " : ""}` +
        `${shown.join("; ")}) and reaches ${describeState(state)}`;
  const wouldReturn = applyKvModel(state, stuck.op).result;
  const why =
    stranded.length > 0
      ? `there it would return its recorded result, but would move the key past version ${state.version}, ` +
        `which ${stranded.slice(0, messageOpsMax).map(describeEntry).join("; ")} still need(s)`
      : `there the model would return ${describeResult(wouldReturn)}`;
  const message =
    `key ${JSON.stringify(key)} is not linearizable: ${prefix}; then ${describeEntry(stuck)} cannot be placed ` +
    `(${why}), and no other order of the ops invoked before it returned gets further`;
  return { ok: false, key, message, ops: [...linearized, stuck, ...stranded], stuck };
}

/** One line for a history entry, e.g. `#7 client 2 get("x") -> {value "1", version 1} [30..40ms]`. */
export function describeEntry(entry: HistoryEntry): string {
  const op = entry.op;
  const key = JSON.stringify(op.key);
  let call: string;
  switch (op.kind) {
    case "get":
      call = `get(${key})`;
      break;
    case "put":
      call = `put(${key}, ${JSON.stringify(op.value)})`;
      break;
    case "delete":
      call = `delete(${key})`;
      break;
    case "cas":
      call = `cas(${key}, ${JSON.stringify(op.from)} -> ${JSON.stringify(op.to)})`;
      break;
    default:
      call = assertNever(op, "KvOp");
  }
  const outcome = entry.result === undefined ? "never returned" : describeResult(entry.result);
  const interval = `[${entry.invokeMs}..${entry.returnMs ?? "∞"}ms]`;
  return `#${entry.id} client ${entry.client} ${call} -> ${outcome} ${interval}`;
}

function describeResult(result: KvResult): string {
  switch (result.kind) {
    case "get":
      return `{value ${JSON.stringify(result.value)}, version ${result.version}}`;
    case "put":
      return `{version ${result.version}}`;
    case "delete":
      return `{existed ${result.existed}}`;
    case "cas":
      return `{ok ${result.ok}, version ${result.version}}`;
    default:
      return assertNever(result, "KvResult");
  }
}

function describeState(state: KvState): string {
  return `state {value ${JSON.stringify(state.value)}, version ${state.version}}`;
}

/**
 * Records a client-visible history in a simulation: `invoke` when a client sends a request,
 * `complete` when it accepts a reply, `fail` when it learns the request certainly did not take
 * effect. A request that is neither completed nor failed stays pending (may or may not have
 * taken effect). Misuse is a bug in the harness and fails an assertion.
 */
export class HistoryRecorder {
  private readonly recorded: (HistoryEntry | undefined)[] = [];

  invoke(client: number, op: KvOp, nowMs: number): number {
    if (this.recorded.length >= historyEntriesMax) {
      throw new PhalanxError("LIMIT_EXCEEDED", `a history holds at most ${historyEntriesMax} entries`);
    }
    assert(Number.isFinite(nowMs), "invoke time must be finite");
    const id = this.recorded.length;
    this.recorded.push({ id, client, op, invokeMs: nowMs });
    return id;
  }

  complete(id: number, result: KvResult, nowMs: number): void {
    const entry = this.pending(id);
    assert(
      result.kind === entry.op.kind,
      `op ${id} is a ${entry.op.kind} but completed with a ${result.kind}`,
    );
    assert(Number.isFinite(nowMs) && nowMs >= entry.invokeMs, `op ${id} cannot return before it was invoked`);
    entry.returnMs = nowMs;
    entry.result = result;
  }

  /** The request certainly did not take effect (e.g. rejected before ordering): forget it. */
  fail(id: number): void {
    this.pending(id);
    this.recorded[id] = undefined;
  }

  /** Copies of the recorded entries, in invocation order. */
  entries(): HistoryEntry[] {
    const out: HistoryEntry[] = [];
    for (const entry of this.recorded) if (entry !== undefined) out.push({ ...entry });
    return out;
  }

  private pending(id: number): HistoryEntry {
    const entry = this.recorded[id];
    assert(entry !== undefined, `op ${id} was never invoked or has failed`);
    assert(entry.result === undefined, `op ${id} has already completed`);
    return entry;
  }
}
