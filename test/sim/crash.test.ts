import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decode, encode } from "../../src/core/codec.ts";
import type { NodeId } from "../../src/core/ids.ts";
import type { Context, Process } from "../../src/core/process.ts";
import { Simulation } from "../../src/sim/simulation.ts";
import type { CrashLossMode } from "../../src/sim/storage.ts";
import type { TraceEvent } from "../../src/sim/trace.ts";
import { byKind, Mesh, type MeshLog, type Ping } from "./helpers.ts";

const N = (x: number) => x as NodeId;

interface BootRecord {
  incarnation: number;
  t: number;
  values: Record<string, string | undefined>;
}

/**
 * The first incarnation writes key `a` and syncs, then writes `b` (and more unsynced keys)
 * without a sync. Every incarnation reads those keys back at start.
 */
class Writer implements Process<never, string> {
  constructor(
    private readonly incarnation: number,
    private readonly boots: BootRecord[],
    private readonly unsynced: readonly string[],
  ) {}
  start(ctx: Context<never, string>): void {
    const values: Record<string, string | undefined> = {};
    for (const k of ["a", ...this.unsynced]) {
      const v = ctx.storage.get(k);
      values[k] = v === undefined ? undefined : decode<string>(v);
    }
    this.boots.push({ incarnation: this.incarnation, t: ctx.now(), values });
    if (this.incarnation === 1) {
      ctx.storage.put("a", encode("value-a"));
      ctx.storage.sync();
      for (const k of this.unsynced) ctx.storage.put(k, encode(`value-${k}`));
    }
  }
  receive(): void {}
  timeout(): void {}
}

function crashRun(seed: number, crashLoss: CrashLossMode | undefined, unsynced: readonly string[]) {
  const boots: BootRecord[] = [];
  let made = 0;
  const sim = new Simulation<never, string>({
    seed,
    nodes: 1,
    factory: () => new Writer(++made, boots, unsynced),
    ...(crashLoss !== undefined ? { crashLoss } : {}),
  });
  sim.at(10, () => sim.crash(N(0)));
  sim.at(20, () => sim.restart(N(0)));
  sim.runUntilQuiescent();
  return { sim, boots };
}

describe("crash and restart", () => {
  it('crashLoss "all": the synced write survives, the unsynced one is lost', () => {
    const { sim, boots } = crashRun(1, "all", ["b"]);
    assert.equal(boots.length, 2);
    assert.deepEqual(boots[0], { incarnation: 1, t: 0, values: { a: undefined, b: undefined } });
    assert.deepEqual(boots[1], { incarnation: 2, t: 20, values: { a: "value-a", b: undefined } });
    assert.equal(sim.storage(N(0)).stats.lostOnCrash, 1);
    assert.deepEqual(sim.storage(N(0)).keys(), ["a"]);
  });

  it('crashLoss "none" keeps unsynced writes (control case)', () => {
    const { boots } = crashRun(1, "none", ["b"]);
    assert.deepEqual(boots[1]?.values, { a: "value-a", b: "value-b" });
  });

  it('default "random": synced writes always survive; of the unsynced, some are lost and some kept', () => {
    const unsynced = Array.from({ length: 8 }, (_, i) => `u${i}`);
    let kept = 0;
    let lost = 0;
    const outcomes = new Set<string>();
    for (let seed = 1; seed <= 40; seed++) {
      const { sim, boots } = crashRun(seed, undefined, unsynced);
      const after = boots[1] as BootRecord;
      assert.equal(after.values.a, "value-a", `seed ${seed}: a synced write was lost`);
      let keptHere = 0;
      for (const k of unsynced) {
        const v = after.values[k];
        if (v === undefined) lost++;
        else {
          assert.equal(v, `value-${k}`, "a kept write keeps its value");
          kept++;
          keptHere++;
        }
      }
      assert.equal(sim.storage(N(0)).stats.lostOnCrash, unsynced.length - keptHere);
      outcomes.add(unsynced.map((k) => (after.values[k] === undefined ? "0" : "1")).join(""));
    }
    assert.ok(kept > 0, "some unsynced writes survive a crash");
    assert.ok(lost > 0, "some unsynced writes are lost");
    assert.ok(outcomes.size > 10, "which writes survive varies with the seed");
  });

  it("a restart builds a fresh process: volatile state is gone, and old timers never fire", () => {
    const fired: Array<{ instance: number; tag: string; t: number }> = [];
    const instances: Array<{ id: number; volatile: number }> = [];
    class Timed implements Process<never, string> {
      readonly me: { id: number; volatile: number };
      constructor(id: number) {
        this.me = { id, volatile: 0 };
        instances.push(this.me);
      }
      start(ctx: Context<never, string>): void {
        this.me.volatile++;
        if (this.me.id === 1) {
          ctx.setTimer(30, "old-30");
          ctx.setTimer(100, "old-100");
        } else {
          ctx.setTimer(100, "new-100");
        }
      }
      receive(): void {}
      timeout(ctx: Context<never, string>, tag: string): void {
        fired.push({ instance: this.me.id, tag, t: ctx.now() });
      }
    }
    let made = 0;
    const sim = new Simulation<never, string>({ seed: 3, nodes: 1, factory: () => new Timed(++made) });
    sim.runUntil(40);
    const first = sim.process(N(0));
    sim.crash(N(0));
    assert.equal(sim.isUp(N(0)), false);
    assert.equal(sim.process(N(0)), null);
    sim.runUntil(50);
    sim.restart(N(0));
    sim.runUntilQuiescent();
    assert.notEqual(sim.process(N(0)), first);
    assert.deepEqual(instances, [
      { id: 1, volatile: 1 },
      { id: 2, volatile: 1 },
    ]);
    assert.deepEqual(fired, [
      { instance: 1, tag: "old-30", t: 30 },
      { instance: 2, tag: "new-100", t: 150 },
    ]);
    assert.equal(sim.stats.timersFired, 2);
  });

  it("messages to a crashed node are dropped as 'down'; it receives again after restart", () => {
    const log: MeshLog = { received: [] };
    const sim = new Simulation<Ping, "tick">({
      seed: 2,
      nodes: 2,
      factory: () => new Mesh(log, 10, 10),
      network: { link: { latency: { kind: "constant", ms: 1 } } },
      trace: true,
    });
    sim.at(25, () => sim.crash(N(1)));
    sim.at(65, () => sim.restart(N(1)));
    sim.runUntilQuiescent();
    const to1 = log.received.filter((r) => r.node === 1).map((r) => r.seq);
    // Pings 1 and 2 arrive (11, 21 ms); 3..6 (31..61 ms) hit a down node; the restarted
    // node (timers anew from 65 ms) still gets node 0's pings 7..10.
    assert.deepEqual(to1, [1, 2, 7, 8, 9, 10]);
    const drops = byKind(sim.trace as TraceEvent[], "drop");
    assert.deepEqual(
      drops.map((d) => [d.reason, d.node, d.peer]),
      Array(4).fill(["down", 1, 0]),
    );
    assert.equal(sim.stats.dropped.down, 4);
  });
});

describe("fail-stop", () => {
  class Watcher implements Process<never, never> {
    constructor(private readonly log: Array<[NodeId, NodeId]>) {}
    start(): void {}
    receive(): void {}
    timeout(): void {}
    peerStopped(ctx: Context<never, never>, peer: NodeId): void {
      this.log.push([ctx.self, peer]);
    }
  }

  it("failStop notifies every other live node exactly once; a node already down is not told", () => {
    const log: Array<[NodeId, NodeId]> = [];
    const sim = new Simulation<never, never>({
      seed: 4,
      nodes: 6,
      factory: () => new Watcher(log),
      trace: true,
    });
    sim.at(5, () => sim.crash(N(4)));
    sim.at(10, () => sim.failStop(N(0)));
    sim.at(11, () => sim.failStop(N(0))); // already stopped: nothing more
    sim.at(12, () => sim.restart(N(4))); // restarted after the notice went out
    sim.runUntilQuiescent();
    assert.deepEqual(
      [...log].sort((a, b) => a[0] - b[0]),
      [
        [1, 0],
        [2, 0],
        [3, 0],
        [5, 0],
      ],
    );
    assert.equal(sim.isUp(N(0)), false);
    const trace = sim.trace as TraceEvent[];
    const stop = byKind(trace, "failstop");
    assert.equal(stop.length, 1);
    const notices = byKind(trace, "notify");
    assert.equal(notices.length, 4);
    for (const n of notices) {
      assert.equal(n.msg, stop[0]?.msg);
      assert.equal(n.peer, 0);
      assert.ok(n.t > 10, "a notice takes a network delay");
    }
  });

  it("a plain crash notifies nobody", () => {
    const log: Array<[NodeId, NodeId]> = [];
    const sim = new Simulation<never, never>({
      seed: 4,
      nodes: 4,
      factory: () => new Watcher(log),
      trace: true,
    });
    sim.at(10, () => sim.crash(N(2)));
    sim.runUntilQuiescent();
    assert.deepEqual(log, []);
    assert.equal(byKind(sim.trace as TraceEvent[], "notify").length, 0);
    assert.equal(byKind(sim.trace as TraceEvent[], "crash").length, 1);
  });
});

describe("pause and resume", () => {
  it("a paused node receives nothing and fires no timer; on resume held messages arrive and the timer fires late", () => {
    const events: Array<{ what: string; t: number; seq?: number }> = [];
    class Sleeper implements Process<Ping, "tick"> {
      start(ctx: Context<Ping, "tick">): void {
        ctx.setTimer(30, "tick");
      }
      receive(ctx: Context<Ping, "tick">, _from: NodeId, msg: Ping): void {
        events.push({ what: "recv", t: ctx.now(), seq: msg.seq });
      }
      timeout(ctx: Context<Ping, "tick">): void {
        events.push({ what: "timer", t: ctx.now() });
      }
    }
    const mesh: MeshLog = { received: [] };
    const sim = new Simulation<Ping, "tick">({
      seed: 9,
      nodes: 2,
      factory: (id) => (id === 0 ? new Mesh(mesh, 10, 10) : new Sleeper()),
      network: { link: { latency: { kind: "constant", ms: 2 } } },
      trace: true,
    });
    sim.at(25, () => sim.pause(N(1)));
    sim.at(75, () => {
      assert.equal(sim.isPaused(N(1)), true);
      sim.resume(N(1));
    });
    sim.runUntilQuiescent();
    assert.equal(sim.isPaused(N(1)), false);
    assert.deepEqual(events, [
      { what: "recv", t: 12, seq: 1 },
      { what: "recv", t: 22, seq: 2 },
      // Held while paused (the 30 ms timer, then pings that arrived at 32..72 ms), released at
      // 75 ms in the order they fell due: the timer fires 45 ms late.
      { what: "timer", t: 75 },
      { what: "recv", t: 75, seq: 3 },
      { what: "recv", t: 75, seq: 4 },
      { what: "recv", t: 75, seq: 5 },
      { what: "recv", t: 75, seq: 6 },
      { what: "recv", t: 75, seq: 7 },
      { what: "recv", t: 82, seq: 8 },
      { what: "recv", t: 92, seq: 9 },
      { what: "recv", t: 102, seq: 10 },
    ]);
    const during = (sim.trace as TraceEvent[]).filter((e) => e.node === 1 && e.t > 25 && e.t < 75);
    assert.deepEqual(during, [], "a paused node does nothing at all");
    assert.equal(sim.stats.dropped.down + sim.stats.dropped.pausedOverflow, 0);
  });

  it("a node crashed while paused loses its held messages and timers", () => {
    const fired: number[] = [];
    const got: number[] = [];
    let made = 0;
    class Once implements Process<Ping, "tick"> {
      private readonly first = ++made === 1;
      start(ctx: Context<Ping, "tick">): void {
        if (this.first) ctx.setTimer(30, "tick");
      }
      receive(_ctx: Context<Ping, "tick">, _from: NodeId, msg: Ping): void {
        got.push(msg.seq);
      }
      timeout(ctx: Context<Ping, "tick">): void {
        fired.push(ctx.now());
      }
    }
    const mesh: MeshLog = { received: [] };
    const sim = new Simulation<Ping, "tick">({
      seed: 9,
      nodes: 2,
      factory: (id) => (id === 0 ? new Mesh(mesh, 10, 4) : new Once()),
      network: { link: { latency: { kind: "constant", ms: 2 } } },
    });
    sim.at(15, () => sim.pause(N(1)));
    sim.at(50, () => sim.crash(N(1)));
    sim.at(60, () => sim.restart(N(1)));
    sim.at(70, () => sim.resume(N(1))); // not paused any more: no effect
    sim.runUntilQuiescent();
    assert.deepEqual(got, [1]);
    assert.deepEqual(fired, []);
    assert.equal(sim.stats.dropped.down, 3);
  });
});
