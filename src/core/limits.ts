/**
 * Every queue, map, batch and message has a named bound here (DESIGN.md habit 4). Input from a
 * peer that exceeds a bound is dropped and counted, never trusted.
 */
import { assert } from "./assert.ts";

export const limits = {
  /** Largest encoded message accepted from a peer, in bytes. */
  messageSizeMax: 4 * 1024 * 1024,
  /** Nodes in one simulated run. */
  simNodesMax: 4096,
  /** Events the simulator executes in one run before it stops and reports a runaway. */
  simEventsMax: 200_000_000,
  /** Trace events kept in memory by one run with tracing on. */
  traceEventsMax: 20_000_000,
  /** Timers one node may have pending at once. */
  timersPerNodeMax: 100_000,
  /** Messages a paused node buffers before further ones are dropped. */
  pausedInboxMax: 100_000,
  /** Rumor ids listed in one gossip digest. */
  gossipDigestIdsMax: 65_536,
  /** Rumors one gossip node stores. */
  gossipRumorsMax: 1_000_000,
  /** Entries a vector clock from a peer or a file may have. */
  vectorClockEntriesMax: 65_536,
  /**
   * Largest hybrid-logical-clock logical part accepted from a peer. Correct clocks stay far
   * below it (it resets whenever physical time passes `wall`); the headroom to 2^53 means no
   * peer can push a correct clock to overflow.
   */
  hlcLogicalMax: 0xffff_ffff,
  /** Encoded size of one client operation. */
  pbftOpBytesMax: 1024 * 1024 + 4096,
  /** Requests in one PBFT batch. */
  pbftBatchMax: 1024,
  /** Sequence numbers between the low and high water marks (the log window L). */
  pbftLogWindowMax: 4096,
  /** Requests a primary queues while waiting to order them. */
  pbftPendingRequestsMax: 100_000,
  /** Encoded size of a state-transfer snapshot. */
  pbftSnapshotBytesMax: 512 * 1024 * 1024,
  /** Seeds one swarm command may sweep. */
  swarmSeedsMax: 10_000_000,
  /** Longest key (and scan prefix) of the KV store, in UTF-8 bytes. */
  kvKeyBytesMax: 1024,
  /** Largest value of the KV store, in UTF-8 bytes. */
  kvValueBytesMax: 1024 * 1024,
  /** Most entries one KV scan may ask for. */
  kvScanLimitMax: 1000,
  /** Keys one KV state machine holds, tombstones included (tombstones are kept forever). */
  kvKeysMax: 1_000_000,
  /** UTF-8 bytes of all keys (tombstones included) plus all live values of one KV state machine. */
  kvStateBytesMax: 256 * 1024 * 1024,
  /**
   * Largest KV snapshot `restore` accepts: the state bound plus at most 24 bytes of MessagePack
   * framing per key (string headers of 3 and 5 bytes, a version of up to 9), so every state the
   * bounds above allow can be restored.
   */
  kvSnapshotBytesMax: 256 * 1024 * 1024 + 1_000_000 * 24 + 64,
} as const;

assert(limits.messageSizeMax > 0, "messageSizeMax must be positive");
assert(limits.simNodesMax >= 1, "simNodesMax must allow one node");
assert(limits.traceEventsMax <= limits.simEventsMax, "trace cannot hold more events than a run executes");
