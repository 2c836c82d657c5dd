import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { NodeId } from "../../src/core/ids.ts";
import type { LinkConfig } from "../../src/sim/network.ts";
import { Simulation } from "../../src/sim/simulation.ts";
import type { TraceEvent } from "../../src/sim/trace.ts";
import { byKind, indexByMsg, Mesh, type MeshLog, type Ping } from "./helpers.ts";

function meshSim(
  seed: number,
  nodes: number,
  periodMs: number,
  ticks: number,
  link: Partial<LinkConfig> = {},
): { sim: Simulation<Ping, "tick">; log: MeshLog } {
  const log: MeshLog = { received: [] };
  const sim = new Simulation<Ping, "tick">({
    seed,
    nodes,
    factory: () => new Mesh(log, periodMs, ticks),
    network: { link },
    trace: true,
  });
  return { sim, log };
}

/** For each message id, every recv and drop event of it. */
function fates(trace: readonly TraceEvent[]): Map<number, { recv: TraceEvent[]; drop: TraceEvent[] }> {
  const out = new Map<number, { recv: TraceEvent[]; drop: TraceEvent[] }>();
  for (const e of trace) {
    if ((e.kind !== "recv" && e.kind !== "drop") || e.msg === undefined) continue;
    const f = out.get(e.msg) ?? { recv: [], drop: [] };
    f[e.kind].push(e);
    out.set(e.msg, f);
  }
  return out;
}

describe("partitions", () => {
  it("a partition drops exactly the messages that cross it during the window, and nothing else", () => {
    const { sim, log } = meshSim(11, 6, 10, 20);
    const groupA = new Set<number>([0, 1, 2]);
    const fromMs = 55;
    const untilMs = 125;
    sim.at(fromMs, () => sim.partition([[0, 1, 2] as NodeId[], [3, 4, 5] as NodeId[]]));
    sim.at(untilMs, () => sim.heal());
    sim.runUntilQuiescent();
    const trace = sim.trace as TraceEvent[];
    const sends = byKind(trace, "send");
    const fate = fates(trace);
    assert.equal(sends.length, 20 * 6 * 5, "every node pinged every other node 20 times");
    let crossedInWindow = 0;
    let within = 0;
    for (const s of sends) {
      const f = fate.get(s.msg as number) ?? { recv: [], drop: [] };
      const crosses = groupA.has(s.node) !== groupA.has(s.peer as number);
      const inWindow = s.t >= fromMs && s.t < untilMs;
      if (crosses && inWindow) {
        crossedInWindow++;
        assert.equal(f.recv.length, 0, `message ${s.msg} crossed the cut and must not arrive`);
        assert.equal(f.drop.length, 1);
        const d = f.drop[0] as TraceEvent;
        assert.equal(d.reason, "partition");
        assert.equal(d.node, s.peer);
        assert.equal(d.peer, s.node);
      } else {
        if (!crosses) within++;
        assert.equal(f.drop.length, 0, `message ${s.msg} (${s.node}->${s.peer} at ${s.t}) must not drop`);
        assert.equal(f.recv.length, 1, `message ${s.msg} must arrive exactly once`);
        assert.equal((f.recv[0] as TraceEvent).node, s.peer);
      }
    }
    // 7 ticks (60..120 ms) of 6 nodes x 3 peers on the other side.
    assert.equal(crossedInWindow, 7 * 6 * 3);
    assert.equal(within, 20 * 6 * 2);
    assert.equal(sim.stats.dropped.partition, crossedInWindow);
    assert.equal(sim.stats.dropped.loss, 0);
    assert.equal(sim.stats.dropped.down, 0);
    assert.equal(byKind(trace, "drop").length, crossedInWindow);
    assert.equal(log.received.length, sends.length - crossedInWindow);
  });

  it("blockLink cuts one direction only: a->b dropped, b->a delivered, until unblocked", () => {
    const { sim } = meshSim(5, 3, 10, 10);
    sim.blockLink(0 as NodeId, 1 as NodeId);
    assert.equal(sim.isBlocked(0 as NodeId, 1 as NodeId), true);
    assert.equal(sim.isBlocked(1 as NodeId, 0 as NodeId), false);
    sim.at(55, () => sim.unblockLink(0 as NodeId, 1 as NodeId));
    sim.runUntilQuiescent();
    const trace = sim.trace as TraceEvent[];
    const fate = fates(trace);
    const pair = (from: number, to: number) =>
      byKind(trace, "send").filter((s) => s.node === from && s.peer === to);
    const blocked = pair(0, 1);
    assert.equal(blocked.length, 10);
    for (const s of blocked) {
      const f = fate.get(s.msg as number) ?? { recv: [], drop: [] };
      if (s.t < 55) {
        assert.deepEqual(
          f.drop.map((d) => d.reason),
          ["partition"],
        );
        assert.equal(f.recv.length, 0);
      } else {
        assert.equal(f.drop.length, 0);
        assert.equal(f.recv.length, 1);
      }
    }
    for (const [from, to] of [
      [1, 0],
      [0, 2],
      [2, 1],
    ] as const) {
      for (const s of pair(from, to)) {
        const f = fate.get(s.msg as number);
        assert.equal(f?.recv.length, 1, `${from}->${to} must be delivered`);
        assert.equal(f?.drop.length, 0);
      }
    }
    assert.equal(sim.stats.dropped.partition, 5);
  });

  it("an unknown node in a partition is refused", () => {
    const { sim } = meshSim(1, 3, 10, 1);
    assert.throws(() => sim.partition([[0 as NodeId, 9 as NodeId]]), /unknown node 9/);
  });
});

describe("FIFO links", () => {
  /** Per directed pair, how often a message arrived after a later-sent one. */
  function reorderings(trace: readonly TraceEvent[]): { pairs: number; reordered: number; checked: number } {
    const sent = indexByMsg(trace, "send");
    const lastId = new Map<string, number>();
    let reordered = 0;
    let checked = 0;
    for (const r of byKind(trace, "recv")) {
      const s = sent.get(r.msg as number) as TraceEvent;
      assert.equal(s.node, r.peer);
      assert.equal(s.peer, r.node);
      const key = `${r.peer}->${r.node}`;
      const last = lastId.get(key) ?? 0;
      // Message ids grow with send time, so per pair they must arrive in increasing order.
      if ((r.msg as number) < last) reordered++;
      else lastId.set(key, r.msg as number);
      checked++;
    }
    return { pairs: lastId.size, reordered, checked };
  }

  const wide: Partial<LinkConfig> = {
    latency: { kind: "exponential", minMs: 1, meanMs: 60 },
    reorderProb: 0.3,
    reorderDelayMs: 80,
  };

  it("with fifo on, every link delivers in send order despite a wide latency spread", () => {
    for (const seed of [1, 2, 3]) {
      const { sim, log } = meshSim(seed, 4, 1, 60, { ...wide, fifo: true });
      sim.runUntilQuiescent();
      const r = reorderings(sim.trace as TraceEvent[]);
      assert.equal(r.pairs, 12);
      assert.equal(r.checked, 60 * 12);
      assert.equal(r.reordered, 0, `seed ${seed}`);
      // The same from the receivers' view: per sender, sequence numbers arrive in order.
      for (const to of [0, 1, 2, 3]) {
        for (const from of [0, 1, 2, 3]) {
          if (from === to) continue;
          const seqs = log.received.filter((x) => x.node === to && x.from === from).map((x) => x.seq);
          assert.deepEqual(
            seqs,
            Array.from({ length: 60 }, (_, i) => i + 1),
          );
        }
      }
    }
  });

  it("with fifo off and the same settings, messages do get reordered (the contrast case)", () => {
    const { sim } = meshSim(1, 4, 1, 60, { ...wide, fifo: false });
    sim.runUntilQuiescent();
    const r = reorderings(sim.trace as TraceEvent[]);
    assert.equal(r.checked, 60 * 12);
    assert.ok(r.reordered > 0, "a wide latency spread must reorder some messages");
  });
});
