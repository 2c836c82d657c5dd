/**
 * The KV state machine behind the byte-level service shape PBFT replicates (see
 * src/smr/pbft/service.ts: `execute`, `query`, `digest`, `snapshot`, and a factory with
 * `create` and `restore`). Typed structurally, so this module needs nothing from smr/.
 * Operations and results travel as MessagePack (core/codec.ts). Bytes that do not decode give
 * an error result, never an exception: a Byzantine primary may order any bytes, and every
 * correct replica must answer them alike.
 */
import { decodeSafe, encode } from "../core/codec.ts";
import { isPhalanxError } from "../core/errors.ts";
import type { NodeId } from "../core/ids.ts";
import { limits } from "../core/limits.ts";
import { isReadOnly, type KvError, type KvOp, kvError, validateKvOp } from "./ops.ts";
import { KvStateMachine } from "./state-machine.ts";

export class KvService {
  constructor(readonly machine: KvStateMachine = new KvStateMachine()) {}

  /** Applies one ordered, encoded KvOp; returns the encoded KvResult. */
  execute(op: Uint8Array, _client?: NodeId): Uint8Array {
    const decoded = decodeOp(op);
    if ("error" in decoded) return encode(decoded.error);
    // apply() validates the op itself (validateKvOp) before touching the state.
    return encode(this.machine.apply(decoded.op as KvOp));
  }

  /** Answers an encoded get or scan without ordering it; undefined for any other valid op. */
  query(op: Uint8Array): Uint8Array | undefined {
    const decoded = decodeOp(op);
    if ("error" in decoded) return encode(decoded.error);
    const checked = validateKvOp(decoded.op);
    if ("error" in checked) return encode(checked.error);
    if (!isReadOnly(checked)) return undefined;
    return encode(this.machine.read(checked));
  }

  digest(): Uint8Array {
    return this.machine.digest();
  }

  snapshot(): Uint8Array {
    return this.machine.snapshot();
  }
}

export const kvServiceFactory = {
  create(): KvService {
    return new KvService();
  },
  /** Throws PhalanxError on a bad snapshot (KvStateMachine.restore). */
  restore(snapshot: Uint8Array): KvService {
    return new KvService(KvStateMachine.restore(snapshot));
  },
};

/**
 * Decodes an op's bytes (validateKvOp checks the value). The error messages are fixed texts,
 * not the decoder's: every correct replica must send byte-identical replies, and a decoder's
 * wording may differ between builds (msgpackr's native and JavaScript paths).
 */
function decodeOp(bytes: Uint8Array): { op: unknown } | { error: KvError } {
  try {
    return { op: decodeSafe<unknown>(bytes) };
  } catch (e) {
    if (!isPhalanxError(e)) throw e;
    return e.code === "LIMIT_EXCEEDED"
      ? { error: kvError("TOO_LARGE", `an encoded op may take at most ${limits.messageSizeMax} bytes`) }
      : { error: kvError("BAD_OP", "the op is not valid MessagePack") };
  }
}
