/**
 * FLP's model of an asynchronous system (Fischer, Lynch and Paterson, JACM 1985, section 2): a
 * configuration is the state of every process plus the message buffer (messages sent and not
 * yet delivered); an event (p, m) delivers message m to process p, or with m = null lets p
 * take a step receiving nothing. The adversary of adversary.ts is the scheduler that picks the
 * next event. Any message may be delivered at any time and in any order, which is all
 * asynchrony means.
 *
 * Configurations are immutable values. `configurationKey` names a configuration up to what
 * cannot change its future: messages the receiver will ignore are left out and round numbers
 * are counted from the slowest process (the protocol never looks at absolute rounds), so the
 * valency search (valency.ts) sees a finite graph.
 */
import { assert } from "../../core/assert.ts";
import {
  type Bit,
  type FlpMsg,
  type FlpParams,
  initialProc,
  isStale,
  type ProcState,
  phaseIndex,
  receiveProc,
  startProc,
  type Transition,
} from "./protocol.ts";

/** A message in the buffer. `id` orders messages by sending (ids only grow). */
export interface Envelope {
  id: number;
  from: number;
  to: number;
  msg: FlpMsg;
  /** Step of the run at which it was sent (0 for a message sent before the first step). */
  sentAt: number;
}

export interface Configuration {
  procs: readonly ProcState[];
  /** Messages sent and not yet delivered, in sending order. */
  buffer: readonly Envelope[];
  nextId: number;
  /** Events applied so far. */
  steps: number;
}

/** (p, m): deliver buffered message `id` to process `to`, or a step receiving nothing (`id` null). */
export interface FlpEvent {
  to: number;
  id: number | null;
}

export function initialConfiguration(inputs: readonly Bit[]): Configuration {
  return { procs: inputs.map(initialProc), buffer: [], nextId: 1, steps: 0 };
}

/**
 * Every event that changes something: a first step for each process that has not started, a
 * delivery for each buffered message (null steps of a started process change nothing, and
 * FLP's model lets them happen anyway, so they are left out).
 */
export function enabledEvents(c: Configuration): FlpEvent[] {
  const out: FlpEvent[] = [];
  c.procs.forEach((p, i) => {
    if (!p.started) out.push({ to: i, id: null });
  });
  for (const e of c.buffer) out.push({ to: e.to, id: e.id });
  return out;
}

export function isEnabled(c: Configuration, e: FlpEvent): boolean {
  if (e.to < 0 || e.to >= c.procs.length) return false;
  return e.id === null || c.buffer.some((m) => m.id === e.id && m.to === e.to);
}

/** e(C): the configuration after event `e` (which must be enabled). */
export function applyEvent(params: FlpParams, c: Configuration, e: FlpEvent): Configuration {
  const proc = c.procs[e.to];
  assert(proc !== undefined, `event for unknown process ${e.to}`);
  let buffer = c.buffer;
  let t: Transition;
  if (e.id === null) {
    t = startProc(params, e.to, proc);
  } else {
    const i = c.buffer.findIndex((m) => m.id === e.id);
    const env = c.buffer[i];
    assert(env !== undefined && env.to === e.to, `message ${e.id} is not in the buffer for ${e.to}`);
    buffer = [...c.buffer.slice(0, i), ...c.buffer.slice(i + 1)];
    t = receiveProc(params, e.to, proc, env.from, env.msg);
  }
  const steps = c.steps + 1;
  let nextId = c.nextId;
  const sent: Envelope[] = [];
  for (const msg of t.broadcast) {
    for (let to = 0; to < params.n; to++) {
      if (to !== e.to) sent.push({ id: nextId++, from: e.to, to, msg, sentAt: steps });
    }
  }
  const procs = c.procs.slice();
  procs[e.to] = t.state;
  return { procs, buffer: sent.length === 0 ? buffer : [...buffer, ...sent], nextId, steps };
}

/**
 * The configuration without the messages their receivers will ignore. Delivering one changes
 * nothing but the buffer, so the search may forget them; the adversary's run keeps them, to be
 * fair it delivers every message.
 */
export function withoutStale(c: Configuration): Configuration {
  const buffer = c.buffer.filter((m) => !isStale(c.procs[m.to] as ProcState, m.msg));
  return buffer.length === c.buffer.length ? c : { ...c, buffer };
}

/** The decision of the configuration: a bit some process has decided, or null. */
export function decisionOf(c: Configuration): Bit | null {
  for (const p of c.procs) if (p.decided !== null) return p.decided;
  return null;
}

function positionOf(p: ProcState): number {
  return phaseIndex(p.round, p.phase);
}

/**
 * A name for the configuration's class: equal keys have the same futures (up to the round
 * shift), so they reach the same decisions. Unstarted processes sit at round 1, phase 1.
 */
export function configurationKey(c: Configuration): string {
  let base = Number.POSITIVE_INFINITY;
  for (const p of c.procs) base = Math.min(base, p.round);
  const shift = base - 1;
  const parts: string[] = [];
  for (const p of c.procs) {
    const votes = p.votes
      .map((v) => `${v.round - shift}${v.phase}${v.from}${v.value ?? "?"}`)
      .sort()
      .join(",");
    parts.push(`${p.started ? "s" : "u"}${p.x}${p.decided ?? "-"}${positionOf(p) - 2 * shift}[${votes}]`);
  }
  const live: string[] = [];
  for (const m of c.buffer) {
    const to = c.procs[m.to] as ProcState;
    if (isStale(to, m.msg)) continue;
    live.push(`${m.from}${m.to}${m.msg.type[0]}${m.msg.round - shift}${m.msg.value ?? "?"}`);
  }
  live.sort();
  return `${parts.join("|")}#${live.join(",")}`;
}

/** Render an event for reports: "p1 <- report(2, 0) from p0" or "p2 starts". */
export function describeEvent(c: Configuration, e: FlpEvent): string {
  if (e.id === null) return c.procs[e.to]?.started ? `p${e.to} null step` : `p${e.to} starts`;
  const m = c.buffer.find((x) => x.id === e.id);
  assert(m !== undefined, `message ${e.id} is not in the buffer`);
  return `p${e.to} <- ${m.msg.type}(r${m.msg.round}, ${m.msg.value ?? "?"}) from p${m.from}`;
}
