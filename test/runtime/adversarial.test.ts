/**
 * Real processes under attack: a Byzantine replica (equivocating primary that also forges its
 * replies), a client whose key is not in the configuration, and garbage on a replica's port.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect as netConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { connect as tlsConnect } from "node:tls";
import { connect } from "../../src/client/client.ts";
import {
  b64,
  clientKeyPath,
  generateNodeKeys,
  loadCluster,
  rawPublic,
  readKeyFile,
  writeKeyFile,
} from "../../src/runtime/config.ts";
import { selfSignedCertificate } from "../../src/runtime/tls.ts";
import { TestCluster } from "./harness.ts";

const counter = (metrics: string, name: string) =>
  Number(new RegExp(`^phalanx_${name}_total (\\d+)$`, "m").exec(metrics)?.[1] ?? 0);

describe("a Byzantine replica cannot make a client accept a wrong value", { timeout: 120_000 }, () => {
  let cluster: TestCluster;
  before(async () => {
    cluster = await TestCluster.create(4);
    // Replica 0 is the primary of view 0: it equivocates and forges every reply it sends.
    cluster.start(0, ["--byzantine", "equivocate,corrupt-replies"]);
    for (const i of [1, 2, 3]) cluster.start(i);
    await cluster.ready();
  });
  after(async () => cluster?.stop());

  it("every read returns what was written; the forged value never shows; the view moves past the liar", async () => {
    const kv = await connect({ dir: cluster.dir, sessions: 8, timeoutMs: 20_000 });
    try {
      const keys = Array.from({ length: 40 }, (_, i) => `byz-${i}`);
      await Promise.all(keys.map((k) => kv.put(k, `good-${k}`)));
      const got = await Promise.all(keys.map((k) => kv.get(k)));
      got.forEach((g, i) => {
        assert.equal(g.value, `good-${keys[i]}`);
      });
      const s = await cluster.status(1);
      assert.ok(s !== undefined && s.view >= 1 && s.primary !== 0, `view ${s?.view}, primary ${s?.primary}`);
      const liar = await cluster.status(0);
      assert.equal((liar as unknown as { byzantine: string }).byzantine, "equivocate,corrupt-replies");
    } finally {
      await kv.close();
    }
  });
});

describe("strangers and garbage are refused, counted, and the replica keeps serving", {
  timeout: 120_000,
}, () => {
  let cluster: TestCluster;
  before(async () => {
    cluster = await TestCluster.create(4);
    cluster.startAll();
    await cluster.ready();
  });
  after(async () => cluster?.stop());

  it("a client presenting a key that is not in the configuration is refused", async () => {
    // The stranger's own copy of the configuration lists its key; the replicas' does not.
    const dir = mkdtempSync(join(tmpdir(), "phalanx-stranger-"));
    try {
      cpSync(join(cluster.dir, "cluster.json"), join(dir, "cluster.json"));
      const keys = generateNodeKeys(0);
      const config = JSON.parse(readFileSync(join(dir, "cluster.json"), "utf8"));
      config.clients[0].publicKey = b64(rawPublic(keys.signPublic));
      config.clients[0].dhPublicKey = b64(rawPublic(keys.dhPublic));
      writeFileSync(join(dir, "cluster.json"), JSON.stringify(config));
      writeKeyFile(clientKeyPath(dir, 0), "client", 0, keys);
      const before = counter(await cluster.metrics(0), "transport_refused_stranger");
      const kv = await connect({ dir, sessions: 1, timeoutMs: 1500 });
      try {
        await assert.rejects(kv.put("x", "1"), { name: "TimeoutError" });
      } finally {
        await kv.close();
      }
      const afterCount = counter(await cluster.metrics(0), "transport_refused_stranger");
      assert.ok(afterCount > before, `refused strangers ${before} -> ${afterCount}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("random bytes, truncated and oversize frames on a replica's port are dropped and counted", async () => {
    const port = cluster.basePort; // replica 0's peer port
    const m0 = await cluster.metrics(0);
    // 1. Random bytes instead of a TLS handshake.
    for (let i = 0; i < 5; i++) {
      await new Promise<void>((resolve) => {
        const s = netConnect(port, "127.0.0.1", () => s.end(randomBytes(200 + i * 500)));
        s.on("error", () => resolve());
        s.on("close", () => resolve());
      });
    }
    // 2. A configured client key over real TLS, then garbage frames: truncated, then oversize.
    const cfg = loadCluster(join(cluster.dir, "cluster.json"));
    const keys = readKeyFile(clientKeyPath(cluster.dir, 2), cfg);
    const cert = await selfSignedCertificate(
      { privateKey: keys.signPrivate, publicKey: keys.signPublic },
      "fuzz",
    );
    const key = keys.signPrivate.export({ format: "pem", type: "pkcs8" }) as string;
    const sendFrames = (bytes: Buffer) =>
      new Promise<void>((resolve) => {
        const s = tlsConnect({ host: "127.0.0.1", port, cert, key, rejectUnauthorized: false }, () => {
          s.end(bytes);
        });
        s.on("error", () => resolve());
        s.on("close", () => resolve());
      });
    const truncated = Buffer.concat([Buffer.from([0, 0, 1, 0]), randomBytes(100)]); // says 256, sends 100
    const oversize = Buffer.from([0xff, 0xff, 0xff, 0xff]);
    const undecodable = Buffer.concat([Buffer.from([0, 0, 0, 16]), randomBytes(16)]);
    await sendFrames(truncated);
    await sendFrames(oversize);
    await sendFrames(undecodable);
    await new Promise((r) => setTimeout(r, 300));
    const m1 = await cluster.metrics(0);
    const grew = (name: string) => counter(m1, name) - counter(m0, name);
    assert.ok(
      grew("transport_handshake_failed") >= 5,
      `handshake failures +${grew("transport_handshake_failed")}`,
    );
    assert.ok(grew("transport_truncated_frame") >= 1, `truncated +${grew("transport_truncated_frame")}`);
    assert.ok(grew("transport_bad_frame") >= 1, `bad frames +${grew("transport_bad_frame")}`);
    assert.ok(
      grew("runtime_undecodable_frame") + grew("runtime_bad_envelope") >= 1,
      "the undecodable frame was counted",
    );
    // Still serving.
    const kv = await connect({ dir: cluster.dir, sessions: 1, timeoutMs: 10_000 });
    try {
      await kv.put("after-fuzz", "ok");
      assert.equal((await kv.get("after-fuzz")).value, "ok");
    } finally {
      await kv.close();
    }
  });
});
