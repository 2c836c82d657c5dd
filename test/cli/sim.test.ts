import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "phalanx-cli-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function phalanx(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ["bin/phalanx.js", ...args], {
    cwd: root,
    encoding: "utf8",
    timeout: 60_000,
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

describe("phalanx sim NAME (classic algorithms)", () => {
  it("runs the algorithm, exits 0 when its oracle held, and writes the trace it returns to --trace", () => {
    const file = join(dir, "om.jsonl");
    const r = phalanx("sim", "om", "--nodes", "4", "--traitors", "1", "--trace", file);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^om: OM\(1\) with 4 generals/);
    const lines = readFileSync(file, "utf8").trimEnd().split("\n");
    assert.equal(JSON.parse(lines[0] as string).protocol, "om");
    assert.match(r.stdout, new RegExp(`trace: ${lines.length - 1} events written to `));
  });

  it("exits 1 when the oracle fails and 2 for an unknown setting", () => {
    assert.equal(phalanx("sim", "dolev-strong", "--traitors", "2", "--strategy", "hide").status, 1);
    const bad = phalanx("sim", "om", "--set", "nope=1");
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /om has no setting "nope"/);
  });
});

describe("phalanx sim (CLI)", () => {
  it("the same command twice writes byte-identical traces, and prints their sha256", () => {
    const files = [join(dir, "a.jsonl"), join(dir, "b.jsonl")];
    const hashes: string[] = [];
    for (const file of files) {
      const r = phalanx("sim", "--protocol", "gossip", "--seed", "3", "--faults", "chaos", "--trace", file);
      assert.equal(r.status, 0, r.stderr);
      const m = /^trace: (\d+) events, sha256 ([0-9a-f]{64})$/m.exec(r.stdout);
      assert.ok(m, r.stdout);
      const bytes = readFileSync(file);
      assert.equal(m[2], sha256(bytes), "the printed hash is the file's hash");
      assert.equal(Number(m[1]) + 1, bytes.toString("utf8").trimEnd().split("\n").length, "events + header");
      assert.match(r.stdout, new RegExp(`wrote trace to ${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
      hashes.push(m[2] as string);
    }
    assert.ok(readFileSync(files[0] as string).equals(readFileSync(files[1] as string)));
    assert.equal(hashes[0], hashes[1]);
    const other = phalanx("sim", "--protocol", "gossip", "--seed", "4", "--faults", "chaos");
    assert.equal(other.status, 0);
    assert.doesNotMatch(other.stdout, new RegExp(hashes[0] as string), "another seed, another trace");
  });

  it("--help exits 0 and lists every fault profile", () => {
    const r = phalanx("sim", "--help");
    assert.equal(r.status, 0);
    assert.match(r.stdout, /Fault profiles:/);
    for (const p of [
      "none",
      "lossy",
      "partition",
      "crash",
      "failstop",
      "pause",
      "drift",
      "byzantine",
      "chaos",
      "swarm",
    ])
      assert.match(r.stdout, new RegExp(`^  ${p} +\\S`, "m"), `profile ${p}`);
    assert.match(r.stdout, /Exit codes: 0 all checks passed, 1 a checker found a violation, 2 bad usage/);
  });

  it("an unknown protocol exits 2 and names the choices", () => {
    const r = phalanx("sim", "--protocol", "nope", "--seed", "1");
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown protocol "nope"; choose one of: .*\bgossip\b/);
    assert.equal(r.stdout, "");
  });

  it("an unknown fault profile and a bad seed exit 2", () => {
    const bad = phalanx("sim", "--protocol", "gossip", "--faults", "meteor");
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /unknown fault profile "meteor"; choose one of: none, lossy/);
    const seed = phalanx("sim", "--protocol", "gossip", "--seed", "x");
    assert.equal(seed.status, 2);
    assert.match(seed.stderr, /--seed must be an integer/);
  });

  it("sim swarm --protocol gossip --seeds 1..5 exits 0 and prints '5 passed'", () => {
    const r = phalanx("sim", "swarm", "--protocol", "gossip", "--seeds", "1..5", "--quiet");
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /swarm: gossip, seeds 1\.\.5: 5 passed, 0 failed in [\d.]+ s/);
    const bad = phalanx("sim", "swarm", "--protocol", "gossip", "--seeds", "5..1");
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /empty/);
  });

  it("--shiviz writes a ShiViz log", () => {
    const file = join(dir, "run.log");
    const r = phalanx("sim", "gossip", "--seed", "2", "--nodes", "4", "--faults", "crash", "--shiviz", file);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /wrote ShiViz log to /);
    const lines = readFileSync(file, "utf8").split("\n");
    assert.equal(lines[0], "(?<event>.*)\\n(?<host>\\S*) (?<clock>{.*})");
    assert.equal(lines[1], "");
    assert.match(lines[2] as string, /^start @0\.000ms$/);
    assert.match(lines[3] as string, /^n\d+ \{"n\d+":1\}$/);
    const events = Number(/^trace: (\d+) events/m.exec(r.stdout)?.[1]);
    assert.ok(lines.length - 3 > 100 && (lines.length - 3) / 2 <= events);
  });

  it("--json prints one JSON line with the run's figures", () => {
    const r = phalanx("sim", "--protocol", "gossip", "--seed", "3", "--faults", "chaos", "--json");
    assert.equal(r.status, 0);
    const out = JSON.parse(r.stdout);
    assert.equal(out.protocol, "gossip");
    assert.equal(out.seed, 3);
    assert.deepEqual(out.violations, []);
    const text = phalanx("sim", "--protocol", "gossip", "--seed", "3", "--faults", "chaos");
    assert.equal(
      out.traceHash,
      /sha256 ([0-9a-f]{64})/.exec(text.stdout)?.[1],
      "the same run, the same hash",
    );
  });
});
