/**
 * The replicated service as PBFT sees it: a deterministic state machine over opaque encoded
 * operations. The KV store (src/kv/) is one; tests use others.
 */
import type { NodeId } from "../../core/ids.ts";

export interface Service {
  /** Apply an ordered operation; must be deterministic. Never throws on a bad operation: returns an error result. */
  execute(op: Uint8Array, client: NodeId): Uint8Array;
  /** Answer a read-only operation without changing state, or undefined if `op` is not read-only. */
  query(op: Uint8Array): Uint8Array | undefined;
  /** Digest of the current state (32 bytes), cheap to compute. */
  digest(): Uint8Array;
  snapshot(): Uint8Array;
}

export interface ServiceFactory {
  create(): Service;
  /** Rebuild a service from a snapshot; throws PhalanxError on bad input. */
  restore(snapshot: Uint8Array): Service;
}
