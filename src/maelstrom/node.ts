/**
 * Maelstrom node mode (`phalanx maelstrom`): lets Jepsen's Maelstrom test Phalanx. One JSON
 * message per line on stdin and stdout (https://github.com/jepsen-io/maelstrom, protocol.md);
 * logs go to stderr.
 *
 * Each Maelstrom node n_i runs a PBFT replica with id i (the order of `node_ids` in `init`) and
 * a PBFT client: the lin-kv workload's `read`, `write` and `cas` from Maelstrom's clients
 * become KV operations that the node's client submits to the whole replica group and answers
 * once f+1 (here: a quorum, read-only optimization on) matching replies agree. PBFT messages
 * between nodes travel as Maelstrom messages `{"type": "pbft", "m": <base64 MessagePack of
 * [from, to, message]>}`.
 *
 * Keys and values: lin-kv keys and values are JSON values; they are stored as their JSON text,
 * so `read` returns exactly the JSON value that was written. Errors: 20 key-does-not-exist (a
 * read or cas of a key with no value), 22 precondition-failed (cas whose `from` differs),
 * 0 timeout (no agreed answer in time; Maelstrom treats it as indeterminate), 13 crash.
 *
 * Keys: Maelstrom's network is the trust boundary here, so each node's Ed25519 and MAC keys
 * are derived from public names (SHA-256 of "phalanx-maelstrom/" and the node id): this mode
 * tests the protocol's behaviour under Maelstrom's faults, not its cryptography. Use
 * `phalanx init` keys for anything real.
 */
import { createInterface } from "node:readline";
import { PhalanxClient } from "../client/client.ts";
import { PhalanxClientError } from "../client/errors.ts";
import { decodeSafe, encode } from "../core/codec.ts";
import type { NodeId } from "../core/ids.ts";
import { sha256 } from "../crypto/digest.ts";
import { checkMacWith, MacKey, macWith } from "../crypto/mac.ts";
import { sign as edSign, verify as edVerify, type KeyPair, keyPairFromSeed } from "../crypto/sign.ts";
import { kvServiceFactory } from "../kv/service.ts";
import { clientIdBase, clientSessionsMax, identityOf } from "../runtime/config.ts";
import { type CryptoPort, Driver, MemoryStorage } from "../runtime/driver.ts";
import { Metrics } from "../runtime/metrics.ts";
import { pbftConfig } from "../smr/pbft/config.ts";
import type { PbftMsg } from "../smr/pbft/messages.ts";
import { type PbftTimer, Replica } from "../smr/pbft/replica.ts";

interface MaelstromMsg {
  src: string;
  dest: string;
  body: { type: string; msg_id?: number; in_reply_to?: number; [k: string]: unknown };
}

/** Deterministic per-node keys (see the module comment). */
class NamedCrypto implements CryptoPort {
  private readonly own: KeyPair;
  private readonly others = new Map<number, KeyPair>();
  private readonly macs = new Map<number, MacKey>();

  constructor(
    private readonly self: number,
    private readonly names: readonly string[],
  ) {
    this.own = this.keysOf(identityOf(self));
  }

  private nameOf(identity: number): string {
    if (identity < clientIdBase) return this.names[identity] ?? `?${identity}`;
    return `${this.names[(identity - clientIdBase) / clientSessionsMax] ?? "?"}/client`;
  }

  private keysOf(identity: number): KeyPair {
    let k = this.others.get(identity);
    if (k === undefined) {
      k = keyPairFromSeed(sha256(`phalanx-maelstrom/${this.nameOf(identity)}`));
      this.others.set(identity, k);
    }
    return k;
  }

  sign(data: Uint8Array): Uint8Array {
    return edSign(this.own.privateKey, data);
  }
  verify(signer: number, data: Uint8Array, signature: Uint8Array): boolean {
    return edVerify(this.keysOf(identityOf(signer)).publicKey, data, signature);
  }
  private macKey(peer: number): MacKey {
    const a = this.nameOf(identityOf(this.self));
    const b = this.nameOf(identityOf(peer));
    const pair = a < b ? `${a}|${b}` : `${b}|${a}`;
    const id = identityOf(peer);
    let m = this.macs.get(id);
    if (m === undefined) {
      m = new MacKey(sha256(`phalanx-maelstrom-mac/${pair}`));
      this.macs.set(id, m);
    }
    return m;
  }
  mac(peer: number, data: Uint8Array): Uint8Array {
    return macWith(this.macKey(peer), data);
  }
  checkMac(peer: number, data: Uint8Array, tag: Uint8Array): boolean {
    return checkMacWith(this.macKey(peer), data, tag);
  }
}

export interface MaelstromIo {
  write(line: string): void;
  log(line: string): void;
}

/** One Maelstrom node; `handle` takes each parsed line. Exposed for tests. */
export class MaelstromNode {
  private nodeId = "";
  private names: string[] = [];
  private index = -1;
  private replica: Driver<PbftMsg, PbftTimer> | undefined;
  private client: PhalanxClient | undefined;
  private nextMsgId = 1;
  readonly metrics = new Metrics();

  constructor(private readonly io: MaelstromIo) {}

  private send(dest: string, body: Record<string, unknown>): void {
    this.io.write(JSON.stringify({ src: this.nodeId, dest, body: { msg_id: this.nextMsgId++, ...body } }));
  }

  private reply(req: MaelstromMsg, body: Record<string, unknown>): void {
    this.send(req.src, { ...body, in_reply_to: req.body.msg_id });
  }

  /** A PBFT message from one of our processes (replica or client session) to id `to`. */
  private transmit(from: NodeId, to: NodeId, msg: PbftMsg): void {
    const identity = identityOf(to);
    const nodeIndex = identity < clientIdBase ? identity : (identity - clientIdBase) / clientSessionsMax;
    if (nodeIndex === this.index) {
      queueMicrotask(() => this.deliverLocal(from, to, msg));
      return;
    }
    const dest = this.names[nodeIndex];
    if (dest === undefined) return;
    this.send(dest, { type: "pbft", m: Buffer.from(encode([from, to, msg])).toString("base64") });
  }

  private deliverLocal(from: NodeId, to: NodeId, msg: PbftMsg): void {
    if (to < clientIdBase) this.replica?.deliver(from, msg);
    else this.client?.deliver(from, to, msg);
  }

  /** Stops timers and sessions (tests; a real node runs until stdin closes). */
  async stop(): Promise<void> {
    this.replica?.stop();
    await this.client?.close();
  }

  handle(m: MaelstromMsg): void {
    const body = m.body;
    switch (body.type) {
      case "init":
        this.init(m);
        return;
      case "pbft":
        this.onPbft(m);
        return;
      case "read":
      case "write":
      case "cas":
        void this.onKv(m);
        return;
      default:
        if (body.msg_id !== undefined)
          this.reply(m, { type: "error", code: 10, text: `unsupported: ${body.type}` });
    }
  }

  private init(m: MaelstromMsg): void {
    this.nodeId = String(m.body.node_id);
    this.names = (m.body.node_ids as unknown[]).map(String);
    this.index = this.names.indexOf(this.nodeId);
    const n = this.names.length;
    const replicaIds = this.names.map((_, i) => i as NodeId);
    const log = (level: string, msg: string, fields?: Record<string, unknown>) =>
      this.io.log(JSON.stringify({ level, msg, ...fields }));
    // Maelstrom's default latencies are tens of ms: timeouts well above a round trip.
    const pbft = { requestTimeoutMs: 1000, viewChangeTimeoutMs: 1000, catchUpMs: 300 };
    const replica = new Replica(pbftConfig(replicaIds, pbft), kvServiceFactory);
    this.replica = new Driver<PbftMsg, PbftTimer>(replica, {
      self: this.index as NodeId,
      nodes: replicaIds,
      storage: new MemoryStorage(),
      crypto: new NamedCrypto(this.index, this.names),
      metrics: this.metrics,
      transmit: (to, msg) => this.transmit(this.index as NodeId, to, msg),
      log,
    });
    const identity = clientIdBase + this.index * clientSessionsMax;
    this.client = PhalanxClient.create({
      replicaIds,
      pbft,
      crypto: new NamedCrypto(identity, this.names),
      identity,
      sessions: 64,
      timeoutMs: 5000,
      transmit: (from, to, msg) => this.transmit(from, to, msg),
      log,
    });
    this.replica.start();
    this.reply(m, { type: "init_ok" });
    log("info", `node ${this.nodeId}: PBFT replica ${this.index} of ${n}`);
  }

  private onPbft(m: MaelstromMsg): void {
    const from = this.names.indexOf(m.src);
    if (from < 0 || typeof m.body.m !== "string") {
      this.metrics.count("maelstrom.bad-pbft-message");
      return;
    }
    let decoded: unknown;
    try {
      decoded = decodeSafe(Buffer.from(m.body.m, "base64"));
    } catch {
      this.metrics.count("maelstrom.bad-pbft-message");
      return;
    }
    if (!Array.isArray(decoded) || decoded.length !== 3) return;
    const [src, to, msg] = decoded as [number, number, PbftMsg];
    const srcIdentity = identityOf(src);
    const srcNode =
      srcIdentity < clientIdBase ? srcIdentity : (srcIdentity - clientIdBase) / clientSessionsMax;
    // A node may speak only for its own replica and client sessions.
    if (srcNode !== from) {
      this.metrics.count("maelstrom.spoofed-sender");
      return;
    }
    this.deliverLocal(src as NodeId, to as NodeId, msg);
  }

  private async onKv(m: MaelstromMsg): Promise<void> {
    const c = this.client;
    if (c === undefined) {
      this.reply(m, { type: "error", code: 11, text: "not initialised" });
      return;
    }
    const b = m.body;
    const key = JSON.stringify(b.key);
    try {
      if (b.type === "read") {
        const r = await c.get(key);
        if (r.value === null) this.reply(m, { type: "error", code: 20, text: "key does not exist" });
        else this.reply(m, { type: "read_ok", value: JSON.parse(r.value) });
      } else if (b.type === "write") {
        await c.put(key, JSON.stringify(b.value));
        this.reply(m, { type: "write_ok" });
      } else {
        const from = JSON.stringify(b.from);
        const r = await c.cas(key, from, JSON.stringify(b.to));
        if (r.ok) this.reply(m, { type: "cas_ok" });
        // Version 0: never written (lin-kv has no delete), so the key does not exist.
        else if (r.version === 0) this.reply(m, { type: "error", code: 20, text: "key does not exist" });
        else this.reply(m, { type: "error", code: 22, text: `the value is not ${from}` });
      }
    } catch (e) {
      if (e instanceof PhalanxClientError && e.code === "TIMEOUT") {
        this.reply(m, { type: "error", code: 0, text: e.message });
      } else {
        this.reply(m, { type: "error", code: 13, text: String((e as Error)?.message ?? e) });
      }
    }
  }
}

/** Runs a node on this process's stdin and stdout until stdin closes. */
export async function runMaelstrom(): Promise<void> {
  const node = new MaelstromNode({
    write: (line) => process.stdout.write(`${line}\n`),
    log: (line) => process.stderr.write(`${line}\n`),
  });
  const rl = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of rl) {
    if (line.trim() === "") continue;
    let m: MaelstromMsg;
    try {
      m = JSON.parse(line) as MaelstromMsg;
    } catch {
      process.stderr.write(`ignored a line that is not JSON: ${line.slice(0, 200)}\n`);
      continue;
    }
    if (typeof m !== "object" || m === null || typeof m.body !== "object" || m.body === null) continue;
    node.handle(m);
  }
  await node.stop();
}
