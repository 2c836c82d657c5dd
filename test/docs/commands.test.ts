/**
 * Every command shown in the README and docs runs as shown: the `npx phalanx ...`,
 * `npx tsx ...` and `curl ...` lines of their sh blocks are executed in order, page by page,
 * and must exit 0 and print something. `a && b` runs as two commands.
 *
 * Pages that use a cluster run in a fresh temporary directory (so `./data` is theirs):
 * `phalanx up`, `phalanx start`, `phalanx gateway` and `phalanx ui` run in the background, as a
 * reader runs them in another shell, and are stopped with Ctrl-C (SIGINT) at the end of the page; a page
 * that uses `kv` or `status` without starting a cluster first gets one from `phalanx up`, as
 * the README's `npm start` gives it.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { pathToFileURL } from "node:url";

const root = join(import.meta.dirname, "..", "..");
const bin = join(root, "bin", "phalanx.js");
const tsxLoader = pathToFileURL(join(root, "node_modules", "tsx", "dist", "loader.mjs")).href;
const pages = [
  "README.md",
  ...readdirSync(join(root, "docs"), { recursive: true })
    .map(String)
    .filter((f) => f.endsWith(".md"))
    .map((f) => join("docs", f)),
];

function commandsOf(text: string): string[] {
  const out: string[] = [];
  for (const block of text.matchAll(/```sh\n([\s\S]*?)```/g)) {
    for (const raw of (block[1] ?? "").split("\n")) {
      const line = raw.replace(/\s+#.*$/, "").trim();
      for (const part of line.split(" && ")) {
        const cmd = part.trim();
        if (/^(npx (phalanx|tsx) |curl )/.test(cmd)) out.push(cmd);
      }
    }
  }
  return out;
}

const background = /^npx phalanx (up|start|gateway|ui)\b/;
const clusterCommand = /^npx phalanx (up|start|gateway|kv|status|init|ui)\b|^curl /;
const needsCluster = /^npx phalanx (kv|status)\b|^curl /;

/** Splits a command line into words; quotes group words (no escapes, no expansion). */
function words(line: string): string[] {
  return [...line.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3] ?? "");
}

function argvOf(command: string): { file: string; args: string[] } {
  const [tool, ...rest] = words(command);
  if (tool === "curl")
    return { file: "curl", args: ["--silent", "--show-error", "--fail-with-body", ...rest] };
  const [which, ...args] = rest;
  if (which === "phalanx") return { file: process.execPath, args: [bin, ...args] };
  return {
    file: process.execPath,
    args: ["--import", tsxLoader, join(root, args[0] ?? ""), ...args.slice(1)],
  };
}

function startBackground(command: string, cwd: string): Promise<ChildProcess> {
  const { file, args } = argvOf(command);
  const p = spawn(file, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
  let seen = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${command}: not ready after 30 s:\n${seen}`)), 30_000);
    const check = (chunk: Buffer) => {
      seen += chunk.toString();
      if (/running|gateway on|listening|Phalanx UI on/.test(seen)) {
        clearTimeout(timer);
        resolve(p);
      }
    };
    p.stdout?.on("data", check);
    p.stderr?.on("data", check);
    p.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${command} exited (${code}) before it was ready:\n${seen}`));
    });
  });
}

async function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const kill = setTimeout(() => p.kill("SIGKILL"), 10_000);
    p.once("exit", () => {
      clearTimeout(kill);
      resolve();
    });
    p.kill("SIGINT");
  });
}

for (const page of pages) {
  const commands = commandsOf(readFileSync(join(root, page), "utf8"));
  if (commands.length === 0) continue;
  const usesCluster = commands.some((c) => clusterCommand.test(c));
  describe(page, { timeout: 300_000 }, () => {
    const cwd = usesCluster ? mkdtempSync(join(tmpdir(), "phalanx-docs-")) : root;
    const running: ChildProcess[] = [];
    let clusterUp = false;
    after(async () => {
      for (const p of running.reverse()) await stop(p);
      if (cwd !== root) rmSync(cwd, { recursive: true, force: true });
    });
    for (const command of commands) {
      test(command, async () => {
        if (needsCluster.test(command) && !clusterUp) {
          running.push(await startBackground("npx phalanx up", cwd));
          clusterUp = true;
        }
        if (background.test(command)) {
          running.push(await startBackground(command, cwd));
          if (/^npx phalanx (up|start)\b/.test(command)) clusterUp = true;
          return;
        }
        const { file, args } = argvOf(command);
        const r = spawnSync(file, args, {
          cwd: command.startsWith("npx tsx ") && !usesCluster ? root : cwd,
          encoding: "utf8",
          timeout: 120_000,
        });
        assert.equal(r.status, 0, `exit ${r.status}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
        assert.ok(r.stdout.length > 0, "the command printed nothing");
      });
    }
  });
}

test("the docs show at least one runnable command per page that has sh blocks", () => {
  const total = pages.reduce((n, p) => n + commandsOf(readFileSync(join(root, p), "utf8")).length, 0);
  assert.ok(total >= 5, `found only ${total} commands`);
});
