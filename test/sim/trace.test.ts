import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { NodeId } from "../../src/core/ids.ts";
import { gossipSpec } from "../../src/scenarios/gossip.ts";
import type { FaultPlan } from "../../src/sim/faults.ts";
import { runScenario } from "../../src/sim/run.ts";
import {
  checkCut,
  hostName,
  isCutConsistentByClocks,
  parseJsonl,
  SHIVIZ_REGEX,
  type TraceEvent,
  traceToShiViz,
} from "../../src/sim/trace.ts";

const N = (x: number) => x as NodeId;

/** A 6-node gossip run with loss, duplication, a pause, a crash, a partition and a fail-stop. */
const plan: FaultPlan = {
  profile: "trace-test",
  link: { lossProb: 0.1, dupProb: 0.05, reorderProb: 0.2, reorderDelayMs: 30 },
  clocks: [],
  byzantine: [{ node: N(3), strategy: "duplicating" }],
  schedule: [
    { at: 50, kind: "pause", node: N(5) },
    { at: 100, kind: "crash", node: N(2) },
    { at: 120, kind: "resume", node: N(5) },
    {
      at: 150,
      kind: "partition",
      groups: [
        [N(0), N(1)],
        [N(2), N(3), N(4), N(5)],
      ],
    },
    { at: 250, kind: "restart", node: N(2) },
    { at: 300, kind: "failstop", node: N(4) },
    { at: 350, kind: "heal" },
  ],
  healAtMs: 400,
};

const run = runScenario(gossipSpec, { seed: 21, nodes: 6, faults: plan, untilMs: 600, trace: true });
// Work from the JSONL text, as a tool reading a trace file would.
const events: TraceEvent[] = parseJsonl(run.jsonl as string).events;
const stamped = events.filter((e) => e.vt !== undefined);

/** Own index of an event on its node (its own vector component). */
const own = (e: TraceEvent) => (e.vt as Record<string, number>)[String(e.node)] as number;

function eventCounts(): Map<number, number> {
  const counts = new Map<number, number>();
  for (const e of stamped) counts.set(e.node, Math.max(counts.get(e.node) ?? 0, own(e)));
  return counts;
}

/** The cut of every node's events at or before virtual time t. */
function timeCut(t: number): Map<number, number> {
  const cut = new Map<number, number>();
  for (const e of stamped) if (e.t <= t) cut.set(e.node, Math.max(cut.get(e.node) ?? 0, own(e)));
  return cut;
}

describe("the trace under test", () => {
  it("has sends, receives, drops, duplicates, a crash, a restart, a fail-stop and its notices", () => {
    const kinds = new Set(events.map((e) => e.kind));
    for (const k of [
      "start",
      "send",
      "recv",
      "drop",
      "crash",
      "restart",
      "failstop",
      "notify",
      "pause",
      "resume",
    ])
      assert.ok(kinds.has(k as TraceEvent["kind"]), `no ${k} event`);
    const reasons = new Set(events.filter((e) => e.kind === "drop").map((e) => e.reason));
    assert.ok(reasons.has("partition") && reasons.has("loss") && reasons.has("down"));
    const recvPerMsg = new Map<number, number>();
    for (const e of events)
      if (e.kind === "recv") recvPerMsg.set(e.msg as number, (recvPerMsg.get(e.msg as number) ?? 0) + 1);
    assert.ok(
      [...recvPerMsg.values()].some((c) => c > 1),
      "a duplicated message is received twice",
    );
    assert.deepEqual(run.violations, []);
  });
});

describe("consistent cuts (checkCut, isCutConsistentByClocks)", () => {
  it("reports an inconsistent cut with the exact message that crosses it backwards", () => {
    const recvs = events.filter((e) => e.kind === "recv");
    const recvCount = new Map<number, number>();
    for (const r of recvs) recvCount.set(r.msg as number, (recvCount.get(r.msg as number) ?? 0) + 1);
    // Node 0's last send that was received once: cutting node 0 just before it, with every
    // other node complete, leaves exactly that message received but not sent.
    const lastSend = [...events]
      .reverse()
      .find((e) => e.kind === "send" && e.node === 0 && recvCount.get(e.msg as number) === 1) as TraceEvent;
    assert.ok(lastSend !== undefined);
    const later = events.filter(
      (e) =>
        e.node === 0 &&
        e.vt !== undefined &&
        own(e) > own(lastSend) &&
        (e.kind === "send" || e.kind === "failstop"),
    );
    assert.ok(
      later.every((e) => (recvCount.get(e.msg as number) ?? 0) === 0),
      "no later send of node 0 is received",
    );
    const recv = recvs.find((r) => r.msg === lastSend.msg) as TraceEvent;
    const cut = eventCounts();
    cut.set(0, own(lastSend) - 1);
    const verdict = checkCut(events, cut);
    assert.equal(verdict.consistent, false);
    if (verdict.consistent) return;
    const expected = {
      id: lastSend.msg as number,
      from: 0,
      to: lastSend.peer as number,
      sendIndex: own(lastSend),
      recvIndex: own(recv),
    };
    assert.equal(recv.node, lastSend.peer);
    assert.deepEqual(verdict.message, expected);
    assert.deepEqual(verdict.offending, [expected]);
    assert.equal(isCutConsistentByClocks(events, cut), false);
    // Include the send and the cut is whole again.
    cut.set(0, own(lastSend));
    assert.deepEqual(checkCut(events, cut), { consistent: true });
    assert.equal(isCutConsistentByClocks(events, cut), true);
  });

  it("a fail-stop notice received before its fail-stop is in the cut is reported too", () => {
    const stop = events.find((e) => e.kind === "failstop") as TraceEvent;
    const cut = eventCounts();
    cut.set(stop.node, own(stop) - 1);
    const verdict = checkCut(events, cut);
    assert.equal(verdict.consistent, false);
    if (verdict.consistent) return;
    const notices = events.filter((e) => e.kind === "notify");
    assert.ok(notices.length > 0);
    assert.deepEqual(
      verdict.offending.map((o) => [o.id, o.from, o.to]).sort((a, b) => (a[2] as number) - (b[2] as number)),
      notices.map((n) => [stop.msg, stop.node, n.node]).sort((a, b) => (a[2] as number) - (b[2] as number)),
    );
  });

  it("every prefix by virtual time is a consistent cut (a receive comes after its send)", () => {
    const times = [...new Set(stamped.map((e) => e.t))];
    assert.ok(times.length > 100);
    for (const t of [-1, ...times, 1e9]) {
      const cut = timeCut(t);
      assert.deepEqual(checkCut(events, cut), { consistent: true }, `cut at ${t}`);
      assert.equal(isCutConsistentByClocks(events, cut), true, `cut at ${t}`);
    }
  });

  it("checkCut and isCutConsistentByClocks agree on random cuts (property)", () => {
    const counts = eventCounts();
    const nodes = [...counts.keys()].sort((a, b) => a - b);
    const times = [...new Set(stamped.map((e) => e.t))];
    let consistent = 0;
    let inconsistent = 0;
    const anyCut = fc.tuple(...nodes.map((n) => fc.integer({ min: 0, max: (counts.get(n) as number) + 3 })));
    // Near a consistent cut: a time prefix with one or two nodes moved a few events.
    const nearCut = fc
      .tuple(
        fc.constantFrom(...times),
        fc.array(fc.tuple(fc.constantFrom(...nodes), fc.integer({ min: -4, max: 4 })), { maxLength: 2 }),
      )
      .map(([t, moves]) => {
        const cut = timeCut(t);
        for (const [n, d] of moves) cut.set(n, Math.max(0, (cut.get(n) ?? 0) + d));
        return nodes.map((n) => cut.get(n) ?? 0);
      });
    fc.assert(
      fc.property(fc.oneof(anyCut, nearCut), (values) => {
        const cut = new Map(nodes.map((n, i) => [n, values[i] as number]));
        const a = checkCut(events, cut).consistent;
        assert.equal(isCutConsistentByClocks(events, cut), a);
        if (a) consistent++;
        else inconsistent++;
      }),
      { numRuns: 400, seed: 42 },
    );
    assert.ok(consistent > 20 && inconsistent > 20, `${consistent} consistent, ${inconsistent} not`);
  });

  it("a cut entry beyond a node's last event includes all of its events (both checkers)", () => {
    // Regression: isCutConsistentByClocks used to look for an event with index exactly equal
    // to the cut entry, so it found no frontier and missed what that node had received.
    const counts = eventCounts();
    for (const node of counts.keys()) {
      const cut = new Map([...counts].map(([n, c]) => [n, n === node ? 1 : c + 10]));
      assert.equal(checkCut(events, cut).consistent, false);
      assert.equal(isCutConsistentByClocks(events, cut), false, `node ${node} cut to 1`);
    }
  });
});

describe("ShiViz export", () => {
  const log = traceToShiViz(events);
  const lines = log.split("\n");

  it("line 1 is the parser regex with event/host/clock groups, line 2 the empty delimiter", () => {
    assert.equal(lines[0], SHIVIZ_REGEX);
    const re = new RegExp(lines[0] as string);
    for (const g of ["event", "host", "clock"]) assert.ok((lines[0] as string).includes(`(?<${g}>`));
    assert.equal(lines[1], "");
    assert.equal(lines.at(-1), "", "the log ends with a newline");
    const m = re.exec('send rumor to n1 #4 @1.000ms\nn0 {"n0":2}');
    assert.deepEqual(
      { ...m?.groups },
      { event: "send rumor to n1 #4 @1.000ms", host: "n0", clock: '{"n0":2}' },
    );
  });

  interface Parsed {
    event: string;
    host: string;
    clock: Record<string, number>;
  }
  function parsed(): Parsed[] {
    const body = lines.slice(2, -1);
    assert.equal(body.length % 2, 0);
    const out: Parsed[] = [];
    for (let i = 0; i < body.length; i += 2) {
      const event = body[i] as string;
      const m = /^(\S+) (\{.*\})$/.exec(body[i + 1] as string);
      assert.ok(m, `bad host line ${body[i + 1]}`);
      assert.ok(event.length > 0 && !event.includes("\r"));
      out.push({ event, host: m[1] as string, clock: JSON.parse(m[2] as string) });
    }
    return out;
  }

  it("has two lines per stamped event, and ShiViz's regex reads them back", () => {
    const ps = parsed();
    assert.equal(ps.length, stamped.length);
    assert.ok(stamped.length < events.length, "drops are not logged (they are not node events)");
    const matches = [...lines.slice(2).join("\n").matchAll(new RegExp(SHIVIZ_REGEX, "g"))];
    assert.equal(matches.length, ps.length);
    matches.forEach((m, i) => {
      const p = ps[i] as Parsed;
      assert.equal(m.groups?.event, p.event);
      assert.equal(m.groups?.host, p.host);
      assert.deepEqual(JSON.parse(m.groups?.clock as string), p.clock);
    });
    ps.forEach((p, i) => {
      const e = stamped[i] as TraceEvent;
      assert.equal(p.host, hostName(e.node));
      assert.ok(p.event.startsWith(e.kind));
      if (e.msg !== undefined) assert.ok(p.event.includes(`#${e.msg}`));
    });
  });

  it("clocks follow ShiViz's rules: own entry 1, 2, 3, ...; other entries name logged hosts within range", () => {
    const ps = parsed();
    const count = new Map<string, number>();
    for (const p of ps) {
      const next = (count.get(p.host) ?? 0) + 1;
      assert.equal(p.clock[p.host], next, `${p.host}: own entry must be ${next}`);
      count.set(p.host, next);
    }
    assert.equal(count.size, 6);
    for (const p of ps) {
      for (const [h, v] of Object.entries(p.clock)) {
        assert.ok(count.has(h), `unknown host ${h}`);
        assert.ok(Number.isInteger(v) && v >= 1 && v <= (count.get(h) as number), `${h}=${v}`);
      }
    }
  });

  it("each clock is the max of the host's previous clock and, on a receive, the sender's clock, plus one", () => {
    const ps = parsed();
    const atSend = new Map<number, Record<string, number>>();
    const last = new Map<string, Record<string, number>>();
    let receives = 0;
    ps.forEach((p, i) => {
      const e = stamped[i] as TraceEvent;
      const expected: Record<string, number> = { ...(last.get(p.host) ?? {}) };
      if (e.kind === "recv" || e.kind === "notify") {
        const sent = atSend.get(e.msg as number);
        assert.ok(sent, `no send for message ${e.msg}`);
        for (const [h, v] of Object.entries(sent)) expected[h] = Math.max(expected[h] ?? 0, v);
        receives++;
      }
      expected[p.host] = (last.get(p.host)?.[p.host] ?? 0) + 1;
      assert.deepEqual(p.clock, expected, `event ${i}: ${p.event}`);
      last.set(p.host, p.clock);
      if (e.kind === "send" || e.kind === "failstop") atSend.set(e.msg as number, p.clock);
    });
    assert.ok(receives > 100);
  });
});
