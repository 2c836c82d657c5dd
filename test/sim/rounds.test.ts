import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { NodeId } from "../../src/core/ids.ts";
import type { Context, Process } from "../../src/core/process.ts";
import { Simulation } from "../../src/sim/simulation.ts";
import type { TraceEvent } from "../../src/sim/trace.ts";
import { byKind } from "./helpers.ts";

const N = (x: number) => x as NodeId;

interface RoundMsg {
  type: "hello" | "echo";
  sentIn: number;
}

interface RoundLog {
  starts: Map<NodeId, number[]>;
  /** Every receive: where it was sent (by the message) and the round it arrived in (ctx.round()). */
  recvs: Array<{ node: NodeId; from: NodeId; sentIn: number; round: number; type: string }>;
  /** At roundStart(r), the peers a node heard nothing from in the round's inbox. */
  missing: Map<NodeId, Map<number, NodeId[]>>;
}

/** Each round sends "hello" to every peer; answers a round-1 hello with an "echo". */
class RoundNode implements Process<RoundMsg, never> {
  private inbox = new Map<number, Set<NodeId>>();
  constructor(
    private readonly log: RoundLog,
    private readonly lastRound: number,
  ) {}
  start(): void {}
  timeout(): void {}
  roundStart(ctx: Context<RoundMsg, never>, round: number): void {
    const starts = this.log.starts.get(ctx.self) ?? [];
    starts.push(round);
    this.log.starts.set(ctx.self, starts);
    assert.equal(ctx.round(), round);
    if (round > 0) {
      const heard = this.inbox.get(round) ?? new Set();
      const missing = ctx.nodes.filter((n) => n !== ctx.self && !heard.has(n));
      const m = this.log.missing.get(ctx.self) ?? new Map();
      m.set(round, missing);
      this.log.missing.set(ctx.self, m);
    }
    if (round < this.lastRound) {
      for (const to of ctx.nodes) if (to !== ctx.self) ctx.send(to, { type: "hello", sentIn: round });
    }
  }
  receive(ctx: Context<RoundMsg, never>, from: NodeId, msg: RoundMsg): void {
    const round = ctx.round();
    this.log.recvs.push({ node: ctx.self, from, sentIn: msg.sentIn, round, type: msg.type });
    if (msg.type === "hello") {
      const heard = this.inbox.get(round) ?? new Set<NodeId>();
      heard.add(from);
      this.inbox.set(round, heard);
      if (msg.sentIn === 1) ctx.send(from, { type: "echo", sentIn: round });
    }
  }
}

function roundSim(seed: number, nodes: number, lastRound: number, lossProb = 0) {
  const log: RoundLog = { starts: new Map(), recvs: [], missing: new Map() };
  const sim = new Simulation<RoundMsg, never>({
    seed,
    nodes,
    factory: () => new RoundNode(log, lastRound),
    rounds: { roundMs: 10 },
    network: { link: { latency: { kind: "uniform", minMs: 1, maxMs: 500 }, lossProb } },
    trace: true,
  });
  return { sim, log };
}

describe("synchronous rounds", () => {
  it("every message arrives exactly in the round after it was sent, whatever the latency", () => {
    const { sim, log } = roundSim(1, 5, 6);
    sim.runUntilQuiescent();
    assert.ok(log.recvs.length > 0);
    for (const r of log.recvs) assert.equal(r.round, r.sentIn + 1, JSON.stringify(r));
    // hellos of rounds 0..5 (5 x 4 per round) and echoes of round-1 hellos (20)
    assert.equal(log.recvs.filter((r) => r.type === "hello").length, 6 * 20);
    assert.equal(log.recvs.filter((r) => r.type === "echo").length, 20);
    for (const r of log.recvs.filter((x) => x.type === "echo")) assert.equal(r.round, 3);
    const recvs = byKind(sim.trace as TraceEvent[], "recv");
    assert.equal(recvs.length, log.recvs.length);
    for (const e of recvs) {
      const d = e.data as { sentRound: number; round: number };
      assert.equal(d.round, d.sentRound + 1);
      assert.equal(e.t, d.round * 10, "delivered at the round boundary");
    }
    for (const send of byKind(sim.trace as TraceEvent[], "send")) {
      const sentIn = (send.data as RoundMsg).sentIn;
      assert.ok(send.t >= sentIn * 10 && send.t < (sentIn + 1) * 10);
    }
  });

  it("roundStart runs once per round, in order, on every node; the run stops when nothing is sent", () => {
    const { sim, log } = roundSim(2, 4, 5);
    sim.runUntilQuiescent();
    // Hellos go out in rounds 0..4; round 5 only receives, so no round 6 is run.
    for (const node of sim.nodes) assert.deepEqual(log.starts.get(node), [0, 1, 2, 3, 4, 5]);
    assert.equal(sim.now, 50);
    assert.equal(sim.pendingEvents, 0);
  });

  it("a crashed node's message is missing in the next round, and the receivers see that", () => {
    const { sim, log } = roundSim(3, 4, 8);
    // Node 2 sends in round 2 (at 20 ms), then crashes mid-round: its round-2 messages still
    // arrive in round 3; nothing of it arrives in round 4 or later.
    sim.at(25, () => sim.crash(N(2)));
    sim.runUntilQuiescent();
    for (const node of [0, 1, 3].map(N)) {
      const missing = log.missing.get(node) as Map<number, NodeId[]>;
      for (let r = 1; r <= 3; r++) assert.deepEqual(missing.get(r), [], `node ${node} round ${r}`);
      for (let r = 4; r <= 8; r++) assert.deepEqual(missing.get(r), [2], `node ${node} round ${r}`);
    }
    assert.deepEqual(log.starts.get(N(2)), [0, 1, 2]);
    const from2 = log.recvs.filter((r) => r.from === 2 && r.type === "hello").map((r) => r.round);
    assert.equal(Math.max(...from2), 3);
  });

  it("messages dropped by a partition in round mode never arrive later", () => {
    const { sim, log } = roundSim(4, 4, 6);
    // Sends of round 2 (at 20 ms) cross a {0,1} | {2,3} cut; healed before round 3's sends.
    sim.at(15, () =>
      sim.partition([
        [N(0), N(1)],
        [N(2), N(3)],
      ]),
    );
    sim.at(25, () => sim.heal());
    sim.runUntilQuiescent();
    const trace = sim.trace as TraceEvent[];
    const dropped = byKind(trace, "drop");
    // Round 2: each node's 2 hellos to the other side, and its 2 echoes to round-1 hellos from there.
    assert.equal(dropped.filter((d) => d.label === "hello").length, 8);
    assert.equal(dropped.filter((d) => d.label === "echo").length, 8);
    assert.equal(dropped.length, 16);
    const droppedIds = new Set(dropped.map((d) => d.msg));
    for (const d of dropped) assert.equal(d.reason, "partition");
    for (const r of byKind(trace, "recv")) assert.equal(droppedIds.has(r.msg), false);
    const sameSide = (a: number, b: number) => a < 2 === b < 2;
    for (const node of sim.nodes) {
      const missing = log.missing.get(node) as Map<number, NodeId[]>;
      const other = sim.nodes.filter((n) => !sameSide(n, node));
      assert.deepEqual(missing.get(3), other, `node ${node}, round 3`);
      for (const r of [1, 2, 4, 5, 6]) assert.deepEqual(missing.get(r), [], `node ${node}, round ${r}`);
    }
    for (const r of log.recvs) assert.equal(r.round, r.sentIn + 1);
  });

  it("lost messages in round mode are missing in exactly their round", () => {
    const { sim, log } = roundSim(5, 5, 6, 0.2);
    sim.runUntilQuiescent();
    assert.ok(sim.stats.dropped.loss > 0);
    for (const r of log.recvs) assert.equal(r.round, r.sentIn + 1);
    const heard = new Set(
      log.recvs.filter((r) => r.type === "hello").map((r) => `${r.from}>${r.node}@${r.round}`),
    );
    let missingTotal = 0;
    for (const [node, perRound] of log.missing) {
      for (const [round, missing] of perRound) {
        for (const peer of sim.nodes) {
          if (peer === node) continue;
          assert.equal(missing.includes(peer), !heard.has(`${peer}>${node}@${round}`));
        }
        missingTotal += missing.length;
      }
    }
    assert.equal(
      missingTotal,
      sim.stats.dropped.loss -
        byKind(sim.trace as TraceEvent[], "drop").filter((d) => d.label === "echo").length,
    );
  });
});

describe("round mode after a silent round", () => {
  it("a message sent later from a timer starts the rounds again and arrives in the next round", () => {
    const got: Array<{ round: number; sentIn: number; t: number }> = [];
    class Late implements Process<{ sentIn: number }, "late"> {
      start(ctx: Context<{ sentIn: number }, "late">): void {
        if (ctx.self === 0) ctx.setTimer(1000, "late");
      }
      timeout(ctx: Context<{ sentIn: number }, "late">): void {
        ctx.send(N(1), { sentIn: ctx.round() });
      }
      receive(ctx: Context<{ sentIn: number }, "late">, _from: NodeId, msg: { sentIn: number }): void {
        got.push({ round: ctx.round(), sentIn: msg.sentIn, t: 0 });
      }
      roundStart(): void {}
    }
    const sim = new Simulation<{ sentIn: number }, "late">({
      seed: 1,
      nodes: 2,
      rounds: { roundMs: 10 },
      factory: () => new Late(),
    });
    sim.runUntil(5000);
    assert.equal(got.length, 1, "the late message is delivered");
    assert.equal(got[0]?.round, (got[0]?.sentIn ?? -9) + 1, "in the round after the one it was sent in");
  });
});
