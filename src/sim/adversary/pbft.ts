/**
 * Byzantine strategies against PBFT (testing-anchors 6.3 and 6.5; the PBFT paper's defences are
 * the oracles). Each rewrites the outbox of an otherwise correct replica. A faulty replica signs
 * what it likes with its own key, so its lies are well-formed; it cannot sign for others.
 */
import { encode } from "../../core/codec.ts";
import type { NodeId } from "../../core/ids.ts";
import { sha256 } from "../../crypto/digest.ts";
import {
  batchDigest,
  type PbftMsg,
  type PrePrepare,
  prePrepareBytes,
  prepareBytes,
  viewChangeBytes,
} from "../../smr/pbft/messages.ts";
import { equivocating, injecting, rewriting } from "./strategies.ts";
import type { Adversary, AdversaryApi } from "./types.ts";

export const pbftStrategies = [
  "equivocate",
  "high-seq",
  "stale-view",
  "future-view",
  "bad-signature",
  "bad-digest",
  "bad-mac",
  "view-change-flood",
] as const;

/** A pre-prepare for the same (view, seq) with a different batch: the first request dropped. */
function forkPrePrepare(pp: PrePrepare, api: AdversaryApi<PbftMsg>): PrePrepare {
  const batch = (pp.batch ?? []).slice(1);
  const digest = batchDigest(batch);
  return { ...pp, batch, digest, sig: api.sign(prePrepareBytes(pp.view, pp.seq, digest)) };
}

function flip(bytes: Uint8Array): Uint8Array {
  const copy = bytes.slice();
  copy[0] = (copy[0] as number) ^ 0xff;
  return copy;
}

export function pbftAdversary(strategy: string, replicas: number): Adversary<PbftMsg> | undefined {
  switch (strategy) {
    case "equivocate":
      // Different pre-prepares to the two halves of the replicas (CometBFT's split-half pattern).
      return equivocating<PbftMsg>(
        (msg, _to, api) => (msg.type === "pre-prepare" ? forkPrePrepare(msg, api) : msg),
        (to) => to >= Math.ceil(replicas / 2),
      );
    case "high-seq":
      // As primary, proposes sequence numbers far above the high water mark.
      return rewriting<PbftMsg>("high-seq", (msg, _to, api) =>
        msg.type === "pre-prepare"
          ? {
              ...msg,
              seq: msg.seq + 1_000_000,
              sig: api.sign(prePrepareBytes(msg.view, msg.seq + 1_000_000, msg.digest)),
            }
          : msg,
      );
    case "stale-view":
    case "future-view": {
      const shift = strategy === "stale-view" ? -1 : 5;
      return rewriting<PbftMsg>(strategy, (msg, _to, api) => {
        if (msg.type === "pre-prepare") {
          const view = Math.max(0, msg.view + shift);
          return { ...msg, view, sig: api.sign(prePrepareBytes(view, msg.seq, msg.digest)) };
        }
        if (msg.type === "prepare") {
          const view = Math.max(0, msg.view + shift);
          return { ...msg, view, sig: api.sign(prepareBytes(view, msg.seq, msg.digest, msg.replica)) };
        }
        return msg;
      });
    }
    case "bad-signature":
      return rewriting<PbftMsg>("bad-signature", (msg) =>
        "sig" in msg ? { ...msg, sig: flip(msg.sig) } : msg,
      );
    case "bad-digest":
      return rewriting<PbftMsg>("bad-digest", (msg) =>
        msg.type === "pre-prepare" || msg.type === "prepare"
          ? { ...msg, digest: sha256(encode(["forged", msg.seq])) }
          : msg,
      );
    case "bad-mac":
      return rewriting<PbftMsg>("bad-mac", (msg) => {
        if (msg.type === "commit") return { ...msg, auth: msg.auth.map(flip) };
        if (msg.type === "reply") return { ...msg, mac: flip(msg.mac) };
        return msg;
      });
    case "view-change-flood":
      // One replica demanding ever higher views: alone it must not force a view change.
      return injecting<PbftMsg>(50, 200, (api, k) => {
        const body = {
          view: k + 1,
          stableSeq: 0,
          stableState: new Uint8Array(32),
          checkpointProof: [],
          prepared: [],
          replica: api.self as NodeId,
        };
        return { type: "view-change", ...body, sig: api.sign(viewChangeBytes(body)) };
      });
    default:
      return undefined;
  }
}
