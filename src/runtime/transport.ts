/**
 * Authenticated message links between the nodes of a cluster: TLS 1.3 over TCP, both ends
 * presenting a self-signed certificate that carries their Ed25519 identity key (tls.ts). A
 * certificate proves nothing by itself; a link is accepted only if the peer's key is the one the
 * configuration lists (`identify`), and a dialer also checks that the key is that of the node it
 * meant to reach. Strangers are refused, logged and counted.
 *
 * Each replica dials every node in `dial` and keeps those outbound links up, reconnecting with
 * jittered exponential backoff; frames to a dialed node go out on that link and wait in a
 * bounded queue while it is down. Clients only dial; a replica answers a client on the client's
 * most recent inbound link. Delivery is at most once: frames already handed to a socket that
 * then breaks are lost, which the protocols above tolerate (they retransmit).
 *
 * Everything from the network is input to validate, not to trust: a failed handshake, a bad or
 * truncated frame or a socket error closes that one connection and is counted, never thrown.
 * Sends to `self.id` are delivered locally, asynchronously (in a microtask). No callback runs
 * after `close()` has been called.
 */
import { type KeyObject, X509Certificate } from "node:crypto";
import type { AddressInfo, Socket } from "node:net";
import {
  createSecureContext,
  createServer,
  type SecureContext,
  type SecureContextOptions,
  type Server,
  type TLSSocket,
  connect as tlsConnect,
} from "node:tls";
import { assert } from "../core/assert.ts";
import { PhalanxError } from "../core/errors.ts";
import { limits } from "../core/limits.ts";
import { encodeFrame, FrameDecoder } from "./frames.ts";
import { peerPublicKey, rawEd25519PublicKey } from "./tls.ts";

export interface TransportOptions {
  self: { id: number; privateKey: KeyObject; publicKey: KeyObject; certPem: string };
  /** Listen here (replicas); omit for clients. */
  listen?: { host: string; port: number };
  /** Nodes to dial (replicas), by id. An entry for `self.id` is ignored. */
  dial: ReadonlyMap<number, { host: string; port: number }>;
  /** The configured identity for a raw Ed25519 public key; undefined means a stranger (refused). */
  identify(rawPublicKey: Uint8Array): number | undefined;
  /**
   * A complete frame from an authenticated peer identity. Must not throw (the transport
   * catches, counts "transport.handler-error" and continues if it does).
   */
  onFrame(from: number, payload: Uint8Array): void;
  /** `id` became reachable: `send(id, …)` now has a live authenticated link to use. */
  onPeerUp?(id: number): void;
  /** `id` is no longer reachable (frames to a dialed node queue up meanwhile). */
  onPeerDown?(id: number): void;
  /** Largest frame payload sent or accepted; default `limits.messageSizeMax`. */
  maxFrameBytes?: number;
  /** Bytes queued for one peer beyond which new frames to it are dropped and counted; default 64 MiB. */
  maxQueuedBytesPerPeer?: number;
  /** Reconnect backoff bounds in milliseconds; defaults 50 and 2000. */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** Time allowed from TCP connect to an authenticated link; default 5000 ms. */
  handshakeTimeoutMs?: number;
  log?: (level: "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>) => void;
  /**
   * Counters, all "transport." followed by: frames-in, bytes-in (decrypted stream bytes),
   * frames-out, bytes-out (framed), frames-self; connected-in, connected-out, replaced-inbound;
   * refused-stranger, refused-wrong-peer, refused-self, handshake-failed, dial-failed,
   * bad-frame, truncated-frame, socket-error; dropped-no-connection, dropped-queue-full,
   * dropped-invalid, dropped-closed; handler-error.
   */
  count?: (metric: string, by?: number) => void;
}

const DEFAULT_MAX_QUEUED_BYTES = 64 * 1024 * 1024;
const DEFAULT_RECONNECT_MIN_MS = 50;
const DEFAULT_RECONNECT_MAX_MS = 2000;
const DEFAULT_HANDSHAKE_TIMEOUT_MS = 5000;
/** Queue slots consumed before the queue array is compacted. */
const COMPACT_AFTER = 1024;

/**
 * Frames waiting for one peer, written to its socket as fast as the socket drains. The bound
 * covers both this queue and what the socket itself still buffers.
 */
class Outbox {
  private frames: (Uint8Array | undefined)[] = [];
  private head = 0;
  private bytes = 0;
  private socket: TLSSocket | undefined;
  private awaitingDrain = false;
  private flushScheduled = false;

  constructor(
    private readonly maxBytes: number,
    private readonly onWrite: (frame: Uint8Array) => void,
  ) {}

  enqueue(frame: Uint8Array): boolean {
    const inSocket = this.socket?.writableLength ?? 0;
    if (this.bytes + inSocket + frame.byteLength > this.maxBytes) return false;
    this.frames.push(frame);
    this.bytes += frame.byteLength;
    this.scheduleFlush();
    return true;
  }

  attach(socket: TLSSocket): void {
    this.socket = socket;
    this.awaitingDrain = false;
    this.scheduleFlush();
  }

  detach(): void {
    this.socket = undefined;
    this.awaitingDrain = false;
  }

  clear(): void {
    this.frames = [];
    this.head = 0;
    this.bytes = 0;
  }

  /**
   * Writes are batched: every send in the same tick goes out in one corked flush (a microtask;
   * callers that want more coalescing, like wire.ts, gather a whole event-loop round first).
   */
  private scheduleFlush(): void {
    if (this.flushScheduled || this.socket === undefined || this.awaitingDrain) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    const socket = this.socket;
    if (socket === undefined || this.awaitingDrain || socket.destroyed) return;
    socket.cork();
    try {
      while (this.head < this.frames.length) {
        const frame = this.frames[this.head] as Uint8Array;
        this.frames[this.head] = undefined;
        this.head++;
        this.bytes -= frame.byteLength;
        this.onWrite(frame);
        if (!socket.write(frame)) {
          this.awaitingDrain = true;
          socket.once("drain", () => {
            if (this.socket !== socket) return;
            this.awaitingDrain = false;
            this.flush();
          });
          break;
        }
      }
    } finally {
      socket.uncork();
    }
    if (this.head === this.frames.length) {
      this.frames = [];
      this.head = 0;
    } else if (this.head >= COMPACT_AFTER && this.head * 2 >= this.frames.length) {
      this.frames = this.frames.slice(this.head);
      this.head = 0;
    }
  }
}

/** A node this transport dials and keeps a link to. */
interface DialPeer {
  readonly id: number;
  readonly host: string;
  readonly port: number;
  readonly outbox: Outbox;
  socket: TLSSocket | undefined;
  up: boolean;
  /** Failed attempts since the last authenticated link; drives the backoff. */
  attempts: number;
  timer: NodeJS.Timeout | undefined;
}

/** An authenticated inbound link. */
interface InboundLink {
  readonly id: number;
  readonly socket: TLSSocket;
  readonly outbox: Outbox;
}

export class Transport {
  private readonly options: TransportOptions;
  private readonly selfId: number;
  private readonly maxFrameBytes: number;
  private readonly maxQueuedBytes: number;
  private readonly reconnectMinMs: number;
  private readonly reconnectMaxMs: number;
  private readonly handshakeTimeoutMs: number;
  /** Our certificate and key, TLS 1.3 only. */
  private readonly tlsIdentity: SecureContextOptions;
  /** The same, prebuilt once for every dial (a server builds its own from the options). */
  private readonly secureContext: SecureContext;
  private readonly log: NonNullable<TransportOptions["log"]>;
  private readonly count: NonNullable<TransportOptions["count"]>;
  private readonly peers = new Map<number, DialPeer>();
  /** Most recent authenticated inbound link per identity. */
  private readonly inbound = new Map<number, InboundLink>();
  /** Every accepted TCP socket, authenticated or not, so close() can end them all. */
  private readonly rawSockets = new Set<Socket>();
  private server: Server | undefined;
  private started = false;
  private closed = false;

  constructor(options: TransportOptions) {
    this.options = options;
    this.selfId = options.self.id;
    this.maxFrameBytes = options.maxFrameBytes ?? limits.messageSizeMax;
    this.maxQueuedBytes = options.maxQueuedBytesPerPeer ?? DEFAULT_MAX_QUEUED_BYTES;
    this.reconnectMinMs = options.reconnectMinMs ?? DEFAULT_RECONNECT_MIN_MS;
    this.reconnectMaxMs = options.reconnectMaxMs ?? DEFAULT_RECONNECT_MAX_MS;
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    this.log = options.log ?? (() => {});
    this.count = options.count ?? (() => {});
    const positive = (n: number) => Number.isFinite(n) && n > 0;
    if (
      !Number.isInteger(this.maxFrameBytes) ||
      this.maxFrameBytes < 1 ||
      this.maxFrameBytes > 0xffff_ffff ||
      !positive(this.maxQueuedBytes) ||
      !positive(this.reconnectMinMs) ||
      !(this.reconnectMaxMs >= this.reconnectMinMs) ||
      !positive(this.handshakeTimeoutMs)
    ) {
      throw new PhalanxError(
        "BAD_CONFIG",
        "transport limits and timeouts must be positive (reconnect max ≥ min)",
      );
    }
    let certKey: Uint8Array;
    try {
      certKey = rawEd25519PublicKey(new X509Certificate(options.self.certPem).publicKey);
    } catch (cause) {
      throw new PhalanxError("BAD_CONFIG", "self.certPem is not a PEM certificate for an Ed25519 key", {
        cause,
      });
    }
    if (!Buffer.from(certKey).equals(rawEd25519PublicKey(options.self.publicKey))) {
      throw new PhalanxError("BAD_CONFIG", "self.certPem does not carry self.publicKey");
    }
    this.tlsIdentity = {
      key: options.self.privateKey.export({ format: "pem", type: "pkcs8" }) as string,
      cert: options.self.certPem,
      minVersion: "TLSv1.3",
      maxVersion: "TLSv1.3",
    };
    this.secureContext = createSecureContext(this.tlsIdentity);
    for (const [id, address] of options.dial) {
      if (id === this.selfId) continue;
      this.peers.set(id, {
        id,
        host: address.host,
        port: address.port,
        outbox: new Outbox(this.maxQueuedBytes, (frame) => this.countOut(frame)),
        socket: undefined,
        up: false,
        attempts: 0,
        timer: undefined,
      });
    }
  }

  /** Listens (if asked) and starts dialing; resolves once listening. */
  async start(): Promise<void> {
    assert(!this.started, "Transport.start called twice");
    assert(!this.closed, "Transport.start called after close");
    this.started = true;
    const listen = this.options.listen;
    if (listen !== undefined) {
      const server = createServer({
        ...this.tlsIdentity,
        requestCert: true,
        rejectUnauthorized: false,
        handshakeTimeout: this.handshakeTimeoutMs,
      });
      this.server = server;
      server.on("connection", (raw: Socket) => {
        this.rawSockets.add(raw);
        raw.once("close", () => this.rawSockets.delete(raw));
        if (this.closed) raw.destroy();
      });
      server.on("tlsClientError", (err, socket) => {
        socket.destroy();
        if (this.closed) return;
        this.count("transport.handshake-failed");
        this.log("warn", "inbound TLS handshake failed", {
          remote: remoteOf(socket),
          error: err.message,
        });
      });
      server.on("secureConnection", (socket) => this.accepted(socket));
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(listen.port, listen.host, () => {
          server.off("error", reject);
          resolve();
        });
      });
      server.on("error", (err) => this.log("error", "transport server error", { error: err.message }));
    }
    for (const peer of this.peers.values()) this.dial(peer);
  }

  /** The actual listening address (port 0 → the ephemeral port chosen); undefined if not listening. */
  get address(): { host: string; port: number } | undefined {
    const a = this.server?.address();
    if (a === null || a === undefined || typeof a === "string") return undefined;
    return { host: (a as AddressInfo).address, port: (a as AddressInfo).port };
  }

  /**
   * Queues a frame payload for `to`: on the outbound link if `to` is dialed (kept while the link
   * is down, up to the bound), otherwise on the most recent authenticated inbound link from `to`.
   * Returns false, and counts, if the frame is dropped: no link, queue bound exceeded, an empty
   * or oversize payload, or a closed transport.
   */
  send(to: number, payload: Uint8Array): boolean {
    if (this.closed) {
      this.count("transport.dropped-closed");
      return false;
    }
    if (payload.byteLength === 0 || payload.byteLength > this.maxFrameBytes) {
      this.count("transport.dropped-invalid");
      this.log("warn", "frame payload size out of bounds, dropped", {
        to,
        bytes: payload.byteLength,
        max: this.maxFrameBytes,
      });
      return false;
    }
    if (to === this.selfId) {
      const copy = payload.slice();
      this.count("transport.frames-self");
      queueMicrotask(() => {
        if (!this.closed) this.deliver(this.selfId, copy);
      });
      return true;
    }
    const outbox = this.peers.get(to)?.outbox ?? this.inbound.get(to)?.outbox;
    if (outbox === undefined) {
      this.count("transport.dropped-no-connection");
      return false;
    }
    if (!outbox.enqueue(encodeFrame(payload))) {
      this.count("transport.dropped-queue-full");
      return false;
    }
    return true;
  }

  /** Peers `send` currently has a live authenticated link to, ascending. */
  connectedPeers(): number[] {
    const ids = new Set<number>();
    for (const peer of this.peers.values()) if (peer.up) ids.add(peer.id);
    for (const id of this.inbound.keys()) if (!this.peers.has(id)) ids.add(id);
    return [...ids].sort((a, b) => a - b);
  }

  /** Closes the server and every socket and stops reconnecting; queued frames are discarded. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const peer of this.peers.values()) {
      if (peer.timer !== undefined) clearTimeout(peer.timer);
      peer.timer = undefined;
      peer.socket?.destroy();
      peer.outbox.detach();
      peer.outbox.clear();
    }
    for (const link of this.inbound.values()) link.socket.destroy();
    this.inbound.clear();
    for (const raw of this.rawSockets) raw.destroy();
    const server = this.server;
    if (server?.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  // ---- outbound ----

  private dial(peer: DialPeer): void {
    peer.timer = undefined;
    if (this.closed) return;
    const socket = tlsConnect({
      host: peer.host,
      port: peer.port,
      secureContext: this.secureContext,
      rejectUnauthorized: false,
      // Trust comes from the configured key, checked on secureConnect, not from names.
      checkServerIdentity: () => undefined,
    });
    peer.socket = socket;
    let failure: string | undefined;
    const timeout = setTimeout(() => {
      failure = "handshake timed out";
      this.count("transport.handshake-failed");
      socket.destroy();
    }, this.handshakeTimeoutMs);
    socket.on("error", (err) => {
      failure ??= err.message;
    });
    socket.once("secureConnect", () => {
      clearTimeout(timeout);
      if (this.closed) {
        socket.destroy();
        return;
      }
      const id = this.identifySocket(socket);
      if (id !== peer.id) {
        failure = "wrong identity";
        if (id === undefined) this.refuseStranger(socket, "outbound");
        else {
          this.count("transport.refused-wrong-peer");
          this.log("warn", "dialed node presented the key of another node; refused", {
            expected: peer.id,
            presented: id,
            remote: remoteOf(socket),
          });
          socket.destroy();
        }
        return;
      }
      socket.setNoDelay(true);
      socket.setKeepAlive(true, 10_000);
      peer.attempts = 0;
      peer.up = true;
      this.count("transport.connected-out");
      this.log("info", "connected to peer", { peer: peer.id, remote: remoteOf(socket) });
      this.read(socket, peer.id);
      peer.outbox.attach(socket);
      this.notify(this.options.onPeerUp, peer.id);
    });
    socket.once("close", () => {
      clearTimeout(timeout);
      if (peer.socket !== socket) return;
      peer.socket = undefined;
      peer.outbox.detach();
      if (this.closed) return;
      if (peer.up) {
        peer.up = false;
        this.log("info", "link to peer lost", { peer: peer.id, error: failure });
        this.notify(this.options.onPeerDown, peer.id);
      } else {
        this.count("transport.dial-failed");
        if (peer.attempts === 0) {
          this.log("info", "dialing peer failed; retrying with backoff", { peer: peer.id, error: failure });
        }
      }
      this.scheduleDial(peer);
    });
  }

  private scheduleDial(peer: DialPeer): void {
    if (this.closed || peer.timer !== undefined) return;
    const ceiling = Math.min(this.reconnectMaxMs, this.reconnectMinMs * 2 ** Math.min(peer.attempts, 30));
    // Equal jitter: never below half the ceiling, so a flapping peer is not hammered.
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    peer.attempts++;
    peer.timer = setTimeout(() => this.dial(peer), delay);
  }

  // ---- inbound ----

  private accepted(socket: TLSSocket): void {
    socket.on("error", (err) => {
      this.count("transport.socket-error");
      this.log("info", "inbound socket error", { remote: remoteOf(socket), error: err.message });
    });
    if (this.closed) {
      socket.destroy();
      return;
    }
    const id = this.identifySocket(socket);
    if (id === undefined) {
      this.refuseStranger(socket, "inbound");
      return;
    }
    if (id === this.selfId) {
      this.count("transport.refused-self");
      this.log("warn", "inbound connection presented this node's own key; refused", {
        remote: remoteOf(socket),
      });
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    const link: InboundLink = {
      id,
      socket,
      outbox: new Outbox(this.maxQueuedBytes, (frame) => this.countOut(frame)),
    };
    const previous = this.inbound.get(id);
    this.inbound.set(id, link);
    this.count("transport.connected-in");
    if (previous !== undefined) {
      // One inbound link per identity: a reconnecting peer replaces its stale link.
      this.count("transport.replaced-inbound");
      previous.outbox.detach();
      previous.socket.destroy();
    }
    socket.once("close", () => {
      link.outbox.detach();
      if (this.inbound.get(id) !== link) return;
      this.inbound.delete(id);
      if (!this.closed && !this.peers.has(id)) this.notify(this.options.onPeerDown, id);
    });
    this.read(socket, id);
    link.outbox.attach(socket);
    if (previous === undefined && !this.peers.has(id)) this.notify(this.options.onPeerUp, id);
  }

  // ---- shared ----

  /** The configured identity of the socket's peer key; undefined for none or a stranger. */
  private identifySocket(socket: TLSSocket): number | undefined {
    const key = peerPublicKey(socket);
    if (key === undefined) return undefined;
    try {
      const id = this.options.identify(key);
      return typeof id === "number" ? id : undefined;
    } catch (err) {
      this.log("error", "identify threw; peer treated as a stranger", { error: String(err) });
      return undefined;
    }
  }

  private refuseStranger(socket: TLSSocket, direction: "inbound" | "outbound"): void {
    const key = peerPublicKey(socket);
    this.count("transport.refused-stranger");
    this.log("warn", "peer key is not in the configuration; refused", {
      direction,
      remote: remoteOf(socket),
      key: key === undefined ? "none" : Buffer.from(key).toString("hex"),
    });
    socket.destroy();
  }

  private read(socket: TLSSocket, from: number): void {
    const decoder = new FrameDecoder(this.maxFrameBytes);
    let violated = false;
    socket.on("data", (chunk: Buffer) => {
      if (this.closed) return;
      this.count("transport.bytes-in", chunk.byteLength);
      let frames: Uint8Array[];
      try {
        frames = decoder.push(chunk);
      } catch (err) {
        violated = true;
        this.count("transport.bad-frame");
        this.log("warn", "bad frame from peer; connection closed", {
          peer: from,
          remote: remoteOf(socket),
          error: err instanceof Error ? err.message : String(err),
        });
        socket.destroy();
        return;
      }
      for (const frame of frames) {
        if (this.closed) return;
        this.count("transport.frames-in");
        this.deliver(from, frame);
      }
    });
    socket.once("close", () => {
      if (decoder.buffered > 0 && !violated && !this.closed) {
        this.count("transport.truncated-frame");
        this.log("info", "connection closed inside a frame", { peer: from, bytes: decoder.buffered });
      }
    });
  }

  private deliver(from: number, payload: Uint8Array): void {
    try {
      this.options.onFrame(from, payload);
    } catch (err) {
      this.count("transport.handler-error");
      this.log("error", "onFrame threw", { from, error: err instanceof Error ? err.message : String(err) });
    }
  }

  private notify(callback: ((id: number) => void) | undefined, id: number): void {
    if (callback === undefined || this.closed) return;
    try {
      callback.call(this.options, id);
    } catch (err) {
      this.count("transport.handler-error");
      this.log("error", "peer up/down callback threw", { peer: id, error: String(err) });
    }
  }

  private countOut(frame: Uint8Array): void {
    this.count("transport.frames-out");
    this.count("transport.bytes-out", frame.byteLength);
  }
}

function remoteOf(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }): string {
  return `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? "?"}`;
}
