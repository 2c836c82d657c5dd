/**
 * Real-process test harness: a cluster of `phalanx start` replicas on loopback, each its own
 * OS process with its own lmdb directory, on free ports. Every wait is bounded.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initCluster } from "../../src/runtime/config.ts";
import type { ReplicaStatus } from "../../src/runtime/replica-host.ts";

export const bin = join(import.meta.dirname, "../../bin/phalanx.js");

/** A base port p such that p .. p+count-1 are all free now. */
export async function freePortRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 40_000);
    const servers = [];
    let ok = true;
    for (let i = 0; i < count && ok; i++) {
      const s = createServer();
      ok = await new Promise<boolean>((resolve) => {
        s.once("error", () => resolve(false));
        s.listen(base + i, "127.0.0.1", () => resolve(true));
      });
      servers.push(s);
    }
    await Promise.all(servers.map((s) => new Promise((r) => s.close(() => r(undefined)))));
    if (ok) return base;
  }
  throw new Error("no free port range found");
}

/** What a replica's /status answers (the replica host's own type). */
export type Status = ReplicaStatus;

export class TestCluster {
  readonly procs = new Map<number, ChildProcess>();

  private constructor(
    readonly dir: string,
    readonly n: number,
    readonly basePort: number,
  ) {}

  static async create(n = 4, pbft: Record<string, number> = {}): Promise<TestCluster> {
    const dir = mkdtempSync(join(tmpdir(), "phalanx-cluster-"));
    const basePort = await freePortRange(2 * n);
    const path = initCluster({ dir, replicas: n, clients: 3, host: "127.0.0.1", basePort, force: false });
    if (Object.keys(pbft).length > 0) {
      const c = JSON.parse(readFileSync(path, "utf8"));
      c.pbft = pbft;
      writeFileSync(path, JSON.stringify(c));
    }
    return new TestCluster(dir, n, basePort);
  }

  httpPort(id: number): number {
    return this.basePort + 2 * id + 1;
  }

  start(id: number, extra: string[] = []): ChildProcess {
    const log = openSync(join(this.dir, `replica-${id}.log`), "a");
    const p = spawn(process.execPath, [bin, "start", "--id", String(id), "--dir", this.dir, ...extra], {
      stdio: ["ignore", log, log],
    });
    this.procs.set(id, p);
    return p;
  }

  startAll(): void {
    for (let i = 0; i < this.n; i++) this.start(i);
  }

  kill9(id: number): Promise<void> {
    const p = this.procs.get(id);
    this.procs.delete(id);
    if (p === undefined || p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      p.once("exit", () => resolve());
      p.kill("SIGKILL");
    });
  }

  async status(id: number): Promise<Status | undefined> {
    try {
      const res = await fetch(`http://127.0.0.1:${this.httpPort(id)}/status`, {
        signal: AbortSignal.timeout(1000),
      });
      const s = (await res.json()) as Status & { starting?: boolean };
      return s.starting ? undefined : s;
    } catch {
      return undefined;
    }
  }

  async metrics(id: number): Promise<string> {
    const res = await fetch(`http://127.0.0.1:${this.httpPort(id)}/metrics`, {
      signal: AbortSignal.timeout(1000),
    });
    return res.text();
  }

  /** Polls until `pred` holds (every 100 ms), or throws after `ms` with `what`. */
  static async until<T>(what: string, ms: number, pred: () => Promise<T | undefined | false>): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = await pred();
      if (v !== undefined && v !== false) return v;
      if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Waits until replicas `ids` answer /status and each is connected to all the others listed. */
  async ready(ids: number[] = [...Array(this.n).keys()], ms = 20_000): Promise<void> {
    await TestCluster.until(`replicas ${ids.join(",")} up and connected`, ms, async () => {
      for (const id of ids) {
        const s = await this.status(id);
        if (s === undefined) return false;
        if (!ids.every((o) => o === id || s.peers.includes(o))) return false;
      }
      return true;
    });
  }

  async stop(): Promise<void> {
    await Promise.all([...this.procs.keys()].map((id) => this.kill9(id)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
