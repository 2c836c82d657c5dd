/**
 * `phalanx sim` and `phalanx sim swarm`: run a protocol in the deterministic simulator, print a
 * summary and the trace hash, write the trace as JSONL or a ShiViz log, and sweep seeds.
 */
import { writeFileSync } from "node:fs";
import { type Command, Option } from "commander";
import { PhalanxError } from "../core/errors.ts";
import { type NodeId, nodeId } from "../core/ids.ts";
import { protocolSpec, protocols } from "../protocols.ts";
import { describePlan, PROFILE_HELP, PROFILES } from "../sim/faults.ts";
import { parseSeedRange, replayCommand, runScenario, runSwarm } from "../sim/run.ts";
import { traceToShiViz } from "../sim/trace.ts";
import { viewerCommand } from "../ui/build.ts";
import { algorithmHelp, isAlgorithm, runAlgorithm } from "./algorithms.ts";

export function parseIntOption(name: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (text: string): number => {
    if (!/^-?\d+$/.test(text.trim()))
      throw new PhalanxError("BAD_ARGUMENT", `${name} must be an integer, got "${text}"`);
    const v = Number(text);
    if (v < min || v > max)
      throw new PhalanxError("BAD_ARGUMENT", `${name} must be in ${min}..${max}, got ${v}`);
    return v;
  };
}

const profileList = PROFILES.map((p) => `  ${p.padEnd(10)} ${PROFILE_HELP[p]}`).join("\n");

interface SimFlags {
  protocol?: string;
  nodes?: number;
  seed: number;
  faults: string;
  until?: number;
  healAt?: number;
  trace?: string;
  shiviz?: string;
  json?: boolean;
  signatures: "ed25519" | "fast";
  traitors?: number;
  strategy?: string;
  set?: string[];
  byzantine?: Array<{ node: NodeId; strategy: string }>;
}

/** `--byzantine 0=silent,2=equivocate`: which nodes run which adversary strategy. */
export function parseByzantine(text: string): Array<{ node: NodeId; strategy: string }> {
  return text.split(",").map((part) => {
    const m = /^\s*(\d+)\s*=\s*([a-z][a-z0-9-]*)\s*$/.exec(part);
    if (m === null)
      throw new PhalanxError(
        "BAD_ARGUMENT",
        `--byzantine wants NODE=STRATEGY[,NODE=STRATEGY], got "${part}"`,
      );
    return { node: nodeId(Number(m[1])), strategy: m[2] as string };
  });
}

function runSim(name: string | undefined, flags: SimFlags): number {
  const protocol = flags.protocol ?? name;
  if (protocol === undefined) {
    throw new PhalanxError(
      "BAD_ARGUMENT",
      `name a protocol: --protocol NAME (one of: ${[...protocols.keys()].join(", ")})`,
    );
  }
  const spec = protocolSpec(protocol);
  const nodes = flags.nodes ?? spec.defaultNodes;
  const r = runScenario(spec, {
    seed: flags.seed,
    nodes,
    faults: flags.faults,
    trace: true,
    signatures: flags.signatures,
    ...(flags.byzantine !== undefined ? { byzantine: flags.byzantine } : {}),
    ...(flags.until !== undefined ? { untilMs: flags.until } : {}),
    ...(flags.healAt !== undefined ? { healAtMs: flags.healAt } : {}),
  });
  const s = r.sim.stats;
  const figures = spec.summarize?.(r.sim) ?? {};
  if (flags.trace) writeFileSync(flags.trace, r.jsonl ?? "");
  if (flags.shiviz) writeFileSync(flags.shiviz, traceToShiViz(r.sim.trace ?? []));
  if (flags.json) {
    console.log(
      JSON.stringify({
        protocol,
        nodes,
        seed: flags.seed,
        faults: flags.faults,
        virtualMs: r.sim.now,
        stats: s,
        figures,
        violations: r.violations,
        traceEvents: r.sim.trace?.length ?? 0,
        traceHash: r.traceHash,
      }),
    );
  } else {
    const d = s.dropped;
    const dropped = d.loss + d.partition + d.down + d.pausedOverflow + d.unknownDestination;
    console.log(
      `phalanx sim: ${protocol}, ${nodes} nodes, seed ${flags.seed}, faults ${flags.faults}, ${r.sim.now} ms virtual`,
    );
    for (const line of describePlan(r.plan)) console.log(`  fault: ${line}`);
    console.log(
      `messages: ${s.sent} sent, ${s.delivered} delivered, ${dropped} dropped (loss ${d.loss}, partition ${d.partition}, down ${d.down}), ${s.duplicated} duplicated`,
    );
    console.log(
      `events: ${s.events} executed, ${s.timersFired} timers, ${s.outputs} outputs, ${r.wallMs.toFixed(0)} ms wall`,
    );
    const fig = Object.entries(figures).map(([k, v]) => `${k} ${v}`);
    if (fig.length > 0) console.log(`${protocol}: ${fig.join(", ")}`);
    if (r.violations.length === 0) console.log("checks: all passed");
    for (const v of r.violations) console.log(`VIOLATION [${v.checker}] ${v.message}`);
    console.log(`trace: ${r.sim.trace?.length ?? 0} events, sha256 ${r.traceHash}`);
    if (flags.trace) console.log(`wrote trace to ${flags.trace}; view it: ${viewerCommand(flags.trace)}`);
    if (flags.shiviz)
      console.log(`wrote ShiViz log to ${flags.shiviz} (upload it at ShiViz's "Try out ShiViz" page)`);
    if (r.violations.length > 0) {
      console.log(
        `replay: ${replayCommand(protocol, flags.seed, nodes, flags.faults, flags.until, flags.signatures, flags.byzantine)}`,
      );
    }
  }
  return r.violations.length === 0 ? 0 : 1;
}

interface SwarmFlags {
  protocol?: string;
  seeds: string;
  nodes?: number;
  faults: string;
  until?: number;
  quiet?: boolean;
}

function runSwarmCommand(flags: SwarmFlags): number {
  if (flags.protocol === undefined)
    throw new PhalanxError("BAD_ARGUMENT", "name a protocol: --protocol NAME");
  const spec = protocolSpec(flags.protocol);
  const [from, to] = parseSeedRange(flags.seeds);
  const total = to - from + 1;
  let lastReport = performance.now();
  const result = runSwarm(spec, {
    from,
    to,
    faults: flags.faults,
    ...(flags.nodes !== undefined ? { nodes: flags.nodes } : {}),
    ...(flags.until !== undefined ? { untilMs: flags.until } : {}),
    onSeed(seed, failed, done) {
      if (failed) console.log(`seed ${seed}: FAILED`);
      const now = performance.now();
      if (!flags.quiet && (now - lastReport > 2000 || done === total)) {
        lastReport = now;
        process.stderr.write(`swarm: ${done}/${total} seeds\n`);
      }
    },
  });
  for (const f of result.failures) {
    console.log(`\nseed ${f.seed}:`);
    for (const v of f.violations) console.log(`  VIOLATION [${v.checker}] ${v.message}`);
    if (f.error) console.log(`  ERROR ${f.error.split("\n").slice(0, 6).join("\n  ")}`);
    console.log(`  replay: ${f.command}`);
  }
  console.log(
    `swarm: ${flags.protocol}, seeds ${from}..${to}: ${result.seeds - result.failures.length} passed, ${result.failures.length} failed in ${(result.wallMs / 1000).toFixed(1)} s`,
  );
  return result.failures.length === 0 ? 0 : 1;
}

export function registerSim(program: Command): void {
  const sim = program
    .command("sim")
    .summary("run a protocol in the deterministic simulator")
    .description(
      "Run a protocol in the deterministic simulator: virtual time, one seed for every random choice.\n" +
        "The same seed and options always give the same run and a byte-identical trace.",
    )
    .enablePositionalOptions()
    .argument("[name]", "protocol or algorithm to run (same as --protocol)")
    .option("-p, --protocol <name>", `protocol: ${[...protocols.keys()].join(", ")}`)
    .option("-n, --nodes <n>", "number of nodes", parseIntOption("--nodes", 1, 4096))
    .option("-s, --seed <s>", "seed of the run", parseIntOption("--seed", 0), 1)
    .option(
      "-f, --faults <profile>",
      "fault profile (see below), or 'swarm' for a random mix from the seed",
      "none",
    )
    .option("-u, --until <ms>", "virtual time at which the run ends", parseIntOption("--until", 1))
    .option("--heal-at <ms>", "virtual time at which all faults end", parseIntOption("--heal-at", 0))
    .option("--trace <file.jsonl>", "write the causal trace as JSON lines")
    .option("--shiviz <file.log>", "write the trace as a ShiViz log")
    .option("--json", "print the summary as one JSON line")
    .option(
      "-t, --traitors <t>",
      "algorithms: faulty or Byzantine processes",
      parseIntOption("--traitors", 0, 4096),
    )
    .option("--strategy <name>", "algorithms: what the traitors (or the scheduler) do")
    .option(
      "--byzantine <node=strategy,...>",
      "protocols: make these nodes Byzantine with these strategies (e.g. 0=silent for a silent PBFT primary)",
      parseByzantine,
    )
    .option(
      "--set <key=value>",
      "algorithms: a setting of the algorithm (repeatable)",
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .addOption(
      new Option(
        "--signatures <scheme>",
        "ed25519, or fast: simulator-held HMAC tags, same behaviour, ~50x cheaper",
      )
        .choices(["ed25519", "fast"])
        .default("ed25519"),
    )
    .addHelpText(
      "after",
      `\nClassic algorithms (phalanx sim NAME [--nodes n] [--traitors t] [--strategy s] [--set k=v]):\n${algorithmHelp()}\n` +
        `\nFault profiles:\n${profileList}\n  swarm      a random mix drawn from the seed (what 'sim swarm' uses)\n\n` +
        "Exit codes: 0 all checks passed, 1 a checker found a violation, 2 bad usage.\n\n" +
        "Examples:\n" +
        "  phalanx sim --protocol gossip --nodes 8 --seed 7 --faults chaos\n" +
        "  phalanx sim gossip --seed 3 --trace run.jsonl --shiviz run.log\n" +
        "  phalanx sim pbft --byzantine 0=silent --trace vc.jsonl   (a view change; see it with phalanx ui)\n" +
        "  phalanx sim swarm --protocol gossip --seeds 1..200\n",
    )
    .action(async (name: string | undefined, flags: SimFlags) => {
      const which = flags.protocol ?? name;
      if (isAlgorithm(which)) {
        process.exitCode = await runAlgorithm(which, flags);
        return;
      }
      process.exitCode = runSim(name, flags);
    });

  sim
    .command("swarm")
    .description(
      "Run many seeds, each with its own random fault mix, and print every failing seed with the\n" +
        "command that replays it.",
    )
    .requiredOption("-p, --protocol <name>", `protocol: ${[...protocols.keys()].join(", ")}`)
    .requiredOption("--seeds <A..B>", "inclusive seed range, e.g. 1..500")
    .option("-n, --nodes <n>", "number of nodes", parseIntOption("--nodes", 1, 4096))
    .option("-f, --faults <profile>", "fault profile for every seed ('swarm' draws one per seed)", "swarm")
    .option("-u, --until <ms>", "virtual time at which each run ends", parseIntOption("--until", 1))
    .option("-q, --quiet", "no progress lines on stderr")
    .addHelpText("after", "\nExit codes: 0 every seed passed, 1 some seed failed, 2 bad usage.\n")
    .action((flags: SwarmFlags) => {
      process.exitCode = runSwarmCommand(flags);
    });
}
