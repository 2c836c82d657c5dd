/**
 * Drive the simulator from code: four gossip nodes, a partition from 20 ms to 80 ms, then
 * healing. Run with `npx tsx examples/partition.ts`.
 */
import { GossipNode } from "../src/gossip/gossip.ts";
import { Simulation } from "../src/sim/simulation.ts";

const sim = new Simulation({
  seed: 1,
  nodes: 4,
  trace: true,
  factory: () => new GossipNode({ rumorsPerNode: 2, rumorEveryMs: 15, antiEntropyMs: 25 }),
});
sim.at(20, () =>
  sim.partition([
    [0, 1],
    [2, 3],
  ]),
);
sim.at(80, () => sim.heal());
sim.runUntil(300);

const known = sim.nodes.map((n) => (sim.process(n) as GossipNode).known().size);
console.log(`rumors known per node after healing: ${known.join(", ")}`);
console.log(`messages dropped by the partition: ${sim.stats.dropped.partition}`);
console.log(`trace events: ${sim.trace?.length}`);
