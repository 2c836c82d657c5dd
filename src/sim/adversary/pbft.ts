/**
 * Byzantine strategies against PBFT (testing-anchors 6.3 and 6.5; the PBFT paper's defences are
 * the oracles). Each rewrites the outbox of an otherwise correct replica. A faulty replica signs
 * what it likes with its own key, so its lies are well-formed; it cannot sign for others.
 *
 * Besides rewriting, some strategies act on their own: `twins` runs a second correct replica
 * with the same identity and keys inside the adversary (Twins, OPODIS 2021), the replay
 * strategies re-send old messages they saw, and `floodingClient` is a faulty *client* that
 * floods the replicas with authentic but junk, stale and replayed requests (Aardvark).
 */
import { encode } from "../../core/codec.ts";
import { type Millis, type NodeId, nodeIds } from "../../core/ids.ts";
import { Prng } from "../../core/prng.ts";
import type { Context, Process, TimerId } from "../../core/process.ts";
import { sha256 } from "../../crypto/digest.ts";
import { kvServiceFactory } from "../../kv/service.ts";
import { pbftConfig } from "../../smr/pbft/config.ts";
import {
  batchDigest,
  type Commit,
  commitBytes,
  hex,
  type PbftMsg,
  type PrePrepare,
  prePrepareBytes,
  prepareBytes,
  type Request,
  requestDigest,
  viewChangeBytes,
} from "../../smr/pbft/messages.ts";
import { type PbftTimer, Replica } from "../../smr/pbft/replica.ts";
import { SimStorage } from "../storage.ts";
import { equivocating, injecting, rewriting } from "./strategies.ts";
import type { Adversary, AdversaryApi } from "./types.ts";

/**
 * Strategies a swarm may give to any replica: each keeps the node within "one faulty replica"
 * (a twin pair counts as one). `flood-client` is not here: it belongs on a client node.
 */
export const pbftStrategies = [
  "equivocate",
  "high-seq",
  "stale-view",
  "future-view",
  "bad-signature",
  "bad-digest",
  "bad-mac",
  "view-change-flood",
  "twins",
  "twins-split",
  "replay-client",
  "replay-protocol",
] as const;

/** Strategies for a client node (ids >= n in the pbft scenario). */
export const pbftClientStrategies = ["flood-client", "flood-client-bad-auth"] as const;

/** A pre-prepare for the same (view, seq) with a different batch: the first request dropped. */
function forkPrePrepare(pp: PrePrepare, api: AdversaryApi<PbftMsg>): PrePrepare {
  const batch = (pp.batch ?? []).slice(1);
  const digest = batchDigest(batch);
  return { ...pp, batch, digest, sig: api.sign(prePrepareBytes(pp.view, pp.seq, digest)) };
}

function flip(bytes: Uint8Array): Uint8Array {
  const copy = bytes.slice();
  copy[0] = (copy[0] as number) ^ 0xff;
  return copy;
}

/** A commit's authenticator for `fields`, made with this node's MAC keys (one MAC per replica). */
function recommit(
  c: Commit,
  fields: { view: number; digest: Uint8Array },
  replicas: number,
  api: AdversaryApi<PbftMsg>,
): Commit {
  const data = commitBytes(fields.view, c.seq, fields.digest, c.replica);
  const auth = nodeIds(replicas).map((r) => (r === api.self ? new Uint8Array(32) : api.mac(r, data)));
  return { ...c, ...fields, auth };
}

/**
 * A replica that lives one view behind: its pre-prepares, prepares and commits of view v leave
 * re-signed for view v-1, and in view 0, where there is no earlier view, they are withheld (so
 * as the primary of view 0 it forces a view change, after which everything it says is stale).
 */
function staleView(replicas: number): Adversary<PbftMsg> {
  return rewriting<PbftMsg>("stale-view", (msg, _to, api) => {
    if (msg.type !== "pre-prepare" && msg.type !== "prepare" && msg.type !== "commit") return msg;
    if (msg.view === 0) return undefined;
    const view = msg.view - 1;
    if (msg.type === "pre-prepare")
      return { ...msg, view, sig: api.sign(prePrepareBytes(view, msg.seq, msg.digest)) };
    if (msg.type === "prepare")
      return { ...msg, view, sig: api.sign(prepareBytes(view, msg.seq, msg.digest, msg.replica)) };
    return recommit(msg, { view, digest: msg.digest }, replicas, api);
  });
}

// ------------------------------------------------------------------ twins

export interface TwinsStats {
  /** Messages the twin put on the wire. */
  twinSent: number;
  /** Messages delivered to the twin. */
  twinReceived: number;
  /**
   * (type, view, seq) slots of pre-prepare, prepare or commit for which the twin and the real
   * core sent different digests: equivocation the two copies committed without knowing it.
   */
  conflicts: number;
}

export interface TwinsOptions {
  /** Messages from these nodes reach the twin (the real core hears everyone). */
  hears(from: NodeId): boolean;
  /** The twin's messages reach only these nodes. */
  tells(to: NodeId): boolean;
  /** The real core's messages reach only these nodes (default: everyone, unchanged). */
  realTells?(to: NodeId): boolean;
  /** Extra delay before the twin sees a message it hears. */
  delayMs?: Millis;
}

export type TwinsAdversary = Adversary<PbftMsg> & { readonly stats: TwinsStats };

function slotKey(msg: PbftMsg): string | undefined {
  if (msg.type !== "pre-prepare" && msg.type !== "prepare" && msg.type !== "commit") return undefined;
  return `${msg.type}/${msg.view}/${msg.seq}`;
}

/**
 * Twins: a second, unmodified replica with the same id and the same keys runs inside the
 * adversary, next to the wrapped node's own core, whose outbox is forwarded unchanged (or, with
 * `realTells`, only to some nodes). The twin
 * sees only part of the network (`hears`) and reaches only part of it (`tells`), so the two
 * copies drift apart and, each following the protocol, equivocate and double-vote as one node.
 */
export function twins(makeTwin: () => Process<PbftMsg, PbftTimer>, options: TwinsOptions): TwinsAdversary {
  const stats: TwinsStats = { twinSent: 0, twinReceived: 0, conflicts: 0 };
  const realSaid = new Map<string, string>();
  const twinSaid = new Map<string, string>();
  const note = (mine: Map<string, string>, other: Map<string, string>, msg: PbftMsg) => {
    const key = slotKey(msg);
    if (key === undefined || mine.has(key)) return;
    const d = hex((msg as { digest: Uint8Array }).digest);
    mine.set(key, d);
    const o = other.get(key);
    if (o !== undefined && o !== d) stats.conflicts++;
  };
  let storage: SimStorage | undefined;
  let twin: Process<PbftMsg, PbftTimer> | undefined;
  let ctx: Context<PbftMsg, PbftTimer> | undefined;
  let twinRng: Prng | undefined;

  const makeContext = (api: AdversaryApi<PbftMsg>, me: Process<PbftMsg, PbftTimer>) => {
    let nextTimer = 1;
    const live = new Set<TimerId>();
    const c: Context<PbftMsg, PbftTimer> = {
      self: api.self,
      nodes: api.nodes,
      now: () => api.now(),
      send(to, msg) {
        if (to === api.self || !options.tells(to)) return;
        note(twinSaid, realSaid, msg);
        stats.twinSent++;
        api.send(to, msg);
      },
      setTimer(afterMs, tag) {
        const id = nextTimer++;
        live.add(id);
        api.after(afterMs, () => {
          if (live.delete(id) && twin === me) me.timeout(c, tag);
        });
        return id;
      },
      cancelTimer(id) {
        live.delete(id);
      },
      random: () => (twinRng as Prng).float(),
      storage: storage as SimStorage,
      sign: (data) => api.sign(data),
      verify: (signer, data, sig) => api.verify(signer, data, sig),
      mac: (peer, data) => api.mac(peer, data),
      checkMac: (peer, data, tag) => api.checkMac(peer, data, tag),
      trace() {},
      output() {},
      count() {},
      round: () => -1,
    };
    return c;
  };

  return {
    name: "twins",
    stats,
    onStart(api) {
      // A fresh twin at every (re)start of the node, over the twin's own surviving disk.
      const seed = [api.self as number, 0x7717, 0x5eed, 1] as const;
      storage ??= new SimStorage(new Prng(seed));
      storage.crash("random");
      twinRng ??= new Prng([api.self as number, 0x7717, Math.floor(api.random() * 0x100000000), 2]);
      const me = makeTwin();
      twin = me;
      ctx = makeContext(api, me);
      me.start(ctx);
    },
    onReceive(api, from, msg) {
      const me = twin;
      const c = ctx;
      if (me === undefined || c === undefined || !options.hears(from)) return;
      stats.twinReceived++;
      const delay = options.delayMs ?? 0;
      if (delay > 0) api.after(delay, () => twin === me && me.receive(c, from, msg));
      else me.receive(c, from, msg);
    },
    onSend(api, to, msg) {
      if (options.realTells !== undefined && !options.realTells(to)) return;
      note(realSaid, twinSaid, msg);
      api.send(to, msg);
    },
  };
}

/**
 * The twins split: the twin lives with the upper half of the replicas and every other client.
 * The real core talks to everyone, or with `split` only to the other side, so that the two
 * copies face disjoint groups as in the Twins paper's partitioned scenarios: each group plus
 * its copy of the faulty node must then fail to form a quorum on its own.
 */
export function pbftTwins(replicas: number, split = false): TwinsAdversary {
  const half = Math.ceil(replicas / 2);
  const side = (node: NodeId) => (node >= replicas ? (node - replicas) % 2 === 1 : node >= half);
  const config = pbftConfig(nodeIds(replicas));
  const options: TwinsOptions = { hears: side, tells: side };
  if (split) options.realTells = (to) => !side(to);
  return twins(() => new Replica(config, kvServiceFactory), options);
}

// ------------------------------------------------------------------ replay

export interface ReplayStats {
  /** Messages re-sent. */
  replayed: number;
  /** Distinct messages held for replay. */
  held: number;
}

export type ReplayAdversary = Adversary<PbftMsg> & { readonly stats: ReplayStats };

/**
 * Keeps what `collect` picks out of what the node receives (and, with `own`, what its core
 * sends), and every `everyMs` re-sends `perTick` random ones of them to random replicas (or to
 * all of them). The core's outbox is forwarded unchanged.
 */
function replayer(
  name: string,
  replicas: number,
  collect: (msg: PbftMsg) => PbftMsg[],
  options: { own: boolean; everyMs: Millis; perTick: number; toAll: boolean; max: number },
): ReplayAdversary {
  const stats: ReplayStats = { replayed: 0, held: 0 };
  const held: PbftMsg[] = [];
  const seen = new WeakSet<object>();
  const keep = (msg: PbftMsg, api: AdversaryApi<PbftMsg>) => {
    for (const m of collect(msg)) {
      if (seen.has(m)) continue;
      seen.add(m);
      // Bounded: once full, a random old one makes room.
      if (held.length < options.max) held.push(m);
      else held[Math.floor(api.random() * held.length)] = m;
      stats.held = held.length;
    }
  };
  return {
    name,
    stats,
    onStart(api) {
      const tick = () => {
        for (let k = 0; k < options.perTick && held.length > 0; k++) {
          const msg = held[Math.floor(api.random() * held.length)] as PbftMsg;
          if (options.toAll) {
            for (let r = 0; r < replicas; r++) if (r !== api.self) api.send(r as NodeId, msg);
          } else {
            const to = Math.floor(api.random() * replicas) as NodeId;
            if (to !== api.self) api.send(to, msg);
          }
          stats.replayed++;
        }
        api.after(options.everyMs, tick);
      };
      api.after(options.everyMs, tick);
    },
    onReceive(api, _from, msg) {
      keep(msg, api);
    },
    onSend(api, to, msg) {
      if (options.own) keep(msg, api);
      api.send(to, msg);
    },
  };
}

/** Client requests seen directly or inside pre-prepares, batches and NEW-VIEWs. */
function requestsIn(msg: PbftMsg): PbftMsg[] {
  switch (msg.type) {
    case "request":
      return [msg];
    case "pre-prepare":
    case "batch":
    case "committed":
      return msg.batch ?? [];
    case "new-view":
      return msg.prePrepares.flatMap((p) => p.batch ?? []);
    default:
      return [];
  }
}

const protocolTypes = new Set(["pre-prepare", "prepare", "commit", "checkpoint", "view-change", "new-view"]);

/** Re-sends old client requests it has seen to all replicas, long after they executed. */
export function replayClientRequests(replicas: number): ReplayAdversary {
  return replayer("replay-client", replicas, requestsIn, {
    own: false,
    everyMs: 20,
    perTick: 2,
    toAll: true,
    max: 400,
  });
}

/** Re-sends its own and others' old protocol messages to random replicas at random times. */
export function replayProtocolMessages(replicas: number): ReplayAdversary {
  return replayer("replay-protocol", replicas, (m) => (protocolTypes.has(m.type) ? [m] : []), {
    own: true,
    everyMs: 10,
    perTick: 3,
    toAll: false,
    max: 2000,
  });
}

// ------------------------------------------------------------------ a flooding client

export interface FloodStats {
  /** Requests sent, by kind. */
  fresh: number;
  replayedTimestamp: number;
  staleTimestamp: number;
  junkOp: number;
  badMac: number;
  readOnly: number;
  sent: number;
}

export type FloodAdversary = Adversary<PbftMsg> & { readonly stats: FloodStats };

export interface FloodOptions {
  everyMs: Millis;
  perTick: number;
  /** Ticks in all (the flood then stops). */
  ticks: number;
  /** Share of requests whose authenticator has one replica's MAC corrupted. */
  badMacProb: number;
}

export const defaultFloodOptions: FloodOptions = { everyMs: 10, perTick: 6, ticks: 150, badMacProb: 0 };

/**
 * A faulty client: it holds its own MAC keys, so its requests are authentic, but it floods every
 * replica with them: fresh timestamps, timestamps it already used (with a different op), old
 * timestamps, undecodable ops and read-only requests that are not reads; optionally
 * (`badMacProb`) some requests carry an authenticator with one replica's MAC corrupted, which
 * the primary cannot notice (Aardvark's "partially valid authenticator" attack). Its writes go to keys outside the workload's ("zz..."), so they do not disturb what
 * the linearizability checker judges. The wrapped core's own messages are dropped: the
 * adversary is the client.
 */
export function floodingClient(replicas: number, flood: Partial<FloodOptions> = {}): FloodAdversary {
  const options = { ...defaultFloodOptions, ...flood };
  const stats: FloodStats = {
    fresh: 0,
    replayedTimestamp: 0,
    staleTimestamp: 0,
    junkOp: 0,
    badMac: 0,
    readOnly: 0,
    sent: 0,
  };
  const ids = nodeIds(replicas);
  const used: number[] = [];
  let timestamp = 0;
  const request = (api: AdversaryApi<PbftMsg>, k: number): Request => {
    const x = api.random();
    let ts: number;
    if (x < 0.5 || used.length === 0) {
      timestamp += 1 + Math.floor(api.random() * 3);
      ts = timestamp;
      stats.fresh++;
    } else if (x < 0.75) {
      ts = used[Math.floor(api.random() * used.length)] as number;
      stats.replayedTimestamp++;
    } else {
      ts = Math.floor(api.random() * timestamp);
      stats.staleTimestamp++;
    }
    used.push(ts);
    if (used.length > 1000) used.splice(0, 500);
    const y = api.random();
    let op: Uint8Array;
    let readOnly = false;
    if (y < 0.2) {
      op = new Uint8Array([0xc1, 0xc1, k & 0xff, 0xff]); // 0xc1 is never valid MessagePack
      stats.junkOp++;
    } else if (y < 0.3) {
      op = encode({ kind: "put", key: `zz${k}`, value: "x" });
      readOnly = true;
      stats.readOnly++;
    } else {
      op = encode({ kind: "put", key: `zz${k % 64}`, value: `flood-${k}` });
    }
    const digest = requestDigest(api.self, ts, readOnly, op);
    const auth = ids.map((r) => api.mac(r, digest));
    if (api.random() < options.badMacProb) {
      const victim = Math.floor(api.random() * auth.length);
      auth[victim] = flip(auth[victim] as Uint8Array);
      stats.badMac++;
    }
    return { type: "request", client: api.self, timestamp: ts, op, readOnly, auth };
  };
  return {
    name: options.badMacProb > 0 ? "flood-client-bad-auth" : "flood-client",
    stats,
    onStart(api) {
      let tick = 0;
      let k = 0;
      const go = () => {
        if (tick++ >= options.ticks) return;
        for (let i = 0; i < options.perTick; i++) {
          const req = request(api, k++);
          for (const r of ids) api.send(r, req);
          stats.sent++;
        }
        api.after(options.everyMs, go);
      };
      api.after(options.everyMs, go);
    },
    onSend() {},
  };
}

// ------------------------------------------------------------------ by name

export function pbftAdversary(strategy: string, replicas: number): Adversary<PbftMsg> | undefined {
  switch (strategy) {
    case "equivocate":
      // Different pre-prepares to the two halves of the replicas (CometBFT's split-half pattern).
      return equivocating<PbftMsg>(
        (msg, _to, api) => (msg.type === "pre-prepare" ? forkPrePrepare(msg, api) : msg),
        (to) => to >= Math.ceil(replicas / 2),
      );
    case "high-seq":
      // As primary, proposes sequence numbers far above the high water mark.
      return rewriting<PbftMsg>("high-seq", (msg, _to, api) =>
        msg.type === "pre-prepare"
          ? {
              ...msg,
              seq: msg.seq + 1_000_000,
              sig: api.sign(prePrepareBytes(msg.view, msg.seq + 1_000_000, msg.digest)),
            }
          : msg,
      );
    case "stale-view":
      return staleView(replicas);
    case "future-view":
      // Everything of the normal case labelled 5 views ahead (re-signed, so only the view is wrong).
      return rewriting<PbftMsg>("future-view", (msg, _to, api) => {
        if (msg.type === "pre-prepare") {
          const view = msg.view + 5;
          return { ...msg, view, sig: api.sign(prePrepareBytes(view, msg.seq, msg.digest)) };
        }
        if (msg.type === "prepare") {
          const view = msg.view + 5;
          return { ...msg, view, sig: api.sign(prepareBytes(view, msg.seq, msg.digest, msg.replica)) };
        }
        if (msg.type === "commit")
          return recommit(msg, { view: msg.view + 5, digest: msg.digest }, replicas, api);
        return msg;
      });
    case "bad-signature":
      return rewriting<PbftMsg>("bad-signature", (msg) =>
        "sig" in msg ? { ...msg, sig: flip(msg.sig) } : msg,
      );
    case "bad-digest":
      // Digests that do not match the batch, yet correctly signed: the digest check must catch them.
      return rewriting<PbftMsg>("bad-digest", (msg, _to, api) => {
        const forged = sha256(encode(["forged", msg.type, "seq" in msg ? msg.seq : 0]));
        if (msg.type === "pre-prepare")
          return { ...msg, digest: forged, sig: api.sign(prePrepareBytes(msg.view, msg.seq, forged)) };
        if (msg.type === "prepare")
          return {
            ...msg,
            digest: forged,
            sig: api.sign(prepareBytes(msg.view, msg.seq, forged, msg.replica)),
          };
        if (msg.type === "commit") return recommit(msg, { view: msg.view, digest: forged }, replicas, api);
        if (msg.type === "batch" || msg.type === "committed") return { ...msg, batch: msg.batch.slice(1) };
        return msg;
      });
    case "bad-mac":
      return rewriting<PbftMsg>("bad-mac", (msg) => {
        if (msg.type === "commit") return { ...msg, auth: msg.auth.map(flip) };
        if (msg.type === "reply") return { ...msg, mac: flip(msg.mac) };
        return msg;
      });
    case "view-change-flood":
      // One replica demanding ever higher views: alone it must not force a view change.
      return injecting<PbftMsg>(50, 200, (api, k) => {
        const body = {
          view: k + 1,
          stableSeq: 0,
          stableState: new Uint8Array(32),
          checkpointProof: [],
          prepared: [],
          replica: api.self as NodeId,
        };
        return { type: "view-change", ...body, sig: api.sign(viewChangeBytes(body)) };
      });
    case "twins":
      return pbftTwins(replicas);
    case "twins-split":
      return pbftTwins(replicas, true);
    case "replay-client":
      return replayClientRequests(replicas);
    case "replay-protocol":
      return replayProtocolMessages(replicas);
    case "flood-client":
      return floodingClient(replicas);
    case "flood-client-bad-auth":
      return floodingClient(replicas, { badMacProb: 0.1 });
    default:
      return undefined;
  }
}
