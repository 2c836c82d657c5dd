/**
 * Maelstrom node mode: four nodes wired by an in-test router that plays Maelstrom's network
 * (JSON messages between nodes and from clients), running the lin-kv operations; and one real
 * `phalanx maelstrom` process spoken to over stdin/stdout.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { describe, it } from "node:test";
import { MaelstromNode } from "../../src/maelstrom/node.ts";

type Body = Record<string, unknown> & { type: string; msg_id?: number; in_reply_to?: number };
interface Msg {
  src: string;
  dest: string;
  body: Body;
}

class Router {
  readonly nodes = new Map<string, MaelstromNode>();
  private readonly waiting = new Map<number, (b: Body) => void>();
  private clientMsgId = 1;
  delivered = 0;

  constructor(names: string[]) {
    for (const name of names) {
      this.nodes.set(
        name,
        new MaelstromNode({
          write: (line) => this.route(JSON.parse(line) as Msg),
          log: () => {},
        }),
      );
    }
  }

  private route(m: Msg): void {
    if (m.dest.startsWith("c")) {
      const done = this.waiting.get(m.body.in_reply_to as number);
      this.waiting.delete(m.body.in_reply_to as number);
      done?.(m.body);
      return;
    }
    this.delivered++;
    // Maelstrom delivers asynchronously.
    setImmediate(() => this.nodes.get(m.dest)?.handle(m));
  }

  call(node: string, body: Body): Promise<Body> {
    const msgId = this.clientMsgId++;
    return new Promise((resolve) => {
      this.waiting.set(msgId, resolve);
      this.nodes.get(node)?.handle({ src: "c1", dest: node, body: { ...body, msg_id: msgId } });
    });
  }
}

describe("maelstrom node mode", { timeout: 60_000 }, () => {
  it("init, then lin-kv read, write and cas with Maelstrom's error codes across four nodes", async () => {
    const names = ["n0", "n1", "n2", "n3"];
    const r = new Router(names);
    for (const name of names) {
      const ok = await r.call(name, { type: "init", node_id: name, node_ids: names });
      assert.equal(ok.type, "init_ok");
    }
    const missing = await r.call("n1", { type: "read", key: 1 });
    assert.equal(missing.type, "error");
    assert.equal(missing.code, 20);
    assert.equal((await r.call("n2", { type: "write", key: 1, value: 5 })).type, "write_ok");
    const read = await r.call("n3", { type: "read", key: 1 });
    assert.equal(read.type, "read_ok");
    assert.equal(read.value, 5);
    const bad = await r.call("n0", { type: "cas", key: 1, from: 4, to: 6 });
    assert.equal(bad.type, "error");
    assert.equal(bad.code, 22);
    const absent = await r.call("n0", { type: "cas", key: 2, from: 4, to: 6 });
    assert.equal(absent.code, 20);
    assert.equal((await r.call("n1", { type: "cas", key: 1, from: 5, to: 6 })).type, "cas_ok");
    assert.equal((await r.call("n2", { type: "read", key: 1 })).value, 6);
    // Writes go through PBFT among the nodes, not just the one asked.
    assert.ok(r.delivered > 20, `${r.delivered} node-to-node messages`);
    await Promise.all([...r.nodes.values()].map((n) => n.stop()));
  });

  it("a real `phalanx maelstrom` process answers over stdin and stdout", async () => {
    const bin = join(import.meta.dirname, "../../bin/phalanx.js");
    const p = spawn(process.execPath, [bin, "maelstrom"], { stdio: ["pipe", "pipe", "pipe"] });
    const lines = createInterface({ input: p.stdout });
    const replies: Msg[] = [];
    const waiters: Array<(m: Msg) => void> = [];
    lines.on("line", (l) => {
      const m = JSON.parse(l) as Msg;
      const w = waiters.shift();
      if (w) w(m);
      else replies.push(m);
    });
    const next = () =>
      new Promise<Msg>((resolve) => {
        const m = replies.shift();
        if (m) resolve(m);
        else waiters.push(resolve);
      });
    const send = (body: Body) => p.stdin.write(`${JSON.stringify({ src: "c1", dest: "n0", body })}\n`);
    try {
      send({ type: "init", msg_id: 1, node_id: "n0", node_ids: ["n0"] });
      const init = await next();
      assert.equal(init.body.type, "init_ok");
      assert.equal(init.body.in_reply_to, 1);
      send({ type: "write", msg_id: 2, key: "k", value: [1, 2] });
      assert.equal((await next()).body.type, "write_ok");
      send({ type: "read", msg_id: 3, key: "k" });
      const read = await next();
      assert.equal(read.body.type, "read_ok");
      assert.deepEqual(read.body.value, [1, 2]);
      assert.equal(read.src, "n0");
      assert.equal(read.dest, "c1");
    } finally {
      p.kill();
    }
  });
});
