/**
 * Gossip as a simulator protocol: options for the CLI and swarm, Byzantine strategies that try
 * to forge or corrupt rumors, and the checkers: validity (a correct node only delivers rumors
 * their origin really sent), integrity (no rumor delivered twice by one node, even across
 * crashes, because a rumor is synced before it is delivered), and convergence after healing
 * (all correct live nodes know the same rumors).
 */
import { encode } from "../core/codec.ts";
import type { NodeId } from "../core/ids.ts";
import {
  type GossipMsg,
  GossipNode,
  type GossipOptions,
  type GossipOutput,
  type GossipTimer,
} from "../gossip/gossip.ts";
import { injecting, rewriting } from "../sim/adversary/strategies.ts";
import type { Adversary } from "../sim/adversary/types.ts";
import type { CheckContext, ProtocolSpec, Violation } from "../sim/protocol.ts";
import type { Simulation } from "../sim/simulation.ts";

export const gossipSimOptions: Partial<GossipOptions> = {
  rumorsPerNode: 3,
  rumorEveryMs: 40,
  antiEntropyMs: 50,
  signed: true,
};

function gossipAdversary(strategy: string, nodes: readonly NodeId[]): Adversary<GossipMsg> | undefined {
  switch (strategy) {
    case "forge":
      // Claims rumors from other origins; it can only sign them with its own key.
      return injecting<GossipMsg>(15, 20, (api, k) => {
        const origin = nodes[k % nodes.length] as number;
        const body = `forged ${k}`;
        return {
          type: "rumor",
          origin,
          k: 1000 + k,
          body,
          sig: api.sign(encode(["gossip-rumor", origin, 1000 + k, body])),
        };
      });
    case "corrupt":
      // Forwards rumors with their bodies changed (the origin's signature no longer matches).
      return rewriting<GossipMsg>("corrupt", (msg) =>
        msg.type === "rumor" ? { ...msg, body: `${msg.body} (altered)` } : msg,
      );
    default:
      return undefined;
  }
}

export function checkGossip(sim: Simulation<GossipMsg, GossipTimer>, ctx: CheckContext): Violation[] {
  const violations: Violation[] = [];
  const correct = new Set(ctx.correct);
  const originated = new Set<string>();
  const delivered = new Map<string, number>();
  for (const o of sim.outputs) {
    const r = o.record as GossipOutput;
    const id = `${r.origin}:${r.k}`;
    if (r.kind === "originated") originated.add(id);
    if (!correct.has(o.node)) continue;
    const key = `${o.node}/${id}`;
    const seen = (delivered.get(key) ?? 0) + 1;
    delivered.set(key, seen);
    if (seen === 2)
      violations.push({ checker: "integrity", message: `node ${o.node} delivered rumor ${id} twice` });
  }
  for (const node of ctx.correctUp) {
    const p = sim.process(node) as GossipNode;
    for (const id of p.known()) {
      const origin = Number(id.split(":")[0]) as NodeId;
      if (correct.has(origin) && !originated.has(id)) {
        violations.push({
          checker: "validity",
          message: `node ${node} holds rumor ${id} that its origin never sent`,
        });
      }
    }
  }
  if (ctx.healed && ctx.correctUp.length > 0) {
    const union = new Set<string>();
    for (const node of ctx.correctUp)
      for (const id of (sim.process(node) as GossipNode).known()) union.add(id);
    for (const id of originated) {
      const origin = Number(id.split(":")[0]) as NodeId;
      if (ctx.correctUp.includes(origin)) union.add(id);
    }
    for (const node of ctx.correctUp) {
      const known = (sim.process(node) as GossipNode).known();
      const missing = [...union].filter((id) => !known.has(id));
      if (missing.length > 0) {
        violations.push({
          checker: "convergence",
          message: `after healing, node ${node} lacks ${missing.length} rumor(s), e.g. ${missing.slice(0, 3).join(", ")}`,
        });
      }
    }
  }
  return violations;
}

export const gossipSpec: ProtocolSpec<GossipMsg, GossipTimer> = {
  name: "gossip",
  summary: "flooding broadcast with push-pull anti-entropy and signed rumors",
  defaultNodes: 8,
  defaultUntilMs: 3000,
  defaultHealAtMs: 2000,
  tolerance: (n) => ({
    down: Math.max(1, Math.floor((n - 1) / 2)),
    byzantine: Math.floor((n - 1) / 3),
    strategies: ["forge", "corrupt"],
    failStop: true,
  }),
  factory: () => () => new GossipNode(gossipSimOptions),
  adversary: gossipAdversary,
  check: checkGossip,
  summarize(sim) {
    let originated = 0;
    let delivered = 0;
    for (const o of sim.outputs) {
      if ((o.record as GossipOutput).kind === "originated") originated++;
      else delivered++;
    }
    return {
      rumors: originated,
      deliveries: delivered,
      duplicates: sim.counter("gossip.duplicate"),
      badSignatures: sim.counter("gossip.bad-signature"),
    };
  },
};
