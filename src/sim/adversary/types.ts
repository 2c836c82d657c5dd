/**
 * A Byzantine adversary is never a flag inside a correct protocol (DESIGN.md). It wraps a
 * correct node and rewrites its outbox: every message the node sends passes through `onSend`,
 * which decides what actually leaves, to whom and when. It can also inject messages of its own.
 * It holds only its own node's signing key (through `sign`), so it cannot forge another node's
 * signature.
 */
import type { Millis, NodeId } from "../../core/ids.ts";

export interface AdversaryApi<Msg> {
  readonly self: NodeId;
  readonly nodes: readonly NodeId[];
  now(): Millis;
  random(): number;
  /** Put a message on the wire from this node, now or after `delayMs`. */
  send(to: NodeId, msg: Msg, delayMs?: Millis): void;
  /** Run `fn` after `delayMs` (adversary timers survive until the node crashes). */
  after(delayMs: Millis, fn: () => void): void;
  /** Sign with this node's key: the only key an adversary has. */
  sign(data: Uint8Array): Uint8Array;
  /** MAC with the secret this node shares with `peer` (it has no other node's secrets). */
  mac(peer: NodeId, data: Uint8Array): Uint8Array;
  /** Verify a signature of `signer` over `data` (public keys are public). */
  verify(signer: NodeId, data: Uint8Array, signature: Uint8Array): boolean;
  /** Check a MAC that `peer` made for this node over `data` (with the secret they share). */
  checkMac(peer: NodeId, data: Uint8Array, tag: Uint8Array): boolean;
  /** Messages this node's correct core tried to send, oldest first (bounded), for replay. */
  readonly history: ReadonlyArray<{ readonly to: NodeId; readonly msg: Msg; readonly at: Millis }>;
}

export interface Adversary<Msg> {
  readonly name: string;
  /** Called once when the wrapped node starts or restarts. */
  onStart?(api: AdversaryApi<Msg>): void;
  /** Sees every message delivered to the wrapped node, before its core does (for twins and replay). */
  onReceive?(api: AdversaryApi<Msg>, from: NodeId, msg: Msg): void;
  /** Called for every message the correct core sends; forward, change, drop or multiply it. */
  onSend(api: AdversaryApi<Msg>, to: NodeId, msg: Msg): void;
}
