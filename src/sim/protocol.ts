/**
 * What the simulator's runner needs to know about a protocol to run, break and judge it from
 * the command line or a swarm: how to build nodes, which faults it tolerates, its own Byzantine
 * strategies, and its checkers. Protocol modules export one ProtocolSpec each; src/protocols.ts
 * lists them.
 */
import type { Millis, NodeId } from "../core/ids.ts";
import type { ProcessFactory } from "../core/process.ts";
import type { Adversary } from "./adversary/types.ts";
import type { Tolerance } from "./faults.ts";
import type { RoundOptions, Simulation } from "./simulation.ts";

export interface Violation {
  checker: string;
  message: string;
}

export interface CheckContext {
  /** Nodes that were never Byzantine: the only ones judged. */
  correct: readonly NodeId[];
  /** Correct nodes that are up at the end (not crashed, not stopped). */
  correctUp: readonly NodeId[];
  /** Whether the run reached its liveness phase (all faults healed before it ended). */
  healed: boolean;
}

export interface ProtocolSpec<Msg, Tag = unknown> {
  name: string;
  summary: string;
  defaultNodes: number;
  /**
   * Extra nodes beyond the n that faults may hit (clients, for example): they get ids n, n+1,
   * ... and are never crashed, partitioned or made Byzantine by a fault plan.
   */
  extraNodes?(nodes: number): number;
  /** Default end of a run, ms of virtual time. */
  defaultUntilMs: Millis;
  /** Default time at which faults end. */
  defaultHealAtMs: Millis;
  tolerance(nodes: number): Tolerance;
  /** `nodes` are the n fault-prone nodes; `all` adds the extra ones. */
  factory(nodes: readonly NodeId[], seed: number, all: readonly NodeId[]): ProcessFactory<Msg, Tag>;
  rounds?: RoundOptions;
  adversary(strategy: string, nodes: readonly NodeId[]): Adversary<Msg> | undefined;
  /** Violations found in a finished run (empty when correct). */
  check(sim: Simulation<Msg, Tag>, ctx: CheckContext): Violation[];
  /** A few figures for the summary line. */
  summarize?(sim: Simulation<Msg, Tag>): Record<string, number | string>;
}
