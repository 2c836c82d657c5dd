/**
 * PBFT with the KV store as a simulator protocol: n replicas (ids 0..n-1) plus closed-loop KV
 * clients (ids n, n+1, ...) running a random workload over a few hot keys, so that requests
 * conflict. Checkers:
 * - agreement: no two correct replicas execute different batches at one sequence number (which,
 *   with in-order execution, makes their histories prefixes of one another);
 * - linearizability of the client-visible KV history (src/sim/checkers/linearizability.ts);
 * - liveness: once faults heal, every operation a client started completes within a bound.
 */
import { decode, encode } from "../core/codec.ts";
import type { Millis, NodeId } from "../core/ids.ts";
import type { Context } from "../core/process.ts";
import type { KvOp, KvResult } from "../kv/ops.ts";
import { kvServiceFactory } from "../kv/service.ts";
import { pbftAdversary, pbftStrategies } from "../sim/adversary/pbft.ts";
import { checkLinearizable, type HistoryEntry } from "../sim/checkers/linearizability.ts";
import type { CheckContext, ProtocolSpec, Violation } from "../sim/protocol.ts";
import type { Simulation } from "../sim/simulation.ts";
import {
  type ClientOp,
  type ClientOptions,
  type ClientOutput,
  type ClientTimer,
  PbftClient,
} from "../smr/pbft/client.ts";
import { type PbftConfig, type PbftOptions, pbftConfig } from "../smr/pbft/config.ts";
import type { PbftMsg } from "../smr/pbft/messages.ts";
import { type PbftTimer, Replica } from "../smr/pbft/replica.ts";

export type PbftSimTimer = PbftTimer | ClientTimer;
export type PbftSim = Simulation<PbftMsg, PbftSimTimer>;

export interface PbftWorkload {
  clients: number;
  /** Operations per client (the client stops after this many). */
  opsPerClient: number;
  keys: number;
  readOnlyOptimization: boolean;
  thinkMs: Millis;
}

export const defaultWorkload: PbftWorkload = {
  clients: 3,
  opsPerClient: 40,
  keys: 4,
  readOnlyOptimization: false,
  thinkMs: 5,
};

/** A random KV operation over a few keys (values are unique so lost writes show). */
export function randomKvOp(random: () => number, keys: number, client: number, k: number): KvOp {
  const key = `k${Math.floor(random() * keys)}`;
  const x = random();
  if (x < 0.35) return { kind: "get", key };
  if (x < 0.7) return { kind: "put", key, value: `c${client}-${k}` };
  if (x < 0.8) return { kind: "delete", key };
  if (x < 0.95)
    return { kind: "cas", key, from: random() < 0.3 ? null : `c${client}-${k - 1}`, to: `c${client}-${k}x` };
  return { kind: "scan", prefix: "k", limit: 3 };
}

export function kvClientFactory(
  config: PbftConfig,
  workload: PbftWorkload,
  options: Partial<ClientOptions> = {},
): (id: NodeId) => PbftClient {
  return (id) => {
    let k = 0;
    const next = (ctx: Context<PbftMsg, ClientTimer>): ClientOp | undefined => {
      if (k >= workload.opsPerClient) return undefined;
      k++;
      const op = randomKvOp(() => ctx.random(), workload.keys, id, k);
      return { op: encode(op), readOnly: op.kind === "get" || op.kind === "scan" };
    };
    return new PbftClient(config, next, {
      readOnlyOptimization: workload.readOnlyOptimization,
      thinkMs: workload.thinkMs,
      ...options,
    });
  };
}

export function pbftFactory(
  replicas: readonly NodeId[],
  workload: PbftWorkload = defaultWorkload,
  options: Partial<PbftOptions> = {},
  f?: number,
) {
  const config = pbftConfig(replicas, options, f);
  const client = kvClientFactory(config, workload);
  return (id: NodeId) => (id < replicas.length ? new Replica(config, kvServiceFactory) : client(id));
}

// ------------------------------------------------------------------ checkers

export function checkAgreement(sim: PbftSim, correct: ReadonlySet<NodeId>): Violation[] {
  const bySeq = new Map<number, { digest: string; node: NodeId }>();
  const out: Violation[] = [];
  for (const o of sim.outputs) {
    const r = o.record as { kind?: string; seq?: number; digest?: string };
    if (r.kind !== "executed" || !correct.has(o.node)) continue;
    const seen = bySeq.get(r.seq as number);
    if (seen === undefined) bySeq.set(r.seq as number, { digest: r.digest as string, node: o.node });
    else if (seen.digest !== r.digest) {
      out.push({
        checker: "agreement",
        message: `replicas ${seen.node} and ${o.node} executed different batches at seq ${r.seq}`,
      });
    }
  }
  return out;
}

/** The client-visible history, in the checker's terms. */
export function kvHistory(sim: PbftSim): HistoryEntry[] {
  const open = new Map<string, HistoryEntry>();
  const entries: HistoryEntry[] = [];
  let id = 0;
  for (const o of sim.outputs) {
    const r = o.record as ClientOutput;
    if (r.kind === "invoke") {
      const op = decode<KvOp>(r.op);
      if (op.kind === "scan") continue; // multi-key reads are not split per key; agreement covers them
      const e: HistoryEntry = { id: id++, client: r.client, op, invokeMs: o.t };
      open.set(`${r.client}/${r.timestamp}`, e);
      entries.push(e);
    } else if (r.kind === "complete") {
      const e = open.get(`${r.client}/${r.timestamp}`);
      if (e === undefined) continue;
      const result = decode<KvResult>(r.result);
      if (result.kind === "error") {
        // Refused by the store (bad op, store full): it changed nothing, so it is left out.
        entries.splice(entries.indexOf(e), 1);
        continue;
      }
      e.returnMs = o.t;
      e.result = result as HistoryEntry["result"];
    }
  }
  return entries;
}

export function checkPbft(
  sim: PbftSim,
  ctx: CheckContext,
  replicas: number,
  livenessMs: Millis,
): Violation[] {
  const correct = new Set(ctx.correct);
  const out = checkAgreement(sim, correct);
  const verdict = checkLinearizable(kvHistory(sim));
  if (verdict.ok === false)
    out.push({ checker: "linearizability", message: `key ${verdict.key}: ${verdict.message}` });
  if (verdict.ok === "unknown")
    out.push({ checker: "linearizability", message: `undecided: ${verdict.message}` });
  if (ctx.healed) {
    const end = sim.now;
    const invoked = new Map<string, number>();
    for (const o of sim.outputs) {
      const r = o.record as ClientOutput;
      if (r.kind === "invoke") invoked.set(`${r.client}/${r.timestamp}`, o.t);
      if (r.kind === "complete") invoked.delete(`${r.client}/${r.timestamp}`);
    }
    for (const [key, t] of invoked) {
      const client = Number(key.split("/")[0]);
      if (client < replicas || !correct.has(client as NodeId)) continue;
      if (t < end - livenessMs) {
        out.push({
          checker: "liveness",
          message: `client request ${key} invoked at ${t.toFixed(0)} ms never completed`,
        });
        break;
      }
    }
  }
  return out;
}

export const pbftSpec: ProtocolSpec<PbftMsg, PbftSimTimer> = {
  name: "pbft",
  summary: "PBFT state machine replication of the KV store, with clients",
  defaultNodes: 4,
  defaultUntilMs: 12_000,
  defaultHealAtMs: 4_000,
  extraNodes: () => defaultWorkload.clients,
  tolerance: (n) => {
    const f = Math.floor((n - 1) / 3);
    return { down: f, byzantine: f, strategies: pbftStrategies, failStop: false };
  },
  factory: (nodes) => pbftFactory(nodes),
  adversary: (strategy, nodes) => pbftAdversary(strategy, nodes.length),
  check: (sim, ctx) => checkPbft(sim, ctx, sim.nodes.length - defaultWorkload.clients, 5_000),
  summarize(sim) {
    let completed = 0;
    let executedMax = 0;
    let viewChanges = 0;
    for (const o of sim.outputs) {
      const r = o.record as { kind: string; seq?: number };
      if (r.kind === "complete") completed++;
      if (r.kind === "executed" && (r.seq ?? 0) > executedMax) executedMax = r.seq ?? 0;
      if (r.kind === "new-view") viewChanges++;
    }
    return {
      completed,
      executedSeqMax: executedMax,
      newViews: viewChanges,
      stateTransfers: sim.counter("pbft.state-installed"),
    };
  },
};
