/**
 * Four replicas in four Linux network namespaces, joined by veth pairs to a bridge: a real
 * network partition. Cutting one replica's link leaves the other three serving; healing it
 * lets it catch up. Needs root and iproute2; skipped with a message otherwise.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { connect, type PhalanxClient } from "../../src/client/client.ts";
import { initCluster } from "../../src/runtime/config.ts";
import { bin, type Status, TestCluster } from "./harness.ts";

const tag = String(process.pid % 100000);
const bridge = `phxbr${tag}`;
const ns = (i: number) => `phx${tag}n${i}`;
const vethHost = (i: number) => `phx${tag}h${i}`;
const vethNs = (i: number) => `phx${tag}p${i}`;
const ip = (i: number) => `10.77.${Number(tag) % 250}.${i + 1}`;
const hostIp = () => `10.77.${Number(tag) % 250}.254`;

function sh(...args: string[]): void {
  execFileSync("ip", args, { stdio: "pipe" });
}

function canUseNetns(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root (network namespaces)";
  try {
    sh("netns", "add", `phx${tag}probe`);
    sh("netns", "del", `phx${tag}probe`);
  } catch (e) {
    return `cannot create network namespaces: ${(e as Error).message.split("\n")[0]}`;
  }
  return undefined;
}

const skip = canUseNetns();

describe("replicas in separate network namespaces", { skip, timeout: 180_000 }, () => {
  const n = 4;
  const dir = mkdtempSync(join(tmpdir(), "phalanx-netns-"));
  const procs: ChildProcess[] = [];
  let client: PhalanxClient;

  const status = async (i: number): Promise<Status | undefined> => {
    try {
      const res = await fetch(`http://${ip(i)}:7101/status`, { signal: AbortSignal.timeout(1000) });
      return (await res.json()) as Status;
    } catch {
      return undefined;
    }
  };

  before(async () => {
    sh("link", "add", bridge, "type", "bridge");
    sh("addr", "add", `${hostIp()}/24`, "dev", bridge);
    sh("link", "set", bridge, "up");
    for (let i = 0; i < n; i++) {
      sh("netns", "add", ns(i));
      sh("link", "add", vethHost(i), "type", "veth", "peer", "name", vethNs(i), "netns", ns(i));
      sh("link", "set", vethHost(i), "master", bridge, "up");
      sh("-n", ns(i), "addr", "add", `${ip(i)}/24`, "dev", vethNs(i));
      sh("-n", ns(i), "link", "set", vethNs(i), "up");
      sh("-n", ns(i), "link", "set", "lo", "up");
    }
    // Every replica on its own address, same ports.
    const path = initCluster({ dir, replicas: n, clients: 2, host: ip(0), basePort: 7100, force: false });
    const config = JSON.parse(readFileSync(path, "utf8"));
    config.replicas.forEach((r: { host: string; port: number; httpPort: number }, i: number) => {
      r.host = ip(i);
      r.port = 7100;
      r.httpPort = 7101;
    });
    writeFileSync(path, JSON.stringify(config));
    for (let i = 0; i < n; i++) {
      const log = openSync(join(dir, `replica-${i}.log`), "a");
      procs.push(
        spawn(
          "ip",
          ["netns", "exec", ns(i), process.execPath, bin, "start", "--id", String(i), "--dir", dir],
          {
            stdio: ["ignore", log, log],
          },
        ),
      );
    }
    await TestCluster.until("4 replicas connected across namespaces", 30_000, async () => {
      for (let i = 0; i < n; i++) if ((await status(i))?.peers.length !== n - 1) return false;
      return true;
    });
    client = await connect({ dir, sessions: 8, timeoutMs: 15_000 });
  });

  after(async () => {
    await client?.close();
    for (const p of procs) p.kill("SIGKILL");
    await new Promise((r) => setTimeout(r, 200));
    for (let i = 0; i < n; i++) {
      try {
        sh("netns", "del", ns(i));
      } catch {}
    }
    try {
      sh("link", "del", bridge);
    } catch {}
    rmSync(dir, { recursive: true, force: true });
  });

  it("cutting one replica off leaves three serving; healing lets it catch up", async () => {
    await client.put("before", "1");
    // Cut replica 3 (a backup in view 0) off the bridge.
    sh("link", "set", vethHost(3), "down");
    for (let k = 0; k < 200; k++) await client.put(`during-${k}`, String(k));
    assert.equal((await client.get("during-199")).value, "199");
    const s0 = await status(0);
    assert.ok(s0 !== undefined && s0.lastExecuted > 0);
    assert.equal(await status(3), undefined, "replica 3 is unreachable while cut off");
    // Heal.
    sh("link", "set", vethHost(3), "up");
    const target = (await status(0))?.lastExecuted ?? 0;
    const caught = await TestCluster.until(`replica 3 executing up to ${target}`, 60_000, async () => {
      const s = await status(3);
      return s !== undefined && s.lastExecuted >= target ? s : undefined;
    });
    assert.ok(caught.lastExecuted >= target);
    assert.deepEqual(caught.peers, [0, 1, 2]);
  });
});

if (skip !== undefined) console.log(`# netns test skipped: ${skip}`);
