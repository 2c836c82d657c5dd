/**
 * The register's oracle: regularity of the client-visible history, stated for several writers
 * (Lamport, "On interprocess communication", 1986, extended as in register.ts). Every read must
 * return either the initial value, when no write completed before the read began, or the value
 * of a write W such that
 * - W began before the read ended (no value from the future, and no value nobody wrote: written
 *   values are unique, so a forged value matches no write), and
 * - no write W' completed before the read began while having begun after W completed (W was not
 *   superseded before the read started).
 * Every operation must also complete: a read that gave up or never returned is a violation.
 * Time is the simulator's virtual time at the client's invoke and return outputs.
 */
import type { RegisterOutput } from "./register.ts";

export interface RegisterOp {
  client: number;
  op: number;
  action: "read" | "write";
  /** The value written, or the value read (null: the initial value). */
  value: string | null;
  invokeMs: number;
  /** Absent: the operation never returned. */
  returnMs?: number;
  failed?: boolean;
}

export interface RegisterViolation {
  kind: "unwritten" | "future" | "stale" | "incomplete";
  message: string;
}

/** Pairs invoke and return outputs into operations, in invocation order. */
export function historyOf(outputs: ReadonlyArray<{ t: number; record: unknown }>): RegisterOp[] {
  const ops = new Map<string, RegisterOp>();
  for (const o of outputs) {
    const r = o.record as RegisterOutput;
    const key = `${r.client}/${r.op}`;
    if (r.kind === "invoke") {
      ops.set(key, {
        client: r.client,
        op: r.op,
        action: r.action,
        value: r.action === "write" ? r.value : null,
        invokeMs: o.t,
      });
      continue;
    }
    const op = ops.get(key);
    if (op === undefined) continue;
    if (r.kind === "failed") op.failed = true;
    else {
      op.returnMs = o.t;
      op.value = r.value;
    }
  }
  return [...ops.values()];
}

export function checkRegular(history: readonly RegisterOp[]): RegisterViolation[] {
  const violations: RegisterViolation[] = [];
  const writes = history.filter((o) => o.action === "write");
  const completed = writes.filter((w) => w.returnMs !== undefined);
  const byValue = new Map(writes.map((w) => [w.value, w]));
  const name = (o: RegisterOp) => `client ${o.client} op ${o.op}`;
  for (const o of history) {
    if (o.returnMs === undefined) {
      violations.push({
        kind: "incomplete",
        message: `${name(o)} (${o.action}) ${o.failed ? "gave up" : "never returned"}`,
      });
    }
  }
  for (const r of history) {
    if (r.action !== "read" || r.returnMs === undefined) continue;
    const invoked = r.invokeMs;
    if (r.value === null) {
      const newer = completed.find((w) => (w.returnMs as number) < invoked);
      if (newer !== undefined) {
        violations.push({
          kind: "stale",
          message: `${name(r)} read the initial value after write ${newer.value} completed`,
        });
      }
      continue;
    }
    const w = byValue.get(r.value);
    if (w === undefined) {
      violations.push({ kind: "unwritten", message: `${name(r)} read ${r.value}, which no client wrote` });
      continue;
    }
    if (w.invokeMs > r.returnMs) {
      violations.push({ kind: "future", message: `${name(r)} read ${r.value} before it was written` });
      continue;
    }
    if (w.returnMs === undefined) continue;
    const wEnd = w.returnMs;
    const newer = completed.find((x) => x.invokeMs > wEnd && (x.returnMs as number) < invoked);
    if (newer !== undefined) {
      violations.push({
        kind: "stale",
        message: `${name(r)} read ${r.value} although ${newer.value}, written after it, completed before the read began`,
      });
    }
  }
  return violations;
}
