/**
 * Bracha's reliable broadcast as a pure protocol core (the algorithm, its quorums and bounds);
 * src/algorithms/bracha.ts runs it on the simulator against Byzantine strategies and judges it.
 * See that file's comment for the protocol and its properties.
 */
import { assert, assertNever } from "../../core/assert.ts";
import type { NodeId } from "../../core/ids.ts";
import type { Context, Process } from "../../core/process.ts";

export const brachaLimits = {
  /** Processes in one run. */
  nodesMax: 128,
  /** Broadcast instances in one run. */
  broadcastsMax: 64,
  /** Seeds one run may search. */
  searchSeedsMax: 1000,
  /**
   * Open instances per sender: a process accepts sequence numbers from the lowest it has not
   * delivered up to this many beyond it, so a traitor cannot fill its memory with made-up
   * instances, nor crowd out a correct sender's real ones. Messages beyond are dropped and counted.
   */
  seqWindow: 64,
  /** Longest value accepted from a peer, in characters. */
  valueCharsMax: 256,
  /** Instances and violations listed in a report. */
  reportInstancesMax: 8,
  reportViolationsMax: 5,
} as const;

assert(
  brachaLimits.broadcastsMax <= brachaLimits.seqWindow,
  "every broadcast of a run must fit in its sender's window",
);

// ------------------------------------------------------------------------------------ protocol

export type BrachaMsgType = "send" | "echo" | "ready";

export interface BrachaMsg {
  type: BrachaMsgType;
  /** The instance: its sender and the sender's sequence number. */
  sender: number;
  seq: number;
  value: string;
}

export type BrachaOutput =
  | { kind: "broadcast"; sender: number; seq: number; value: string }
  | { kind: "deliver"; sender: number; seq: number; value: string };

/** Quorum sizes for n processes of which up to f are Byzantine. */
export interface Quorums {
  /** ECHOs of one value that make a process READY. */
  echo: number;
  /** READYs of one value that make a process READY (amplification). */
  amplify: number;
  /** READYs of one value that make a process deliver. */
  deliver: number;
}

export function quorumsFor(n: number, f: number): Quorums {
  return { echo: Math.ceil((n + f + 1) / 2), amplify: f + 1, deliver: 2 * f + 1 };
}

/** One vote (ECHO or READY) per peer, the first one counts, and votes per value. */
interface Tally {
  byPeer: Array<string | undefined>;
  votes: Map<string, number>;
}

interface Instance {
  /** The value this process echoed (the sender's first SEND), or null. */
  echoed: string | null;
  readied: boolean;
  delivered: boolean;
  echoes: Tally;
  readies: Tally;
}

/** Instances of one sender at this process. */
interface SenderLog {
  /** Lowest sequence number not delivered yet: instances below it are done and forgotten. */
  low: number;
  open: Map<number, Instance>;
  /** Delivered sequence numbers above `low` (all inside the window). */
  doneAbove: Set<number>;
}

type Ctx = Context<BrachaMsg, never>;

/** The key of a broadcast instance: (sender, sequence). */
export const instanceKey = (sender: number, seq: number) => `${sender}/${seq}`;

export class BrachaNode implements Process<BrachaMsg, never> {
  /** By sender; senders are validated members, so at most n logs. */
  private readonly senders = new Map<number, SenderLog>();
  private peerIndex = new Map<number, number>();

  constructor(
    private readonly quorums: Quorums,
    /** What this process broadcasts when it starts: sequence numbers 1, 2, ... in the window. */
    private readonly originate: ReadonlyArray<{ seq: number; value: string }>,
  ) {
    assert(
      originate.every((b, i) => b.seq === i + 1) && originate.length <= brachaLimits.seqWindow,
      "a process broadcasts sequence numbers 1..k inside its window",
    );
  }

  /** Open instance records, for checkers. */
  instanceCount(): number {
    let open = 0;
    for (const log of this.senders.values()) open += log.open.size;
    return open;
  }

  start(ctx: Ctx): void {
    this.peerIndex = new Map(ctx.nodes.map((id, i) => [id as number, i]));
    for (const { seq, value } of this.originate) {
      ctx.output({ kind: "broadcast", sender: ctx.self, seq, value } satisfies BrachaOutput);
      this.toAll(ctx, { type: "send", sender: ctx.self, seq, value });
    }
  }

  receive(ctx: Ctx, from: NodeId, msg: BrachaMsg): void {
    if (!isBrachaMsg(msg, this.peerIndex)) {
      ctx.count("bracha.malformed");
      return;
    }
    if (!this.peerIndex.has(from)) {
      ctx.count("bracha.unknown-peer");
      return;
    }
    this.handle(ctx, from, msg);
  }

  timeout(_ctx: Ctx, tag: never): void {
    assertNever(tag, "bracha timer");
  }

  private handle(ctx: Ctx, from: NodeId, msg: BrachaMsg): void {
    switch (msg.type) {
      case "send":
        this.onSend(ctx, from, msg);
        return;
      case "echo":
        this.onEcho(ctx, from, msg);
        return;
      case "ready":
        this.onReady(ctx, from, msg);
        return;
      default:
        assertNever(msg.type, "bracha message");
    }
  }

  private onSend(ctx: Ctx, from: NodeId, msg: BrachaMsg): void {
    if (from !== msg.sender) {
      ctx.count("bracha.send-not-from-sender");
      return;
    }
    const inst = this.instanceOf(ctx, msg);
    if (inst === undefined) return;
    if (inst.echoed !== null) {
      ctx.count(inst.echoed === msg.value ? "bracha.duplicate" : "bracha.conflicting");
      return;
    }
    inst.echoed = msg.value;
    this.toAll(ctx, { ...msg, type: "echo" });
  }

  private onEcho(ctx: Ctx, from: NodeId, msg: BrachaMsg): void {
    const inst = this.instanceOf(ctx, msg);
    if (inst === undefined || !this.vote(ctx, inst.echoes, from, msg.value)) return;
    if (votesFor(inst.echoes, msg.value) >= this.quorums.echo) this.ready(ctx, msg, inst);
  }

  private onReady(ctx: Ctx, from: NodeId, msg: BrachaMsg): void {
    const inst = this.instanceOf(ctx, msg);
    if (inst === undefined || !this.vote(ctx, inst.readies, from, msg.value)) return;
    if (votesFor(inst.readies, msg.value) >= this.quorums.amplify) this.ready(ctx, msg, inst);
    // Our own READY (just sent above) may have completed the quorum and delivered already.
    if (!inst.delivered && votesFor(inst.readies, msg.value) >= this.quorums.deliver)
      this.deliver(ctx, msg, inst);
  }

  private deliver(ctx: Ctx, msg: BrachaMsg, inst: Instance): void {
    inst.delivered = true;
    ctx.output({
      kind: "deliver",
      sender: msg.sender,
      seq: msg.seq,
      value: msg.value,
    } satisfies BrachaOutput);
    const log = this.senders.get(msg.sender) as SenderLog;
    log.open.delete(msg.seq);
    log.doneAbove.add(msg.seq);
    while (log.doneAbove.delete(log.low)) log.low++;
  }

  private ready(ctx: Ctx, msg: BrachaMsg, inst: Instance): void {
    if (inst.readied) return;
    inst.readied = true;
    this.toAll(ctx, { ...msg, type: "ready" });
  }

  /** Counts `from`'s vote unless it already voted in this tally (a duplicate or a conflict). */
  private vote(ctx: Ctx, tally: Tally, from: NodeId, value: string): boolean {
    const i = this.peerIndex.get(from) as number;
    const earlier = tally.byPeer[i];
    if (earlier !== undefined) {
      ctx.count(earlier === value ? "bracha.duplicate" : "bracha.conflicting");
      return false;
    }
    tally.byPeer[i] = value;
    tally.votes.set(value, votesFor(tally, value) + 1);
    return true;
  }

  /** The open instance `msg` belongs to; undefined (counted) if it is done or beyond the window. */
  private instanceOf(ctx: Ctx, msg: BrachaMsg): Instance | undefined {
    let log = this.senders.get(msg.sender);
    if (log === undefined) {
      log = { low: 1, open: new Map(), doneAbove: new Set() };
      this.senders.set(msg.sender, log);
    }
    if (msg.seq < log.low || log.doneAbove.has(msg.seq)) {
      ctx.count("bracha.late");
      return undefined;
    }
    if (msg.seq >= log.low + brachaLimits.seqWindow) {
      ctx.count("bracha.beyond-window");
      return undefined;
    }
    const known = log.open.get(msg.seq);
    if (known !== undefined) return known;
    const n = ctx.nodes.length;
    const inst: Instance = {
      echoed: null,
      readied: false,
      delivered: false,
      echoes: { byPeer: new Array(n), votes: new Map() },
      readies: { byPeer: new Array(n), votes: new Map() },
    };
    log.open.set(msg.seq, inst);
    return inst;
  }

  /** Sends to every peer and takes this process's own copy at once (it counts its own vote). */
  private toAll(ctx: Ctx, msg: BrachaMsg): void {
    for (const to of ctx.nodes) {
      if (to === ctx.self) continue;
      ctx.send(to, msg);
      ctx.count("bracha.sent");
    }
    this.handle(ctx, ctx.self, msg);
  }
}

function votesFor(tally: Tally, value: string): number {
  return tally.votes.get(value) ?? 0;
}

/** Validates a message from a peer: shape, a known sender, bounded sequence number and value. */
export function isBrachaMsg(m: unknown, members: ReadonlyMap<number, number>): m is BrachaMsg {
  if (typeof m !== "object" || m === null) return false;
  const o = m as Record<string, unknown>;
  return (
    (o.type === "send" || o.type === "echo" || o.type === "ready") &&
    typeof o.sender === "number" &&
    members.has(o.sender) &&
    Number.isSafeInteger(o.seq) &&
    (o.seq as number) >= 1 &&
    typeof o.value === "string" &&
    o.value.length <= brachaLimits.valueCharsMax
  );
}
