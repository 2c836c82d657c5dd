/**
 * Swarm over seeds 1..250 (the other half is in pbft-swarm-b): each seed draws its own mix of
 * loss, duplication, reordering, partitions, clock drift, crashes and restarts, pauses, and up
 * to f Byzantine replicas with random strategies; agreement, linearizability and liveness after
 * healing must hold on every one.
 */
import { test } from "node:test";
import { pbftSwarm } from "./swarm-helper.ts";

test("pbft swarm, seeds 1..250: no violation", () => pbftSwarm(1, 250));
