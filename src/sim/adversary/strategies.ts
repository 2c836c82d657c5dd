/**
 * Generic Byzantine strategies that work on any protocol's messages. Protocol-specific ones
 * (an equivocating PBFT primary, forged digests) are built from `rewriting` and `equivocating`
 * with a function that knows the message shapes.
 */
import type { Millis, NodeId } from "../../core/ids.ts";
import type { Adversary, AdversaryApi } from "./types.ts";

/** Sends nothing at all (crash-like, but the node keeps running and may be counted as alive). */
export function silent<Msg>(): Adversary<Msg> {
  return { name: "silent", onSend() {} };
}

/** Forwards faithfully: the control case. */
export function honest<Msg>(): Adversary<Msg> {
  return { name: "honest", onSend: (api, to, msg) => api.send(to, msg) };
}

/** Drops each message with probability `prob` (an omission failure). */
export function dropping<Msg>(prob: number): Adversary<Msg> {
  return {
    name: `dropping(${prob})`,
    onSend(api, to, msg) {
      if (api.random() >= prob) api.send(to, msg);
    },
  };
}

/** Holds each message for a uniform delay in [minMs, maxMs]. */
export function delaying<Msg>(minMs: Millis, maxMs: Millis): Adversary<Msg> {
  return {
    name: `delaying(${minMs}..${maxMs})`,
    onSend(api, to, msg) {
      api.send(to, msg, minMs + api.random() * (maxMs - minMs));
    },
  };
}

/** Sends each message `copies` times. */
export function duplicating<Msg>(copies: number): Adversary<Msg> {
  return {
    name: `duplicating(${copies})`,
    onSend(api, to, msg) {
      for (let i = 0; i < copies; i++) api.send(to, msg);
    },
  };
}

/**
 * Forwards faithfully and, with probability `prob` per message, also re-sends an old message
 * from its history to a random node after `delayMs`.
 */
export function replaying<Msg>(prob: number, delayMs: Millis = 0): Adversary<Msg> {
  return {
    name: `replaying(${prob})`,
    onSend(api, to, msg) {
      api.send(to, msg);
      if (api.history.length > 0 && api.random() < prob) {
        const old = api.history[Math.floor(api.random() * api.history.length)];
        const target = api.nodes[Math.floor(api.random() * api.nodes.length)] as NodeId;
        if (old !== undefined && target !== api.self) api.send(target, old.msg, delayMs);
      }
    },
  };
}

/** Rewrites every message (return undefined to drop it). */
export function rewriting<Msg>(
  name: string,
  rewrite: (msg: Msg, to: NodeId, api: AdversaryApi<Msg>) => Msg | undefined,
): Adversary<Msg> {
  return {
    name,
    onSend(api, to, msg) {
      const out = rewrite(msg, to, api);
      if (out !== undefined) api.send(to, out);
    },
  };
}

/**
 * Tells different peers different things: peers for which `side(to)` is true get
 * `variant(msg, to)`, the others get the original.
 */
export function equivocating<Msg>(
  variant: (msg: Msg, to: NodeId, api: AdversaryApi<Msg>) => Msg,
  side: (to: NodeId, api: AdversaryApi<Msg>) => boolean = (to, api) =>
    api.nodes.indexOf(to) >= Math.ceil(api.nodes.length / 2),
): Adversary<Msg> {
  return {
    name: "equivocating",
    onSend(api, to, msg) {
      api.send(to, side(to, api) ? variant(msg, to, api) : msg);
    },
  };
}

/** Forwards faithfully and injects `make(api)` to every other node each `everyMs`, `times` times. */
export function injecting<Msg>(
  everyMs: Millis,
  times: number,
  make: (api: AdversaryApi<Msg>, k: number) => Msg | undefined,
): Adversary<Msg> {
  return {
    name: "injecting",
    onStart(api) {
      let k = 0;
      const tick = () => {
        if (k >= times) return;
        const msg = make(api, k++);
        if (msg !== undefined) for (const to of api.nodes) if (to !== api.self) api.send(to, msg);
        api.after(everyMs, tick);
      };
      api.after(everyMs, tick);
    },
    onSend: (api, to, msg) => api.send(to, msg),
  };
}

/**
 * Chains strategies: the first one's output goes through the second, and so on. `onStart`
 * of each runs once.
 */
export function compose<Msg>(...parts: Adversary<Msg>[]): Adversary<Msg> {
  const chain = (i: number, api: AdversaryApi<Msg>): AdversaryApi<Msg> => {
    if (i >= parts.length) return api;
    const next = parts[i] as Adversary<Msg>;
    const downstream = chain(i + 1, api);
    return {
      ...api,
      send(to, msg, delayMs = 0) {
        if (delayMs > 0) api.after(delayMs, () => next.onSend(downstream, to, msg));
        else next.onSend(downstream, to, msg);
      },
    };
  };
  return {
    name: parts.map((p) => p.name).join("+"),
    onStart(api) {
      parts.forEach((p, i) => {
        p.onStart?.(chain(i + 1, api));
      });
    },
    onSend(api, to, msg) {
      const first = parts[0];
      if (first === undefined) api.send(to, msg);
      else first.onSend(chain(1, api), to, msg);
    },
  };
}
