/**
 * What a frame on a link carries: `[from, to, message]`, MessagePack. The transport has
 * authenticated the key at the other end of the link; `from` must be an id of that key
 * (identityOf), or the frame is dropped and counted. A client key owns many ids (sessions),
 * which is why the id travels in the frame at all.
 */
import { decodeSafe, encode } from "../core/codec.ts";
import type { NodeId } from "../core/ids.ts";
import { identityOf } from "./config.ts";

export function encodeEnvelope(from: NodeId, to: NodeId, msg: unknown): Uint8Array {
  return encode([from, to, msg]);
}

export type Opened = { from: NodeId; to: NodeId; msg: unknown } | { drop: string };

/** Checks a frame from authenticated identity `identity`; never throws. */
export function openEnvelope(identity: number, payload: Uint8Array): Opened {
  let decoded: unknown;
  try {
    decoded = decodeSafe(payload);
  } catch {
    return { drop: "runtime.undecodable-frame" };
  }
  if (!Array.isArray(decoded) || decoded.length !== 3) return { drop: "runtime.bad-envelope" };
  const [from, to, msg] = decoded as [unknown, unknown, unknown];
  if (
    !Number.isSafeInteger(from) ||
    !Number.isSafeInteger(to) ||
    (from as number) < 0 ||
    (to as number) < 0
  ) {
    return { drop: "runtime.bad-envelope" };
  }
  if (identityOf(from as number) !== identity) return { drop: "runtime.spoofed-sender" };
  return { from: from as NodeId, to: to as NodeId, msg };
}
