/**
 * What a frame on a link carries: a list of envelopes `[[from, to, message], ...]`,
 * MessagePack. The transport has authenticated the key at the other end of the link; each
 * `from` must be an id of that key (identityOf), or that envelope is dropped and counted. A
 * client key owns many ids (sessions), which is why ids travel in the frame at all.
 *
 * Coalescing: everything a process sends to one peer while the event loop handles one round of
 * I/O goes in one frame (WireOut). Under load a replica answers a batch of requests from one
 * client process with one frame instead of one per request, which saves a TLS record, a system
 * call and an event on each side per message: on this machine the per-message overhead of the
 * runtime, not the protocol's cryptography, was the larger cost.
 */
import { decodeSafe, encode } from "../core/codec.ts";
import type { NodeId } from "../core/ids.ts";
import { limits } from "../core/limits.ts";
import { identityOf } from "./config.ts";

export type Envelope = [from: NodeId, to: NodeId, msg: unknown];

export interface Opened {
  envelopes: Array<{ from: NodeId; to: NodeId; msg: unknown }>;
  /** Counter names of what was dropped (one per dropped envelope, or one for the frame). */
  dropped: string[];
}

/** Envelopes in one frame at most; a longer list is split. */
const envelopesPerFrameMax = 512;

/** Checks a frame from authenticated identity `identity`; never throws. */
export function openFrame(identity: number, payload: Uint8Array): Opened {
  const out: Opened = { envelopes: [], dropped: [] };
  let decoded: unknown;
  try {
    decoded = decodeSafe(payload);
  } catch {
    out.dropped.push("runtime.undecodable-frame");
    return out;
  }
  if (!Array.isArray(decoded) || decoded.length === 0 || decoded.length > envelopesPerFrameMax) {
    out.dropped.push("runtime.bad-envelope");
    return out;
  }
  for (const e of decoded) {
    if (!Array.isArray(e) || e.length !== 3) {
      out.dropped.push("runtime.bad-envelope");
      continue;
    }
    const [from, to, msg] = e as [unknown, unknown, unknown];
    if (
      !Number.isSafeInteger(from) ||
      !Number.isSafeInteger(to) ||
      (from as number) < 0 ||
      (to as number) < 0
    ) {
      out.dropped.push("runtime.bad-envelope");
      continue;
    }
    if (identityOf(from as number) !== identity) {
      out.dropped.push("runtime.spoofed-sender");
      continue;
    }
    out.envelopes.push({ from: from as NodeId, to: to as NodeId, msg });
  }
  return out;
}

/** Collects outgoing envelopes per peer identity and sends each peer's as one frame. */
export class WireOut {
  private readonly pending = new Map<number, Envelope[]>();
  private scheduled = false;

  constructor(
    private readonly transport: { send(to: number, payload: Uint8Array): boolean },
    private readonly count: (metric: string, by?: number) => void,
  ) {}

  send(from: NodeId, to: NodeId, msg: unknown): void {
    const identity = identityOf(to);
    let list = this.pending.get(identity);
    if (list === undefined) {
      list = [];
      this.pending.set(identity, list);
    }
    list.push([from, to, msg]);
    if (list.length >= envelopesPerFrameMax) {
      this.pending.delete(identity);
      this.sendList(identity, list);
    }
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.scheduled = false;
    for (const [identity, list] of this.pending) this.sendList(identity, list);
    this.pending.clear();
  }

  private sendList(identity: number, list: Envelope[]): void {
    const payload = encode(list);
    if (payload.byteLength <= limits.messageSizeMax || list.length === 1) {
      this.count("runtime.frames-out");
      this.count("runtime.envelopes-out", list.length);
      this.transport.send(identity, payload);
      return;
    }
    // Too big together: halves (a single message over the bound is refused by the transport).
    const mid = Math.floor(list.length / 2);
    this.sendList(identity, list.slice(0, mid));
    this.sendList(identity, list.slice(mid));
  }
}
