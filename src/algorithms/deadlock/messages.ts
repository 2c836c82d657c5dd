/**
 * Messages of the simulated lock service and of its two deadlock detectors (seed 002, "Who
 * cares?" and "Phantom deadlocks!"), with their bounds and validators. Every node manages some
 * resources (exclusive locks) and runs transactions that lock resources managed by other
 * nodes: `request`, `grant`, `release` and `cancel` are the lock protocol. The naive detector
 * polls resource managers with `query` / `edges`; the snapshot detector's markers and reports
 * belong to the Chandy–Lamport layer (snapshot/chandy-lamport.ts), and it breaks a deadlock it
 * finds with an `abort` to one transaction of the cycle.
 */
import type { NodeId } from "../../core/ids.ts";

/** Nodes of one run: each detection polls every node in turn. */
const nodesMax = 64;
/** Resources one node manages. */
const locksPerNodeMax = 8;

export const deadlockLimits = {
  nodesMax,
  locksPerNodeMax,
  /** Locks one transaction takes. */
  txnLocksMax: 8,
  /**
   * Requests queued on one resource. A node has at most one live request at a time and cancels
   * an aborted one before it asks again (on the same FIFO channel), so a queue never holds more
   * than one entry per node.
   */
  queueMax: nodesMax,
  /** Transactions one node runs in its life: transaction numbers stay below this. */
  txnsMax: 1_000_000,
  /** Edges one manager reports to the naive detector: one per queued request of each resource. */
  edgesMax: locksPerNodeMax * nodesMax,
  /** Cycles one detection reports. */
  cyclesMax: 64,
  /** Steps of one cycle search (a wait-for graph of at most nodesMax nodes stays far below it). */
  cycleSearchStepsMax: 1_000_000,
} as const;

/** A transaction: node `node`'s transaction number `txn`. */
export interface TxnRef {
  node: number;
  txn: number;
}

/** Ask the manager of resource `r` for it, for transaction `txn` of the sender. */
export interface RequestMsg {
  type: "request";
  r: number;
  txn: number;
}

/** The manager gives resource `r` to transaction `txn` of the receiver. */
export interface GrantMsg {
  type: "grant";
  r: number;
  txn: number;
}

/** Transaction `txn` of the sender gives resource `r` back. */
export interface ReleaseMsg {
  type: "release";
  r: number;
  txn: number;
}

/** Transaction `txn` of the sender was aborted while it waited for `r`: drop its request (or the grant on its way). */
export interface CancelMsg {
  type: "cancel";
  r: number;
  txn: number;
}

/** The snapshot detector aborts transaction `txn` of the receiver to break a deadlock. */
export interface AbortMsg {
  type: "abort";
  txn: number;
}

/** The naive detector's question for detection `detection`: "what waits for what at your resources?" */
export interface QueryMsg {
  type: "query";
  detection: number;
}

/** A manager's local wait-for edge: `waiter`'s transaction `txn` waits for resource `r`, held by `holder`. */
export interface LocalEdge {
  waiter: number;
  txn: number;
  holder: number;
  r: number;
}

/** The answer to a query: the manager's local edges at its local time `atMs`. */
export interface EdgesMsg {
  type: "edges";
  detection: number;
  atMs: number;
  edges: LocalEdge[];
}

export type ToManagerMsg = RequestMsg | ReleaseMsg | CancelMsg;
export type LockMsg = ToManagerMsg | GrantMsg;
export type DeadlockMsg = LockMsg | AbortMsg | QueryMsg | EdgesMsg;

/** What a manager knows of one of its resources; also what a snapshot records of it. */
export interface ResourceView {
  r: number;
  holder: TxnRef | null;
  /** Waiting requests, oldest first. */
  queue: TxnRef[];
}

/** Bounds a validator needs: the run's nodes and how many resources each manages. */
export interface Shape {
  nodes: readonly NodeId[];
  locksPerNode: number;
}

/** Resource ids are owner * locksPerNode + k for k < locksPerNode. */
export function ownerOf(r: number, locksPerNode: number): NodeId {
  return Math.floor(r / locksPerNode) as NodeId;
}

const isCount = (x: unknown, max: number): x is number =>
  Number.isSafeInteger(x) && (x as number) >= 0 && (x as number) < max;

function isNode(x: unknown, shape: Shape): x is number {
  return typeof x === "number" && shape.nodes.includes(x as NodeId);
}

function isResource(x: unknown, shape: Shape): x is number {
  return (
    isCount(x, deadlockLimits.nodesMax * deadlockLimits.locksPerNodeMax) &&
    isNode(ownerOf(x, shape.locksPerNode), shape)
  );
}

function isTxnRef(x: unknown, shape: Shape): x is TxnRef {
  if (typeof x !== "object" || x === null) return false;
  const o = x as Record<string, unknown>;
  return isNode(o.node, shape) && isCount(o.txn, deadlockLimits.txnsMax);
}

function isLocalEdge(x: unknown, shape: Shape): x is LocalEdge {
  if (typeof x !== "object" || x === null) return false;
  const o = x as Record<string, unknown>;
  return (
    isNode(o.waiter, shape) &&
    isCount(o.txn, deadlockLimits.txnsMax) &&
    isNode(o.holder, shape) &&
    isResource(o.r, shape)
  );
}

/** Validates a message from a peer: shape, bounds and membership. */
export function isDeadlockMsg(m: unknown, shape: Shape): m is DeadlockMsg {
  if (typeof m !== "object" || m === null) return false;
  const o = m as Record<string, unknown>;
  switch (o.type) {
    case "request":
    case "grant":
    case "release":
    case "cancel":
      return isResource(o.r, shape) && isCount(o.txn, deadlockLimits.txnsMax);
    case "abort":
      return isCount(o.txn, deadlockLimits.txnsMax);
    case "query":
      return isCount(o.detection, Number.MAX_SAFE_INTEGER);
    case "edges":
      return (
        isCount(o.detection, Number.MAX_SAFE_INTEGER) &&
        typeof o.atMs === "number" &&
        Number.isFinite(o.atMs) &&
        Array.isArray(o.edges) &&
        o.edges.length <= deadlockLimits.edgesMax &&
        o.edges.every((e) => isLocalEdge(e, shape))
      );
    default:
      return false;
  }
}

/** Validates one node's recorded state in a snapshot report: the views of the resources it manages. */
export function isResourceViews(s: unknown, shape: Shape): s is ResourceView[] {
  if (!Array.isArray(s) || s.length > shape.locksPerNode) return false;
  return s.every((v) => {
    if (typeof v !== "object" || v === null) return false;
    const o = v as Record<string, unknown>;
    return (
      isResource(o.r, shape) &&
      (o.holder === null || isTxnRef(o.holder, shape)) &&
      Array.isArray(o.queue) &&
      o.queue.length <= deadlockLimits.queueMax &&
      o.queue.every((q) => isTxnRef(q, shape))
    );
  });
}
