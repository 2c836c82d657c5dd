/**
 * Every command shown in the README and docs runs as shown: the `npx phalanx ...` and
 * `npx tsx ...` lines of their sh blocks are executed here and must exit 0.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

const root = join(import.meta.dirname, "..", "..");
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
      if (/^npx (phalanx|tsx) /.test(line)) out.push(line);
    }
  }
  return out;
}

for (const page of pages) {
  const commands = commandsOf(readFileSync(join(root, page), "utf8"));
  for (const command of commands) {
    test(`${page}: ${command}`, () => {
      const args = command.split(/\s+/).slice(1);
      const [tool, ...rest] = args;
      const argv =
        tool === "phalanx" ? [join(root, "bin", "phalanx.js"), ...rest] : ["--import", "tsx", ...rest];
      const r = spawnSync(process.execPath, argv, { cwd: root, encoding: "utf8", timeout: 120_000 });
      assert.equal(r.status, 0, `exit ${r.status}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
      assert.ok(r.stdout.length > 0, "the command printed nothing");
    });
  }
}

test("the docs show at least one runnable command per page that has sh blocks", () => {
  const total = pages.reduce((n, p) => n + commandsOf(readFileSync(join(root, p), "utf8")).length, 0);
  assert.ok(total >= 5, `found only ${total} commands`);
});
