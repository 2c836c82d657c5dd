/**
 * Byzantine demonstration mode for a real replica (`phalanx start --byzantine STRATEGY`): the
 * simulator's adversary strategies (src/sim/adversary/pbft.ts) wrapped around the replica's
 * outbox, exactly as in the simulator, plus `corrupt-replies` (replies carrying a wrong result
 * under a valid MAC). Several strategies combine with commas (`equivocate,corrupt-replies`):
 * each one's output passes through the next. The adversary holds only this replica's keys.
 */
import { encode } from "../core/codec.ts";
import { PhalanxError } from "../core/errors.ts";
import type { NodeId } from "../core/ids.ts";
import { pbftAdversary, pbftStrategies } from "../sim/adversary/pbft.ts";
import type { Adversary, AdversaryApi } from "../sim/adversary/types.ts";
import { type PbftMsg, replyBytes } from "../smr/pbft/messages.ts";
import type { PbftTimer } from "../smr/pbft/replica.ts";
import type { Driver } from "./driver.ts";

export const byzantineStrategies = [
  ...pbftStrategies.filter((s) => s !== "twins" && s !== "twins-split"),
  "corrupt-replies",
] as const;

/** Replies whose result is a forged KV result, MACed correctly so only agreement can expose them. */
function corruptReplies(): Adversary<PbftMsg> {
  const forged = encode({ kind: "get", value: "forged-by-a-byzantine-replica", version: 999_999 });
  const forgedPut = encode({ kind: "put", version: 999_999 });
  return {
    name: "corrupt-replies",
    onSend(api, to, msg) {
      if (msg.type !== "reply") {
        api.send(to, msg);
        return;
      }
      const result = msg.readOnly ? forged : forgedPut;
      const { mac: _m, type: _t, ...body } = msg;
      const changed = { ...body, result };
      api.send(to, { type: "reply", ...changed, mac: api.mac(to, replyBytes(changed)) });
    },
  };
}

function one(strategy: string, replicas: number): Adversary<PbftMsg> {
  if (strategy === "corrupt-replies") return corruptReplies();
  const a = (byzantineStrategies as readonly string[]).includes(strategy)
    ? pbftAdversary(strategy, replicas)
    : undefined;
  if (a === undefined) {
    throw new PhalanxError(
      "BAD_ARGUMENT",
      `unknown --byzantine strategy "${strategy}"; choose from: ${byzantineStrategies.join(", ")} (combine with commas)`,
    );
  }
  return a;
}

export function byzantineAdversary(
  spec: string,
  replicas: number,
  driver: Driver<PbftMsg, PbftTimer>,
  wireSend: (to: NodeId, msg: PbftMsg) => void,
): { adversary: Adversary<PbftMsg>; api: AdversaryApi<PbftMsg> } {
  const chain = spec
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => one(s, replicas));
  if (chain.length === 0) throw new PhalanxError("BAD_ARGUMENT", "--byzantine needs a strategy name");
  const history: Array<{ to: NodeId; msg: PbftMsg; at: number }> = [];
  // apis[i] is what adversary i sees: its send feeds adversary i+1, the last one the wire.
  const apis: AdversaryApi<PbftMsg>[] = [];
  for (let i = 0; i < chain.length; i++) {
    const next = i + 1;
    apis.push({
      self: driver.self,
      nodes: driver.nodes,
      now: () => driver.now(),
      random: () => driver.random(),
      send: (to, msg, delayMs) => {
        const go = () => {
          const a = chain[next];
          const nextApi = apis[next];
          if (a !== undefined && nextApi !== undefined) a.onSend(nextApi, to, msg);
          else wireSend(to, msg);
        };
        if (delayMs !== undefined && delayMs > 0) setTimeout(go, delayMs);
        else go();
      },
      after: (delayMs, fn) => {
        setTimeout(fn, delayMs);
      },
      sign: (data) => driver.sign(data),
      mac: (peer, data) => driver.mac(peer, data),
      verify: (signer, data, sig) => driver.verify(signer, data, sig),
      checkMac: (peer, data, tag) => driver.checkMac(peer, data, tag),
      history,
    });
  }
  const first = apis[0] as AdversaryApi<PbftMsg>;
  const adversary: Adversary<PbftMsg> = {
    name: spec,
    onStart: () => {
      chain.forEach((a, i) => {
        a.onStart?.(apis[i] as AdversaryApi<PbftMsg>);
      });
    },
    onReceive: (_api, from, msg) => {
      chain.forEach((a, i) => {
        a.onReceive?.(apis[i] as AdversaryApi<PbftMsg>, from, msg);
      });
    },
    onSend: (_api, to, msg) => {
      history.push({ to, msg, at: driver.now() });
      if (history.length > 1000) history.shift();
      (chain[0] as Adversary<PbftMsg>).onSend(first, to, msg);
    },
  };
  return { adversary, api: first };
}
