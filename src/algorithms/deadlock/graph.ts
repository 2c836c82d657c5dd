/**
 * Wait-for graphs (seed 002, "Who cares?": "a deadlock occurs if there is a circular wait").
 * Node p waits for node q when p's transaction waits for a resource that q's transaction holds;
 * a cycle of such edges is a deadlock: nobody on it releases anything while it waits.
 *
 * Three ways to build the graph, from three kinds of evidence:
 * - `managerEdges`: what one resource manager sees locally (its queue waits for its holder);
 * - `snapshotEdges`: a consistent global state (Chandy–Lamport), in which the lock messages
 *   recorded in flight are folded into the managers' views;
 * - `trueEdges`: the simulator's omniscient view of every node's actual state at one instant.
 * On a consistent global state the last two agree; the naive detector's union of `managerEdges`
 * taken at different moments does not, which is how it reports phantom deadlocks.
 */
import type { NodeId } from "../../core/ids.ts";
import {
  type DeadlockMsg,
  deadlockLimits,
  type LocalEdge,
  ownerOf,
  type ResourceView,
  type TxnRef,
} from "./messages.ts";

/** What a node's transaction is doing, as only the simulator sees it all at once. */
export interface TxnView {
  node: number;
  /** Its current transaction number. */
  txn: number;
  /** The resource it has asked for and not yet been granted, if any. */
  waiting: number | null;
  /** The resources it has been granted and not released. */
  holds: readonly number[];
}

/** A cycle of wait-for edges: `edges[i].holder` is `edges[i + 1].waiter`, the first waiter is the smallest node. */
export type Cycle = LocalEdge[];

const sameTxn = (a: TxnRef | null, node: number, txn: number) =>
  a !== null && a.node === node && a.txn === txn;

/** A manager's local edges: every queued request waits for the resource's holder. */
export function managerEdges(views: readonly ResourceView[]): LocalEdge[] {
  const edges: LocalEdge[] = [];
  for (const v of views) {
    if (v.holder === null) continue;
    for (const q of v.queue) {
      if (q.node !== v.holder.node) edges.push({ waiter: q.node, txn: q.txn, holder: v.holder.node, r: v.r });
    }
  }
  return edges;
}

/**
 * The edges of a recorded global state: each manager's recorded views, with the messages its
 * incoming channels carried at the cut applied. A request in flight already waits (its sender
 * is blocked), a release or a cancel in flight has already let go of the resource. Grants in
 * flight need nothing: the manager recorded the grantee as holder, and the grantee waits for
 * nobody. When the holder has let go, the next holder is not decided at the cut (it depends
 * on arrival order), so nobody waits for anybody at that resource yet. Views of resources a
 * node does not manage are ignored.
 */
export function snapshotEdges(
  states: ReadonlyArray<{ node: NodeId; state: readonly ResourceView[] }>,
  channels: ReadonlyArray<{ from: NodeId; to: NodeId; messages: readonly DeadlockMsg[] }>,
  locksPerNode: number,
): LocalEdge[] {
  const views = new Map<number, ResourceView>();
  for (const { node, state } of states) {
    for (const v of state) {
      if (ownerOf(v.r, locksPerNode) === node)
        views.set(v.r, { r: v.r, holder: v.holder, queue: [...v.queue] });
    }
  }
  for (const c of channels) {
    for (const m of c.messages) {
      if (m.type !== "request" && m.type !== "release" && m.type !== "cancel") continue;
      const v = views.get(m.r);
      if (v === undefined || ownerOf(m.r, locksPerNode) !== c.to) continue;
      if (m.type === "request") {
        v.queue.push({ node: c.from, txn: m.txn });
      } else if (sameTxn(v.holder, c.from, m.txn)) {
        v.holder = null;
      } else if (m.type === "cancel") {
        v.queue = v.queue.filter((q) => !sameTxn(q, c.from, m.txn));
      }
    }
  }
  return managerEdges([...views.values()]);
}

/**
 * The real graph at one instant, from every node's transaction and every manager's views:
 * p waits for q when p waits for r and r's manager gave it to q's current transaction, which
 * has it or has its grant on the way (a holder whose release is on its way holds nothing).
 * `txns` is indexed by node id; `views` holds every resource by id.
 */
export function trueEdges(txns: readonly TxnView[], views: ReadonlyMap<number, ResourceView>): LocalEdge[] {
  const edges: LocalEdge[] = [];
  for (const p of txns) {
    if (p.waiting === null) continue;
    const holder = views.get(p.waiting)?.holder ?? null;
    if (holder === null || holder.node === p.node) continue;
    const h = txns[holder.node];
    if (h === undefined || h.txn !== holder.txn) continue;
    if (h.waiting === p.waiting || h.holds.includes(p.waiting))
      edges.push({ waiter: p.node, txn: p.txn, holder: h.node, r: p.waiting });
  }
  return edges;
}

/**
 * Every elementary cycle of the graph (up to `deadlockLimits.cyclesMax`), each listed from its
 * smallest node. Parallel edges between two nodes count once (the first one given).
 */
export function findCycles(edges: readonly LocalEdge[]): Cycle[] {
  const out = new Map<number, LocalEdge[]>();
  for (const e of edges) {
    if (e.waiter === e.holder) continue;
    const list = out.get(e.waiter) ?? [];
    if (!list.some((x) => x.holder === e.holder)) list.push(e);
    out.set(e.waiter, list);
  }
  const cycles: Cycle[] = [];
  let steps = 0;
  const path: LocalEdge[] = [];
  const onPath = new Set<number>();
  const visit = (node: number, start: number): void => {
    for (const e of out.get(node) ?? []) {
      if (cycles.length >= deadlockLimits.cyclesMax || ++steps > deadlockLimits.cycleSearchStepsMax) return;
      if (e.holder === start) {
        cycles.push([...path, e]);
      } else if (e.holder > start && !onPath.has(e.holder)) {
        path.push(e);
        onPath.add(e.holder);
        visit(e.holder, start);
        onPath.delete(e.holder);
        path.pop();
      }
    }
  };
  for (const start of [...out.keys()].sort((a, b) => a - b)) visit(start, start);
  return cycles;
}

/** The nodes of a cycle, e.g. "1>3>4": equal for the same circular wait, whichever transactions. */
export function nodesKey(cycle: Cycle): string {
  return cycle.map((e) => e.waiter).join(">");
}

/** A deadlock's identity: its nodes and their waiting transactions, e.g. "1#7>3#2>4#9". */
export function deadlockKey(cycle: Cycle): string {
  return cycle.map((e) => `${e.waiter}#${e.txn}`).join(">");
}
