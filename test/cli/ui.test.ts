/**
 * `phalanx ui` as a user runs it: bad arguments exit 2 with a clear message; a good start prints
 * the address and serves the page, its configuration and the trace; Ctrl-C stops it. Also the
 * simulator's `--byzantine` option and the viewer command it prints.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { buildWeb } from "../../src/ui/build.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "phalanx-ui-cli-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const fixture = join(root, "test/web/fixtures/gossip-chaos-seed3.jsonl");

function phalanx(...args: string[]) {
  const r = spawnSync(process.execPath, ["bin/phalanx.js", ...args], {
    cwd: root,
    encoding: "utf8",
    timeout: 60_000,
  });
  if (r.error) throw r.error;
  return r;
}

/** Starts `phalanx ui` and resolves with its address once it says it is serving. */
function startUi(args: string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ["bin/phalanx.js", "ui", ...args], { cwd: root });
  let out = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no address after 60 s:\n${out}`)), 60_000);
    const seen = (chunk: Buffer) => {
      out += chunk.toString();
      const m = /Phalanx UI on (http:\/\/\S+\/)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1] as string });
      }
    };
    child.stdout.on("data", seen);
    child.stderr.on("data", seen);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code}:\n${out}`));
    });
  });
}

function stop(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    child.once("exit", (code) => resolve(code));
    child.kill("SIGINT");
  });
}

describe("phalanx ui", () => {
  const assets = join(dir, "web");

  it("refuses a missing trace, a missing build and a port in use, with exit 2", async () => {
    const missing = phalanx("ui", "--trace", join(dir, "nope.jsonl"), "--assets", dir);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /phalanx: --assets .*: no index\.html there/);
    await buildWeb(assets);
    const noTrace = phalanx("ui", "--trace", join(dir, "nope.jsonl"), "--assets", assets);
    assert.equal(noTrace.status, 2);
    assert.match(noTrace.stderr, /--trace: no such file: .*nope\.jsonl/);
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", () => r()));
    const port = (blocker.address() as { port: number }).port;
    try {
      const busy = phalanx("ui", "--assets", assets, "--port", String(port));
      assert.equal(busy.status, 2);
      assert.match(busy.stderr, new RegExp(`port ${port} is in use; choose another with --port`));
    } finally {
      blocker.close();
    }
    const badPort = phalanx("ui", "--port", "70000");
    assert.equal(badPort.status, 2);
    assert.match(badPort.stderr, /--port must be in 0\.\.65535/);
  });

  it("serves the page, its configuration and the trace, and stops on Ctrl-C", async () => {
    const { child, url } = await startUi(["--trace", fixture, "--assets", assets, "--port", "0"]);
    try {
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
      const page = await fetch(url);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<title>Phalanx viewer<\/title>/);
      const config = await (await fetch(`${url}api/config`)).json();
      assert.deepEqual(config, {
        trace: { name: "gossip-chaos-seed3.jsonl", bytes: readFileSync(fixture).length },
        cluster: null,
      });
      assert.equal(await (await fetch(`${url}api/trace`)).text(), readFileSync(fixture, "utf8"));
      const noCluster = await fetch(`${url}api/cluster`);
      assert.equal(noCluster.status, 404);
      assert.match(((await noCluster.json()) as { error: string }).error, /start with --cluster/);
    } finally {
      assert.equal(await stop(child), 0);
    }
  });
});

describe("phalanx sim --byzantine", () => {
  it("makes the named replica Byzantine, and the summary and the trace header say so", () => {
    const file = join(dir, "vc.jsonl");
    const r = phalanx(
      "sim",
      "pbft",
      "--byzantine",
      "0=silent",
      "--until",
      "900",
      "--signatures",
      "fast",
      "--trace",
      file,
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /fault: byzantine: node 0 runs silent/);
    assert.match(r.stdout, /newViews [1-9]/);
    assert.match(
      r.stdout,
      new RegExp(`view it: npx phalanx ui --trace ${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`),
    );
    const header = JSON.parse(readFileSync(file, "utf8").split("\n")[0] as string);
    assert.deepEqual(header.byzantine, [0]);
  });

  it("refuses a node out of range, an unknown strategy and a malformed list, with exit 2", () => {
    const out = phalanx("sim", "pbft", "--byzantine", "9=silent");
    assert.equal(out.status, 2);
    assert.match(out.stderr, /node 9 is not one of 0\.\.3/);
    const unknown = phalanx("sim", "pbft", "--byzantine", "0=bogus");
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /no Byzantine strategy "bogus"; choose one of: silent, .*equivocate/);
    const malformed = phalanx("sim", "pbft", "--byzantine", "zero");
    assert.equal(malformed.status, 2);
    assert.match(malformed.stderr, /--byzantine wants NODE=STRATEGY/);
  });
});
