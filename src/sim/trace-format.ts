/**
 * The trace format `phalanx-trace/1`: one JSON object per line, a header then the events.
 * Types only: the web viewer (web/src/model.ts) reads the same format, so this file must not
 * import Node modules. trace.ts writes and checks traces.
 */

export type TraceKind =
  | "start"
  | "send"
  | "recv"
  | "timer"
  | "local"
  | "output"
  | "crash"
  | "restart"
  | "failstop"
  | "notify"
  | "pause"
  | "resume"
  | "round"
  | "drop";

export interface TraceEvent {
  /** Position in the whole trace, from 0. */
  i: number;
  /** Virtual time in ms. */
  t: number;
  node: number;
  kind: TraceKind;
  /** Lamport time; absent on drops. */
  lt?: number;
  /** Vector time, node id → count, non-zero entries only; absent on drops. */
  vt?: Record<string, number>;
  /** Message id (send, recv, drop, notify). */
  msg?: number;
  /** The other end: destination of a send or drop, source of a recv or notify. */
  peer?: number;
  /** Message type (its `type` field) or timer / local label. */
  label?: string;
  /** Why a message was dropped: loss, partition, down, paused-overflow, adversary. */
  reason?: string;
  /** Message body, timer tag, local detail or output record. */
  data?: unknown;
}

export interface TraceHeader {
  kind: "header";
  format: "phalanx-trace/1";
  protocol: string;
  seed: number;
  nodes: number[];
  byzantine: number[];
  options: unknown;
}
