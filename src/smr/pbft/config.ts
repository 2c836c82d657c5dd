/**
 * PBFT configuration and quorum arithmetic. With n replicas of which f may be Byzantine
 * (n >= 3f+1), a quorum is ceil((n+f+1)/2): any two quorums intersect in at least f+1
 * replicas, one of them correct (2f+1 when n = 3f+1). f+1 replicas ("weak quorum") include at
 * least one correct replica. The primary of view v is replicas[v mod n].
 */
import { PhalanxError } from "../../core/errors.ts";
import type { Millis, NodeId } from "../../core/ids.ts";
import { limits } from "../../core/limits.ts";

export interface PbftOptions {
  /** Sequence numbers between checkpoints (K). */
  checkpointInterval: number;
  /** Log window L: sequence numbers in (h, h + L] are accepted (h = last stable checkpoint). */
  logWindow: number;
  /** Requests per batch at most. */
  batchMax: number;
  /** How long the primary waits to fill a batch while others are in flight. */
  batchDelayMs: Millis;
  /** Sequence numbers a primary keeps in flight (assigned but not executed) at most. */
  inflightMax: number;
  /** A backup starts a view change when a request it knows makes no progress for this long. */
  requestTimeoutMs: Millis;
  /** Initial wait for NEW-VIEW; doubles with each consecutive view change. */
  viewChangeTimeoutMs: Millis;
  /** Period at which a lagging replica asks for what it missed. */
  catchUpMs: Millis;
}

/** Defaults measured with `npm run bench:pbft-sim` (see docs/pbft.md). */
export const defaultPbftOptions: PbftOptions = {
  checkpointInterval: 64,
  logWindow: 256,
  batchMax: 128,
  batchDelayMs: 2,
  inflightMax: 8,
  requestTimeoutMs: 400,
  viewChangeTimeoutMs: 400,
  catchUpMs: 150,
};

export interface PbftConfig {
  replicas: readonly NodeId[];
  f: number;
  n: number;
  quorum: number;
  weak: number;
  options: PbftOptions;
}

export function pbftConfig(
  replicas: readonly NodeId[],
  options: Partial<PbftOptions> = {},
  f?: number,
): PbftConfig {
  const n = replicas.length;
  const faults = f ?? Math.floor((n - 1) / 3);
  if (n < 1 || n < 3 * faults + 1) {
    throw new PhalanxError("BAD_CONFIG", `PBFT needs n >= 3f+1 replicas; got n = ${n}, f = ${faults}`);
  }
  const o = { ...defaultPbftOptions, ...options };
  if (o.logWindow < 2 * o.checkpointInterval || o.logWindow > limits.pbftLogWindowMax) {
    throw new PhalanxError(
      "BAD_CONFIG",
      `logWindow must be in [2 x checkpointInterval, ${limits.pbftLogWindowMax}], got ${o.logWindow}`,
    );
  }
  if (o.batchMax < 1 || o.batchMax > limits.pbftBatchMax) {
    throw new PhalanxError("BAD_CONFIG", `batchMax must be in 1..${limits.pbftBatchMax}`);
  }
  if (o.inflightMax < 1 || o.inflightMax > o.logWindow)
    throw new PhalanxError("BAD_CONFIG", "inflightMax must be in 1..logWindow");
  return {
    replicas: [...replicas],
    f: faults,
    n,
    quorum: Math.ceil((n + faults + 1) / 2),
    weak: faults + 1,
    options: o,
  };
}

export function primaryOf(config: PbftConfig, view: number): NodeId {
  return config.replicas[view % config.n] as NodeId;
}
