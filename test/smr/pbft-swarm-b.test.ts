/**
 * Swarm over seeds 251..500 (the other half is in pbft-swarm-a): each seed draws its own mix of
 * loss, duplication, reordering, partitions, clock drift, crashes and restarts, pauses, and up
 * to f Byzantine replicas with random strategies; agreement, linearizability and liveness after
 * healing must hold on every one.
 */
import { test } from "node:test";
import { pbftSwarm } from "./swarm-helper.ts";

test("pbft swarm, seeds 251..500: no violation", () => pbftSwarm(251, 500));
