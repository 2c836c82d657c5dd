/**
 * FLP against PBFT (seed 002, "Core of the FLP result"; seed 004): PBFT is safe in any
 * asynchronous run and live only once the network behaves (Castro and Liskov, OSDI 1999,
 * section 4.5: liveness assumes that delays stop growing faster than the timeouts). FLP says the
 * gap cannot be closed, and this run shows the adversary that lives in it.
 *
 * The adversary is the network scheduler, nothing else: every replica runs the correct core and
 * every message is delivered, but while the adversary acts it holds, for each replica, the
 * PREPARE that would complete that replica's prepared certificate (quorum - 1 matching prepares,
 * a backup's own included), and lets it go only once that replica has given up on the view and
 * sent a VIEW-CHANGE (its timer fired), when the prepare is stale. No batch prepares, so none
 * commits, no request completes, and view follows view. At the horizon (GST) the network
 * releases what it holds and stops interfering: requests complete.
 *
 * The oracles are the PBFT scenario's own (src/scenarios/pbft.ts): agreement, linearizability
 * of the client-visible history, and liveness after the horizon; plus completions counted
 * against the same seed run without the adversary.
 */
import { type Millis, type NodeId, nodeIds } from "../../core/ids.ts";
import {
  checkPbft,
  defaultWorkload,
  type PbftSim,
  type PbftSimTimer,
  pbftFactory,
} from "../../scenarios/pbft.ts";
import type { Adversary, AdversaryApi } from "../../sim/adversary/types.ts";
import type { Violation } from "../../sim/protocol.ts";
import { Simulation } from "../../sim/simulation.ts";
import { traceToJsonl } from "../../sim/trace.ts";
import type { ClientOutput } from "../../smr/pbft/client.ts";
import { type PbftConfig, pbftConfig, primaryOf } from "../../smr/pbft/config.ts";
import type { PbftMsg, Prepare } from "../../smr/pbft/messages.ts";

export interface StallOptions {
  seed: number;
  replicas: number;
  /** The adversary acts until this virtual time (GST), ms. */
  horizonMs: Millis;
  /** End of the run, ms. */
  untilMs: Millis;
  /** Whether the network adversary acts at all (false: the baseline run). */
  adversary: boolean;
  trace: boolean;
}

export interface StallRun {
  /** Client operations started and completed over the whole run. */
  invoked: number;
  completed: number;
  /** Operations the workload has in total (every client runs its all). */
  operations: number;
  /** Completed before the horizon. */
  completedBeforeHorizon: number;
  /** First completion at or after the horizon, ms (null if none). */
  firstCompletionAfterHorizonMs: Millis | null;
  /** Time of the last completion, ms (null if none). */
  lastCompletionMs: Millis | null;
  /** Highest view any replica entered, and views entered before the horizon. */
  viewMax: number;
  viewsBeforeHorizon: number;
  /** Prepares the network held back, all of them delivered later. */
  held: number;
  violations: Violation[];
  jsonl?: string;
}

/** Ms a request may stay open at the end of the run before the liveness oracle calls it stuck. */
const livenessMs = 5_000;
/** Operations per client: enough to watch completion resume after the horizon. */
const opsPerClient = 20;

interface Held {
  api: AdversaryApi<PbftMsg>;
  to: NodeId;
  msg: Prepare;
}

/** The scheduler: one object that sees every replica's outbox. */
class QuorumBlocker {
  active = true;
  heldTotal = 0;
  private held: Held[] = [];
  /** Prepares let through, per receiver, view and sequence number. */
  private readonly passed = new Map<string, number>();

  constructor(private readonly config: PbftConfig) {}

  adversary(): Adversary<PbftMsg> {
    return { name: "quorum-blocker", onSend: (api, to, msg) => this.onSend(api, to, msg) };
  }

  /** GST: deliver everything held and stop interfering. */
  stop(): void {
    this.active = false;
    this.release(() => true);
  }

  private onSend(api: AdversaryApi<PbftMsg>, to: NodeId, msg: PbftMsg): void {
    if (msg.type === "view-change") {
      // The sender's timer fired (or it joined others): what completed its old view is stale now.
      this.release((h) => h.to === api.self && h.msg.view < msg.view);
    }
    if (msg.type === "prepare" && this.active && this.completesCertificate(to, msg)) {
      this.held.push({ api, to, msg });
      this.heldTotal++;
      return;
    }
    api.send(to, msg);
  }

  /** Would this prepare give `to` quorum - 1 of them? Otherwise it is let through and counted. */
  private completesCertificate(to: NodeId, p: Prepare): boolean {
    const key = `${to}/${p.view}/${p.seq}`;
    const passed = this.passed.get(key) ?? 0;
    const own = to === primaryOf(this.config, p.view) ? 0 : 1;
    if (own + passed + 1 >= this.config.quorum - 1) return true;
    this.passed.set(key, passed + 1);
    return false;
  }

  private release(which: (h: Held) => boolean): void {
    const keep: Held[] = [];
    for (const h of this.held) {
      if (which(h)) h.api.send(h.to, h.msg);
      else keep.push(h);
    }
    this.held = keep;
  }
}

export function runPbftStall(o: StallOptions): StallRun {
  const replicas = nodeIds(o.replicas);
  const workload = { ...defaultWorkload, opsPerClient };
  const all = nodeIds(o.replicas + workload.clients);
  const sim: PbftSim = new Simulation<PbftMsg, PbftSimTimer>({
    seed: o.seed,
    nodes: all,
    factory: pbftFactory(replicas, workload),
    trace: o.trace,
    signatures: "fast",
  });
  const blocker = new QuorumBlocker(pbftConfig(replicas));
  if (o.adversary) {
    for (const r of replicas) sim.setAdversary(r, blocker.adversary());
    sim.at(o.horizonMs, () => blocker.stop());
  }
  sim.runUntil(o.untilMs);

  // The wrapped replicas only had their messages delayed: every node is judged as correct.
  const violations = checkPbft(sim, { correct: all, correctUp: all, healed: true }, o.replicas, livenessMs);
  const run: StallRun = {
    ...summarize(sim, o.horizonMs),
    operations: workload.clients * workload.opsPerClient,
    held: blocker.heldTotal,
    violations,
  };
  if (sim.trace !== null) {
    const header = { ...sim.traceHeader("flp-pbft", o), byzantine: [] };
    run.jsonl = traceToJsonl(header, sim.trace);
  }
  return run;
}

function summarize(sim: PbftSim, horizonMs: Millis) {
  let invoked = 0;
  let completed = 0;
  let completedBeforeHorizon = 0;
  let firstCompletionAfterHorizonMs: Millis | null = null;
  let lastCompletionMs: Millis | null = null;
  let viewMax = 0;
  const viewsBeforeHorizon = new Set<number>();
  for (const o of sim.outputs) {
    const r = o.record as ClientOutput | { kind: "new-view"; view: number };
    if (r.kind === "invoke") invoked++;
    if (r.kind === "complete") {
      completed++;
      lastCompletionMs = o.t;
      if (o.t < horizonMs) completedBeforeHorizon++;
      else if (firstCompletionAfterHorizonMs === null) firstCompletionAfterHorizonMs = o.t;
    }
    if (r.kind === "new-view") {
      viewMax = Math.max(viewMax, r.view);
      if (o.t < horizonMs) viewsBeforeHorizon.add(r.view);
    }
  }
  return {
    invoked,
    completed,
    completedBeforeHorizon,
    firstCompletionAfterHorizonMs,
    lastCompletionMs,
    viewMax,
    viewsBeforeHorizon: viewsBeforeHorizon.size,
  };
}
