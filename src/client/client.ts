/**
 * The Phalanx client library: a connection to a PBFT cluster, with the KV operations as
 * promises.
 *
 * ```ts
 * import { connect } from "phalanx/client";
 * const kv = await connect({ dir: "./data" });          // cluster.json + keys/client-0.json
 * const { version } = await kv.put("a", "1");
 * const { value } = await kv.get("a");                   // "1"
 * await kv.close();
 * ```
 *
 * Underneath, each of `sessions` PBFT clients (src/smr/pbft/client.ts, the same core the
 * simulator checks) runs one request at a time with its own timestamps: a result is accepted on
 * f+1 matching replies (a quorum with the read-only optimization, which is on: gets and scans
 * are answered without ordering when a quorum agrees, and ordered otherwise); requests are
 * retransmitted to every replica with a doubling timeout, which also finds a new primary after
 * a view change. Operations beyond `sessions` wait in a queue. Every operation has a timeout
 * and takes an AbortSignal; errors are typed (errors.ts).
 */

import { decodeSafe, encode } from "../core/codec.ts";
import type { Millis, NodeId } from "../core/ids.ts";
import type { KvOp, KvResult, KvScanEntry } from "../kv/ops.ts";
import { validateKvOp } from "../kv/ops.ts";
import { clientKeyPath, clientSessionsMax, loadCluster, readKeyFile } from "../runtime/config.ts";
import { type CryptoPort, Driver, MemoryStorage, NodeCrypto } from "../runtime/driver.ts";
import { Metrics } from "../runtime/metrics.ts";
import { selfSignedCertificate } from "../runtime/tls.ts";
import { Transport } from "../runtime/transport.ts";
import { openFrame, WireOut } from "../runtime/wire.ts";
import { type ClientOutput, type ClientTimer, PbftClient } from "../smr/pbft/client.ts";
import { type PbftOptions, pbftConfig } from "../smr/pbft/config.ts";
import type { PbftMsg } from "../smr/pbft/messages.ts";
import { AbortedError, BadRequestError, ClosedError, TimeoutError } from "./errors.ts";

export { AbortedError, BadRequestError, ClosedError, TimeoutError } from "./errors.ts";

export interface ConnectOptions {
  /** Directory written by `phalanx init`; default "./data". */
  dir?: string;
  /** Cluster configuration; default `<dir>/cluster.json`. */
  config?: string;
  /** Which client key of the configuration to use (keys/client-<k>.json); default 0. */
  client?: number;
  /** Requests in flight at once (each a PBFT client session); default 16, at most 1024. */
  sessions?: number;
  /** Default timeout of one operation; default 10,000 ms. */
  timeoutMs?: Millis;
  /** PBFT's read-only optimization; default on. */
  readOnlyOptimization?: boolean;
  /** Warnings (a dropped frame, a refused link): default silent. */
  log?: (level: "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>) => void;
}

type LogFn = (level: "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>) => void;

export interface CallOptions {
  signal?: AbortSignal;
  timeoutMs?: Millis;
}

interface Pending {
  op: KvOp;
  bytes: Uint8Array;
  readOnly: boolean;
  resolve(r: KvResult): void;
  reject(e: Error): void;
  settled: boolean;
}

interface Session {
  id: NodeId;
  driver: Driver<PbftMsg, ClientTimer>;
  current: Pending | undefined;
}

export class PhalanxClient {
  private readonly queue: Pending[] = [];
  private readonly sessions: Session[] = [];
  private closed = false;
  private close_: () => Promise<void> = async () => {};
  readonly metrics = new Metrics();

  private constructor(
    readonly replicaIds: readonly NodeId[],
    private readonly defaultTimeoutMs: Millis,
  ) {}

  /**
   * A client over any message link (the TLS transport in `connect`, stdin/stdout in Maelstrom
   * mode): `transmit` puts a message from one of this client's sessions on the wire; the link
   * calls `deliver` with what arrives for them. Sessions have ids identity..identity+sessions-1.
   */
  static create(o: {
    replicaIds: readonly NodeId[];
    pbft: Partial<PbftOptions>;
    crypto: CryptoPort;
    identity: number;
    sessions: number;
    timeoutMs?: Millis;
    readOnlyOptimization?: boolean;
    transmit(from: NodeId, to: NodeId, msg: PbftMsg): void;
    log?: LogFn;
  }): PhalanxClient {
    const client = new PhalanxClient(o.replicaIds, o.timeoutMs ?? 10_000);
    const config = pbftConfig([...o.replicaIds], o.pbft);
    // Epoch-based time: a client's timestamps must grow across restarts of the process.
    const now = () => performance.timeOrigin + performance.now();
    const sessions = Math.max(1, Math.min(o.sessions, clientSessionsMax));
    for (let s = 0; s < sessions; s++) {
      const id = (o.identity + s) as NodeId;
      const session: Session = {
        id,
        driver: undefined as unknown as Driver<PbftMsg, ClientTimer>,
        current: undefined,
      };
      const core = new PbftClient(
        config,
        () => {
          const next = client.take();
          session.current = next;
          return next === undefined ? undefined : { op: next.bytes, readOnly: next.readOnly };
        },
        { readOnlyOptimization: o.readOnlyOptimization ?? true },
      );
      session.driver = new Driver<PbftMsg, ClientTimer>(core, {
        self: id,
        nodes: o.replicaIds,
        storage: new MemoryStorage(),
        crypto: o.crypto,
        metrics: client.metrics,
        now,
        transmit: (to, msg) => o.transmit(id, to, msg),
        onOutput: (rec) => {
          const out = rec as ClientOutput;
          if (out.kind !== "complete") return;
          const p = session.current;
          session.current = undefined;
          if (p !== undefined) client.settle(p, out.result);
        },
        log: o.log ?? (() => {}),
      });
      client.sessions.push(session);
    }
    client.identity = o.identity;
    for (const s of client.sessions) s.driver.start();
    return client;
  }

  private identity = 0;

  /** A message from replica `from` for session `to`; anything else is dropped and counted. */
  deliver(from: NodeId, to: NodeId, msg: PbftMsg): void {
    const session = this.sessions[to - this.identity];
    if (session === undefined || !this.replicaIds.includes(from)) {
      this.metrics.count("client.misaddressed");
      return;
    }
    session.driver.deliver(from, msg);
  }

  static async connect(o: ConnectOptions = {}): Promise<PhalanxClient> {
    const dir = o.dir ?? "./data";
    const cluster = loadCluster(o.config ?? `${dir}/cluster.json`);
    const k = o.client ?? 0;
    const keys = readKeyFile(clientKeyPath(dir, k), cluster);
    const log = o.log ?? (() => {});
    let wire: WireOut | undefined;
    const client = PhalanxClient.create({
      replicaIds: cluster.replicas.map((r) => r.id as NodeId),
      pbft: cluster.pbft,
      crypto: new NodeCrypto(keys, cluster),
      identity: keys.id,
      sessions: o.sessions ?? 16,
      timeoutMs: o.timeoutMs,
      readOnlyOptimization: o.readOnlyOptimization,
      transmit: (from, to, msg) => wire?.send(from, to, msg),
      log,
    });
    const certPem = await selfSignedCertificate(
      { privateKey: keys.signPrivate, publicKey: keys.signPublic },
      `phalanx-client-${k}`,
    );
    const dial = new Map<number, { host: string; port: number }>();
    for (const r of cluster.replicas) dial.set(r.id, { host: r.host, port: r.port });
    const transport = new Transport({
      self: { id: keys.id, privateKey: keys.signPrivate, publicKey: keys.signPublic, certPem },
      dial,
      identify: (raw) => cluster.byPublicKey.get(Buffer.from(raw).toString("base64")),
      onFrame: (identity, payload) => {
        const opened = openFrame(identity, payload);
        for (const d of opened.dropped) client.metrics.count(d);
        for (const env of opened.envelopes) client.deliver(env.from, env.to, env.msg as PbftMsg);
      },
      log,
      count: (m, by) => client.metrics.count(m, by),
    });
    wire = new WireOut(transport, (m, by) => client.metrics.count(m, by));
    client.close_ = () => transport.close();
    await transport.start();
    return client;
  }

  // ------------------------------------------------------------ operations

  async get(key: string, o?: CallOptions): Promise<{ value: string | null; version: number }> {
    const r = await this.call({ kind: "get", key }, o);
    return r.kind === "get" ? { value: r.value, version: r.version } : unexpected(r);
  }

  async put(key: string, value: string, o?: CallOptions): Promise<{ version: number }> {
    const r = await this.call({ kind: "put", key, value }, o);
    return r.kind === "put" ? { version: r.version } : unexpected(r);
  }

  async delete(key: string, o?: CallOptions): Promise<{ existed: boolean }> {
    const r = await this.call({ kind: "delete", key }, o);
    return r.kind === "delete" ? { existed: r.existed } : unexpected(r);
  }

  /** Sets `key` to `to` if its value is `from` (null: if it is absent). */
  async cas(
    key: string,
    from: string | null,
    to: string,
    o?: CallOptions,
  ): Promise<{ ok: boolean; version: number }> {
    const r = await this.call({ kind: "cas", key, from, to }, o);
    return r.kind === "cas" ? { ok: r.ok, version: r.version } : unexpected(r);
  }

  async scan(prefix: string, limit = 100, o?: CallOptions): Promise<KvScanEntry[]> {
    const r = await this.call({ kind: "scan", prefix, limit }, o);
    return r.kind === "scan" ? r.entries : unexpected(r);
  }

  /** Any KV operation; an `error` result rejects with BadRequestError. */
  call(op: KvOp, o: CallOptions = {}): Promise<KvResult> {
    if (this.closed) return Promise.reject(new ClosedError());
    const checked = validateKvOp(op);
    if ("error" in checked)
      return Promise.reject(new BadRequestError(checked.error.code, checked.error.message));
    if (o.signal?.aborted) return Promise.reject(new AbortedError());
    return new Promise<KvResult>((resolve, reject) => {
      const timeoutMs = o.timeoutMs ?? this.defaultTimeoutMs;
      const started = performance.now();
      const timer = setTimeout(() => fail(new TimeoutError(timeoutMs)), timeoutMs);
      const onAbort = () => fail(new AbortedError());
      o.signal?.addEventListener("abort", onAbort, { once: true });
      const done = () => {
        clearTimeout(timer);
        o.signal?.removeEventListener("abort", onAbort);
      };
      const p: Pending = {
        op: checked,
        bytes: encode(checked),
        readOnly: checked.kind === "get" || checked.kind === "scan",
        settled: false,
        resolve: (r) => {
          done();
          this.metrics.histogram("client.latency").observe(performance.now() - started);
          if (r.kind === "error") reject(new BadRequestError(r.code, r.message));
          else resolve(r);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      };
      const fail = (e: Error) => {
        if (p.settled) return;
        p.settled = true;
        // Still queued: it will never be sent. Already sent: its session finishes it unseen.
        const i = this.queue.indexOf(p);
        if (i >= 0) this.queue.splice(i, 1);
        p.reject(e);
      };
      this.queue.push(p);
      this.kick();
    });
  }

  /** Stops every session and closes the links. Pending operations reject with ClosedError. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.sessions) {
      s.driver.stop();
      if (s.current !== undefined && !s.current.settled) {
        s.current.settled = true;
        s.current.reject(new ClosedError());
      }
    }
    for (const p of this.queue.splice(0)) {
      p.settled = true;
      p.reject(new ClosedError());
    }
    await this.close_();
  }

  // ------------------------------------------------------------ sessions

  /** Start idle sessions on queued operations. */
  private kick(): void {
    for (const s of this.sessions) {
      if (this.queue.length === 0) return;
      if (s.current === undefined) s.driver.soon({ kind: "next" });
    }
  }

  /** The next operation for a session that asks (skipping ones that timed out or were aborted). */
  private take(): Pending | undefined {
    for (;;) {
      const p = this.queue.shift();
      if (p === undefined || !p.settled) return p;
    }
  }

  private settle(p: Pending, result: Uint8Array): void {
    if (!p.settled) {
      p.settled = true;
      let r: KvResult;
      try {
        r = decodeSafe<KvResult>(result);
      } catch {
        p.reject(new BadRequestError("BAD_OP", "the cluster's agreed result does not decode"));
        this.kick();
        return;
      }
      p.resolve(r);
    }
    this.kick();
  }
}

function unexpected(r: KvResult): never {
  throw new BadRequestError("BAD_OP", `unexpected result kind ${r.kind}`);
}

export function connect(o: ConnectOptions = {}): Promise<PhalanxClient> {
  return PhalanxClient.connect(o);
}
