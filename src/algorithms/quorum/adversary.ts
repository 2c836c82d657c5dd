/**
 * Byzantine register servers (sim/adversary/types.ts): each wraps a correct server and rewrites
 * its answers. All liars of a run lie the same way, which is the strongest attack on a vote: f
 * colluding liars agree on one forged pair, or on one stale pair that correct servers which
 * missed the latest write also report.
 *
 * - stale: answers reads with the value the server held before its current one (what a correct
 *   server that missed the last write would say) and timestamp queries with its counter.
 * - forge: answers reads with a made-up value under a huge timestamp, and timestamp queries
 *   with that huge counter (a writer that trusted the largest counter would jump to it).
 * - silent: answers nothing.
 * - mixed: picks one of the three at random for every message.
 * Write acknowledgements pass unchanged, except from a silent liar: lying about them gains
 * nothing, since the register never counts on an acknowledging liar having stored anything.
 */
import type { NodeId } from "../../core/ids.ts";
import type { Adversary, AdversaryApi } from "../../sim/adversary/types.ts";
import { initialStamp, isClientMsg, type RegisterMsg, type Stamp, stampAfter } from "./register.ts";

export const registerStrategies = ["forge", "stale", "silent", "mixed"] as const;
export type RegisterStrategy = (typeof registerStrategies)[number];

/** The forged pair every forging liar reports. */
export const forged = { counter: 2 ** 40, value: "forged" } as const;

type Lie = "forge" | "stale" | "silent";
const lies: readonly Lie[] = ["forge", "stale", "silent"];

export function isRegisterStrategy(s: string): s is RegisterStrategy {
  return (registerStrategies as readonly string[]).includes(s);
}

/** A liar server; `forgedWriter` is the client id its forged timestamps name. */
export function registerAdversary(strategy: RegisterStrategy, forgedWriter: number): Adversary<RegisterMsg> {
  // The last two pairs the wrapped server stored, newest first, seen as writes arrive.
  let current: { stamp: Stamp; value: string | null } = { stamp: initialStamp, value: null };
  let previous = current;
  const lie = (api: AdversaryApi<RegisterMsg>, msg: RegisterMsg): RegisterMsg | undefined => {
    const how = strategy === "mixed" ? (lies[Math.floor(api.random() * lies.length)] as Lie) : strategy;
    if (how === "silent") return undefined;
    switch (msg.type) {
      case "read-reply":
        return how === "forge"
          ? { ...msg, counter: forged.counter, writer: forgedWriter, value: forged.value }
          : { ...msg, ...previous.stamp, value: previous.value };
      case "ts-reply":
        return { ...msg, counter: how === "forge" ? forged.counter : previous.stamp.counter };
      default:
        return msg;
    }
  };
  return {
    name: `quorum-${strategy}`,
    onReceive(_api, from: NodeId, msg) {
      if (!isClientMsg(msg) || msg.type !== "write") return;
      const stamp = { counter: msg.counter, writer: from };
      if (!stampAfter(stamp, current.stamp)) return;
      previous = current;
      current = { stamp, value: msg.value };
    },
    onSend(api, to, msg) {
      const out = lie(api, msg);
      if (out !== undefined) api.send(to, out);
    },
  };
}
