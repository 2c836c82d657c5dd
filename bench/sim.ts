/**
 * Simulator throughput: deliveries per second of wall time for 16-node all-to-all gossip
 * (every node floods its rumors to every other node), with tracing off and on. Rumors are
 * unsigned here so that the figure measures the simulator, not Ed25519.
 * Prints one JSON line.
 */
import { GossipNode } from "../src/gossip/gossip.ts";
import { Simulation } from "../src/sim/simulation.ts";

const nodes = 16;

function run(
  rumorsPerNode: number,
  trace: boolean,
): { delivered: number; wallMs: number; events: number; traceEvents: number } {
  const sim = new Simulation({
    seed: 1,
    nodes,
    trace,
    traceData: false,
    factory: () => new GossipNode({ rumorsPerNode, rumorEveryMs: 1, signed: false, antiEntropyMs: 0 }),
    network: { link: { latency: { kind: "uniform", minMs: 1, maxMs: 10 } } },
  });
  const t0 = performance.now();
  sim.runUntilQuiescent();
  const wallMs = performance.now() - t0;
  return {
    delivered: sim.stats.delivered,
    wallMs,
    events: sim.stats.events,
    traceEvents: sim.trace?.length ?? 0,
  };
}

function best(rumorsPerNode: number, trace: boolean, repeats: number) {
  run(Math.max(1, Math.floor(rumorsPerNode / 10)), trace); // warm up the JIT
  let top = { rate: 0, delivered: 0, wallMs: 0, traceEvents: 0 };
  for (let i = 0; i < repeats; i++) {
    const r = run(rumorsPerNode, trace);
    const rate = r.delivered / (r.wallMs / 1000);
    if (rate > top.rate) top = { rate, delivered: r.delivered, wallMs: r.wallMs, traceEvents: r.traceEvents };
  }
  return top;
}

const off = best(300, false, 3);
const on = best(60, true, 2);
console.log(
  JSON.stringify({
    bench: "sim-gossip",
    nodes,
    pattern: "all-to-all flooding, unsigned rumors, latency uniform 1-10 ms",
    deliveriesPerSecTracingOff: Math.round(off.rate),
    deliveriesTracingOff: off.delivered,
    wallMsTracingOff: Math.round(off.wallMs),
    deliveriesPerSecTracingOn: Math.round(on.rate),
    deliveriesTracingOn: on.delivered,
    traceEventsTracingOn: on.traceEvents,
    wallMsTracingOn: Math.round(on.wallMs),
    targetTracingOff: 1_000_000,
  }),
);
