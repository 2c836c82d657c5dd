/**
 * One replica as an OS process: the PBFT core (src/smr/pbft/replica.ts) with the KV service,
 * driven for real (driver.ts) over TLS links (transport.ts) with its log, checkpoints and state
 * in lmdb (storage.ts), and an HTTP endpoint for `/metrics` (Prometheus text) and `/status`
 * (JSON). On start it recovers what it had on disk, then catches up from the others by the
 * protocol's own gap filling and state transfer.
 *
 * `byzantine` wraps the replica with one of the simulator's adversary strategies
 * (src/sim/adversary/): a demonstration that a lying replica cannot fool the cluster. It is
 * off unless asked for and logged loudly when on.
 */
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import type { NodeId } from "../core/ids.ts";
import { limits } from "../core/limits.ts";
import { kvServiceFactory } from "../kv/service.ts";
import type { Adversary, AdversaryApi } from "../sim/adversary/types.ts";
import { pbftConfig } from "../smr/pbft/config.ts";
import type { PbftMsg } from "../smr/pbft/messages.ts";
import { type PbftTimer, Replica } from "../smr/pbft/replica.ts";
import { byzantineAdversary } from "./byzantine.ts";
import {
  type ClusterConfig,
  clientIdBase,
  loadCluster,
  readKeyFile,
  replicaDataPath,
  replicaKeyPath,
} from "./config.ts";
import { Driver, NodeCrypto } from "./driver.ts";
import { Metrics } from "./metrics.ts";
import type { ReplicaStatus } from "./status.ts";

export type { ReplicaStatus } from "./status.ts";

import { type DurableStorage, openLmdbStorage } from "./storage.ts";
import { selfSignedCertificate } from "./tls.ts";
import { Transport } from "./transport.ts";
import { openFrame, WireOut } from "./wire.ts";

export type LogFn = (level: "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>) => void;

export interface ReplicaHostOptions {
  /** The directory `phalanx init` wrote (cluster.json, keys/, replica-<id>/). */
  dir: string;
  /** Default `<dir>/cluster.json`. */
  configPath?: string;
  id: number;
  byzantine?: string;
  log: LogFn;
}

export class ReplicaHost {
  private constructor(
    readonly cluster: ClusterConfig,
    readonly replica: Replica,
    readonly driver: Driver<PbftMsg, PbftTimer>,
    readonly transport: Transport,
    readonly storage: DurableStorage,
    readonly metrics: Metrics,
    private readonly http: { close(cb?: (err?: Error) => void): void },
    readonly byzantine: string | null,
  ) {}

  static async start(o: ReplicaHostOptions): Promise<ReplicaHost> {
    const cluster = loadCluster(o.configPath ?? `${o.dir}/cluster.json`);
    const me = cluster.replicas[o.id];
    if (me === undefined) {
      throw new Error(
        `replica ${o.id} is not in ${cluster.path} (it lists ids 0..${cluster.replicas.length - 1})`,
      );
    }
    const keys = readKeyFile(replicaKeyPath(o.dir, o.id), cluster);
    const metrics = new Metrics();
    const storage = openLmdbStorage(replicaDataPath(o.dir, o.id));
    const replicaIds = cluster.replicas.map((r) => r.id as NodeId);
    const config = pbftConfig(replicaIds, cluster.pbft);
    const replica = new Replica(config, kvServiceFactory);
    const certPem = await selfSignedCertificate(
      { privateKey: keys.signPrivate, publicKey: keys.signPublic },
      `phalanx-replica-${o.id}`,
    );

    let transport: Transport | undefined;
    let wire: WireOut | undefined;
    const wireSend = (to: NodeId, msg: PbftMsg): void => {
      if (to === o.id) {
        queueMicrotask(() => driver.deliver(to, msg));
        return;
      }
      wire?.send(o.id as NodeId, to, msg);
    };
    // Request-to-reply latency as this replica sees it (arrival of a client's request to the
    // departure of our reply), bounded like the protocol's own pending table.
    const arrivals = new Map<string, number>();
    const requestLatency = metrics.histogram("pbft.request-latency");
    const noteOut = (msg: PbftMsg) => {
      if (msg.type !== "reply") return;
      const k = `${msg.client}/${msg.timestamp}`;
      const t = arrivals.get(k);
      if (t === undefined) return;
      arrivals.delete(k);
      requestLatency.observe(performance.now() - t);
      metrics.count(msg.readOnly ? "pbft.replies-read-only" : "pbft.replies");
    };
    const noteIn = (msg: PbftMsg) => {
      // Not validated yet: read it with care.
      if (typeof msg !== "object" || msg === null || msg.type !== "request") return;
      metrics.count("pbft.requests-received");
      if (arrivals.size >= limits.pbftPendingRequestsMax) {
        const oldest = arrivals.keys().next().value;
        if (oldest !== undefined) arrivals.delete(oldest);
      }
      const k = `${msg.client}/${msg.timestamp}`;
      if (!arrivals.has(k)) arrivals.set(k, performance.now());
    };
    let adversary: Adversary<PbftMsg> | undefined;
    let api: AdversaryApi<PbftMsg> | undefined;
    const driver: Driver<PbftMsg, PbftTimer> = new Driver<PbftMsg, PbftTimer>(replica, {
      self: o.id as NodeId,
      nodes: replicaIds,
      storage,
      crypto: new NodeCrypto(keys, cluster),
      metrics,
      transmit: (to, msg) => {
        noteOut(msg);
        if (adversary !== undefined && api !== undefined) adversary.onSend(api, to, msg);
        else wireSend(to, msg);
      },
      onOutput: (rec) => {
        const r = rec as { kind?: string; requests?: number };
        if (r.kind === "executed") {
          metrics.count("pbft.batches-executed");
          metrics.count("pbft.requests-executed", r.requests ?? 0);
        }
      },
      log: o.log,
    });
    if (o.byzantine !== undefined) {
      const made = byzantineAdversary(o.byzantine, cluster.replicas.length, driver, wireSend);
      adversary = made.adversary;
      api = made.api;
      o.log(
        "warn",
        `BYZANTINE MODE: replica ${o.id} runs adversary strategy "${o.byzantine}"; it lies on purpose`,
      );
    }
    const dial = new Map<number, { host: string; port: number }>();
    for (const r of cluster.replicas) if (r.id !== o.id) dial.set(r.id, { host: r.host, port: r.port });
    transport = new Transport({
      self: { id: o.id, privateKey: keys.signPrivate, publicKey: keys.signPublic, certPem },
      listen: { host: me.host, port: me.port },
      dial,
      identify: (raw) => cluster.byPublicKey.get(Buffer.from(raw).toString("base64")),
      onFrame: (identity, payload) => {
        metrics.count("net.frames-in");
        metrics.count("net.bytes-in", payload.byteLength);
        const opened = openFrame(identity, payload);
        for (const d of opened.dropped) metrics.count(d);
        for (const env of opened.envelopes) {
          if (env.to !== o.id) {
            metrics.count("runtime.misaddressed");
            continue;
          }
          if (adversary?.onReceive !== undefined && api !== undefined)
            adversary.onReceive(api, env.from, env.msg as PbftMsg);
          noteIn(env.msg as PbftMsg);
          driver.deliver(env.from, env.msg as PbftMsg);
        }
      },
      log: o.log,
      count: (m, by) => metrics.count(m, by),
    });
    wire = new WireOut(transport, (m, by) => metrics.count(m, by));
    metrics.gauge("storage_commits", () => storage.stats.commits);
    metrics.gauge("pbft_view", () => replica.view);
    metrics.gauge("pbft_last_executed", () => replica.lastExecuted);
    metrics.gauge("pbft_stable_checkpoint", () => replica.h);
    metrics.gauge("pbft_is_primary", () => (replica.isPrimary() ? 1 : 0));
    metrics.gauge("net_connected_peers", () => transport?.connectedPeers().length ?? 0);

    const byzantine = o.byzantine ?? null;
    let host: ReplicaHost | undefined;
    const app = new Hono();
    app.get("/metrics", (c) =>
      c.text(metrics.render(), 200, { "content-type": "text/plain; version=0.0.4" }),
    );
    app.get("/status", (c) => c.json(host?.status() ?? { starting: true }));
    const http = await new Promise<{ close(cb?: (err?: Error) => void): void }>((resolve, reject) => {
      const server = serve({ fetch: app.fetch, hostname: me.host, port: me.httpPort }, () => resolve(server));
      server.once("error", reject);
    });
    await transport.start();
    host = new ReplicaHost(cluster, replica, driver, transport, storage, metrics, http, byzantine);
    if (adversary !== undefined && api !== undefined) adversary.onStart?.(api);
    driver.start();
    o.log("info", `replica ${o.id} listening`, {
      peers: `${me.host}:${me.port}`,
      http: `http://${me.host}:${me.httpPort}`,
      recoveredExecuted: replica.lastExecuted,
      view: replica.view,
    });
    return host;
  }

  status(): ReplicaStatus {
    const r = this.replica;
    return {
      id: r.self,
      view: r.view,
      primary: r.primary(),
      isPrimary: r.isPrimary(),
      status: r.status,
      lastExecuted: r.lastExecuted,
      stableCheckpoint: r.h,
      peers: this.transport.connectedPeers().filter((id) => id < clientIdBase),
      clients: this.transport.connectedPeers().filter((id) => id >= clientIdBase).length,
      byzantine: this.byzantine,
      keys: (r.service as unknown as { machine?: { keyCount?: number } }).machine?.keyCount ?? -1,
    };
  }

  /** Stops timers, waits for pending disk commits, closes links, HTTP and the database. */
  async close(): Promise<void> {
    this.driver.stop();
    await this.driver.idle();
    await this.transport.close();
    await new Promise<void>((r) => this.http.close(() => r()));
    await this.storage.close();
  }
}
