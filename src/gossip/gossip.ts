/**
 * Gossip broadcast: the simulator's built-in example protocol, used by tests, the CLI and the
 * simulator benchmark. Each node originates rumors; a node that sees a rumor for the first time
 * stores it durably, delivers it, and pushes it to `fanout` peers (all of them by default, which
 * is plain flooding). Push-pull anti-entropy (every `antiEntropyMs`, exchange digests with a
 * random peer) repairs what loss, partitions and crashes cut off. With `signed`, rumors carry
 * their origin's Ed25519 signature, so a Byzantine node cannot forge another node's rumor.
 */

import { assertNever } from "../core/assert.ts";
import { decode, encode } from "../core/codec.ts";
import type { NodeId } from "../core/ids.ts";
import { limits } from "../core/limits.ts";
import type { Context, Process } from "../core/process.ts";

export interface RumorMsg {
  type: "rumor";
  origin: number;
  k: number;
  body: string;
  sig?: Uint8Array;
}

export interface DigestMsg {
  type: "digest";
  /** Rumor ids the sender has, as "origin:k". */
  ids: string[];
}

export type GossipMsg = RumorMsg | DigestMsg;

export type GossipTimer = { kind: "originate" } | { kind: "anti-entropy" };

export interface GossipOptions {
  /** Rumors each node originates (default 1). */
  rumorsPerNode: number;
  /** Local time between a node's rumors (default 10 ms). */
  rumorEveryMs: number;
  /** Peers a new rumor is pushed to; 0 means every peer (default 0). */
  fanout: number;
  /** Period of push-pull anti-entropy; 0 turns it off (default 0). */
  antiEntropyMs: number;
  /** Sign rumors and verify signatures (default true). */
  signed: boolean;
}

export const defaultGossipOptions: GossipOptions = {
  rumorsPerNode: 1,
  rumorEveryMs: 10,
  fanout: 0,
  antiEntropyMs: 0,
  signed: true,
};

export type GossipOutput =
  | { kind: "originated"; origin: number; k: number }
  | { kind: "delivered"; origin: number; k: number; from: number };

type Ctx = Context<GossipMsg, GossipTimer>;

const rumorKey = (origin: number, k: number) => `r/${origin}/${k}`;
/** Numeric rumor key: origin and k both stay below 2^21 (limits.simNodesMax, limits.gossipRumorsMax). */
const rumorNum = (origin: number, k: number) => origin * 0x200000 + k;
const rumorId = (origin: number, k: number) => `${origin}:${k}`;

function signedBytes(origin: number, k: number, body: string): Uint8Array {
  return encode(["gossip-rumor", origin, k, body]);
}

export class GossipNode implements Process<GossipMsg, GossipTimer> {
  private readonly rumors = new Map<number, RumorMsg>();
  private originated = 0;
  private readonly options: GossipOptions;

  constructor(options: Partial<GossipOptions> = {}) {
    this.options = { ...defaultGossipOptions, ...options };
  }

  /** Rumor ids this node has, for checkers. */
  known(): ReadonlySet<string> {
    const out = new Set<string>();
    for (const r of this.rumors.values()) out.add(rumorId(r.origin, r.k));
    return out;
  }

  start(ctx: Ctx): void {
    this.recover(ctx);
    if (this.originated < this.options.rumorsPerNode) {
      ctx.setTimer(this.options.rumorEveryMs * (0.5 + ctx.random()), { kind: "originate" });
    }
    if (this.options.antiEntropyMs > 0) {
      ctx.setTimer(this.options.antiEntropyMs * (0.5 + ctx.random()), { kind: "anti-entropy" });
    }
  }

  receive(ctx: Ctx, from: NodeId, msg: GossipMsg): void {
    if (!isGossipMsg(msg, ctx)) {
      ctx.count("gossip.invalid");
      return;
    }
    switch (msg.type) {
      case "rumor":
        this.onRumor(ctx, from, msg);
        return;
      case "digest":
        this.onDigest(ctx, from, msg);
        return;
      default:
        assertNever(msg, "gossip message");
    }
  }

  timeout(ctx: Ctx, tag: GossipTimer): void {
    switch (tag.kind) {
      case "originate":
        this.originate(ctx);
        if (this.originated < this.options.rumorsPerNode) ctx.setTimer(this.options.rumorEveryMs, tag);
        return;
      case "anti-entropy":
        this.antiEntropy(ctx);
        ctx.setTimer(this.options.antiEntropyMs, tag);
        return;
      default:
        assertNever(tag, "gossip timer");
    }
  }

  private recover(ctx: Ctx): void {
    for (const key of ctx.storage.keys("r/")) {
      const bytes = ctx.storage.get(key);
      if (bytes === undefined) continue;
      let r: unknown;
      try {
        r = decode(bytes);
      } catch {
        ctx.count("gossip.storage-corrupt");
        continue;
      }
      if (!isGossipMsg(r, ctx) || r.type !== "rumor" || key !== rumorKey(r.origin, r.k)) {
        ctx.count("gossip.storage-corrupt");
        continue;
      }
      this.rumors.set(rumorNum(r.origin, r.k), r);
      if (r.origin === ctx.self) this.originated = Math.max(this.originated, r.k);
    }
  }

  private originate(ctx: Ctx): void {
    const k = this.originated + 1;
    const body = `rumor ${ctx.self}.${k}`;
    const rumor: RumorMsg = { type: "rumor", origin: ctx.self, k, body };
    if (this.options.signed) rumor.sig = ctx.sign(signedBytes(ctx.self, k, body));
    this.store(ctx, rumor);
    this.originated = k;
    ctx.output({ kind: "originated", origin: ctx.self, k } satisfies GossipOutput);
    this.push(ctx, rumor, ctx.self);
  }

  private onRumor(ctx: Ctx, from: NodeId, msg: RumorMsg): void {
    if (this.rumors.has(rumorNum(msg.origin, msg.k))) {
      ctx.count("gossip.duplicate");
      return;
    }
    if (this.options.signed) {
      if (
        msg.sig === undefined ||
        !ctx.verify(msg.origin as NodeId, signedBytes(msg.origin, msg.k, msg.body), msg.sig)
      ) {
        ctx.count("gossip.bad-signature");
        return;
      }
    }
    if (this.rumors.size >= limits.gossipRumorsMax) {
      ctx.count("gossip.full");
      return;
    }
    this.store(ctx, msg);
    ctx.output({ kind: "delivered", origin: msg.origin, k: msg.k, from } satisfies GossipOutput);
    this.push(ctx, msg, from);
  }

  private onDigest(ctx: Ctx, from: NodeId, msg: DigestMsg): void {
    const theirs = new Set(msg.ids);
    for (const r of this.rumors.values()) if (!theirs.has(rumorId(r.origin, r.k))) ctx.send(from, r);
    const mine = this.known();
    if (msg.ids.some((id) => !mine.has(id))) ctx.send(from, this.digest());
  }

  private antiEntropy(ctx: Ctx): void {
    const peers = ctx.nodes.filter((n) => n !== ctx.self);
    if (peers.length === 0) return;
    const peer = peers[Math.floor(ctx.random() * peers.length)] as NodeId;
    ctx.send(peer, this.digest());
  }

  private digest(): DigestMsg {
    return { type: "digest", ids: [...this.known()].slice(0, limits.gossipDigestIdsMax) };
  }

  /** Durable before it is forwarded: a rumor we pass on survives our crash. */
  private store(ctx: Ctx, rumor: RumorMsg): void {
    this.rumors.set(rumorNum(rumor.origin, rumor.k), rumor);
    ctx.storage.put(rumorKey(rumor.origin, rumor.k), encode(rumor));
    ctx.storage.sync();
  }

  private push(ctx: Ctx, rumor: RumorMsg, except: NodeId): void {
    const nodes = ctx.nodes;
    const fanout = this.options.fanout;
    if (fanout <= 0 || fanout >= nodes.length - 1) {
      for (const to of nodes) if (to !== ctx.self && to !== except) ctx.send(to, rumor);
      return;
    }
    const peers = nodes.filter((n) => n !== ctx.self && n !== except);
    for (let i = 0; i < fanout && peers.length > 0; i++) {
      const j = Math.floor(ctx.random() * peers.length);
      const to = peers[j] as NodeId;
      peers[j] = peers[peers.length - 1] as NodeId;
      peers.pop();
      ctx.send(to, rumor);
    }
  }
}

/** Validates a message from a peer (or storage): shape, bounds and membership. */
export function isGossipMsg(m: unknown, ctx: { nodes: readonly NodeId[] }): m is GossipMsg {
  if (typeof m !== "object" || m === null) return false;
  const o = m as Record<string, unknown>;
  if (o.type === "rumor") {
    return (
      typeof o.origin === "number" &&
      ctx.nodes.includes(o.origin as NodeId) &&
      Number.isSafeInteger(o.k) &&
      (o.k as number) >= 1 &&
      (o.k as number) < 0x200000 &&
      typeof o.body === "string" &&
      o.body.length <= 1024 &&
      (o.sig === undefined || o.sig instanceof Uint8Array)
    );
  }
  if (o.type === "digest") {
    return (
      Array.isArray(o.ids) &&
      o.ids.length <= limits.gossipDigestIdsMax &&
      o.ids.every((x) => typeof x === "string")
    );
  }
  return false;
}
