import assert from "node:assert/strict";
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { once } from "node:events";
import { createServer, connect as netConnect } from "node:net";
import { after, describe, it } from "node:test";
import { type TLSSocket, connect as tlsConnect } from "node:tls";
import fc from "fast-check";
import { limits } from "../../src/core/limits.ts";
import { encodeFrame } from "../../src/runtime/frames.ts";
import { rawEd25519PublicKey, selfSignedCertificate } from "../../src/runtime/tls.ts";
import { Transport, type TransportOptions } from "../../src/runtime/transport.ts";

const HOST = "127.0.0.1";
const TEST_TIMEOUT = { timeout: 20_000 };

interface Identity {
  readonly id: number;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly certPem: string;
  readonly raw: Uint8Array;
}

async function identity(id: number): Promise<Identity> {
  const keys = generateKeyPairSync("ed25519");
  const certPem = await selfSignedCertificate(keys, `test-node-${id}`);
  return { id, ...keys, certPem, raw: rawEd25519PublicKey(keys.publicKey) };
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const text = (s: string) => new TextEncoder().encode(s);
const untext = (b: Uint8Array) => new TextDecoder().decode(b);

/** One transport plus everything it reported. */
class Node {
  readonly frames: { from: number; payload: Uint8Array }[] = [];
  readonly counts = new Map<string, number>();
  readonly logs: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
  readonly events: string[] = [];
  readonly transport: Transport;

  constructor(
    readonly me: Identity,
    configured: readonly Identity[],
    options: Partial<TransportOptions>,
  ) {
    const byKey = new Map(configured.map((n) => [hex(n.raw), n.id]));
    this.transport = new Transport({
      self: { id: me.id, privateKey: me.privateKey, publicKey: me.publicKey, certPem: me.certPem },
      dial: new Map(),
      identify: (raw) => byKey.get(hex(raw)),
      onFrame: (from, payload) => this.frames.push({ from, payload }),
      onPeerUp: (id) => this.events.push(`up ${id}`),
      onPeerDown: (id) => this.events.push(`down ${id}`),
      log: (level, msg, fields) =>
        this.logs.push({ level, msg, ...(fields === undefined ? {} : { fields }) }),
      count: (metric, by = 1) => this.counts.set(metric, (this.counts.get(metric) ?? 0) + by),
      reconnectMinMs: 10,
      reconnectMaxMs: 100,
      ...options,
    });
  }

  count(metric: string): number {
    return this.counts.get(metric) ?? 0;
  }

  texts(from?: number): string[] {
    return this.frames.filter((f) => from === undefined || f.from === from).map((f) => untext(f.payload));
  }
}

const open: Node[] = [];
async function started(node: Node): Promise<Node> {
  open.push(node);
  await node.transport.start();
  return node;
}
after(async () => {
  await Promise.all(open.map((n) => n.transport.close()));
});

async function waitFor(what: string, condition: () => boolean, ms = 8000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A port that was free a moment ago (the tests need some ports before the listener exists). */
async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, HOST);
  await once(server, "listening");
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

describe("transport", () => {
  it(
    "links two replicas and a dial-only client, both ways, replies going over the inbound link",
    TEST_TIMEOUT,
    async () => {
      const ids = await Promise.all([identity(0), identity(1), identity(2)]);
      const [i0, i1, i2] = ids as [Identity, Identity, Identity];
      const p0 = await freePort();
      const p1 = await freePort();
      const addr = new Map([
        [0, { host: HOST, port: p0 }],
        [1, { host: HOST, port: p1 }],
      ]);
      const n0 = await started(
        new Node(i0, ids, { listen: { host: HOST, port: p0 }, dial: new Map([[1, addr.get(1)!]]) }),
      );
      const n1 = await started(
        new Node(i1, ids, { listen: { host: HOST, port: p1 }, dial: new Map([[0, addr.get(0)!]]) }),
      );
      const n2 = await started(new Node(i2, ids, { dial: addr }));
      assert.equal(n2.transport.address, undefined);
      assert.deepEqual(n0.transport.address, { host: HOST, port: p0 });

      await waitFor("links", () => n0.transport.connectedPeers().join() === "1,2");
      await waitFor("links", () => n1.transport.connectedPeers().join() === "0,2");
      await waitFor("links", () => n2.transport.connectedPeers().join() === "0,1");

      for (let i = 0; i < 200; i++) assert.equal(n0.transport.send(1, text(`0>1 #${i}`)), true);
      assert.equal(n1.transport.send(0, text("1>0")), true);
      assert.equal(n2.transport.send(0, text("2>0")), true);
      assert.equal(n2.transport.send(1, text("2>1")), true);
      assert.equal(n0.transport.send(2, text("0>2 reply")), true);
      assert.equal(n1.transport.send(2, text("1>2 reply")), true);
      assert.equal(n0.transport.send(0, text("0>0 self")), true);

      await waitFor("frames at 1", () => n1.frames.length === 201);
      await waitFor("frames at 0", () => n0.frames.length === 3);
      await waitFor("frames at 2", () => n2.frames.length === 2);
      assert.deepEqual(
        n1.texts(0),
        Array.from({ length: 200 }, (_, i) => `0>1 #${i}`),
      );
      assert.deepEqual(n1.texts(2), ["2>1"]);
      assert.deepEqual(n0.texts(1), ["1>0"]);
      assert.deepEqual(n0.texts(2), ["2>0"]);
      assert.deepEqual(n0.texts(0), ["0>0 self"]);
      assert.deepEqual(n2.texts(0), ["0>2 reply"]);
      assert.deepEqual(n2.texts(1), ["1>2 reply"]);
      assert.equal(n1.count("transport.frames-in"), 201);
      assert.ok(n0.count("transport.frames-out") >= 201);
      assert.ok(n0.events.includes("up 1") && n0.events.includes("up 2"));

      // A node with no link to the target drops and counts; so are empty and oversize payloads.
      assert.equal(n2.transport.send(7, text("nobody")), false);
      assert.equal(n2.count("transport.dropped-no-connection"), 1);
      assert.equal(n2.transport.send(0, new Uint8Array(0)), false);
      assert.equal(n2.transport.send(0, new Uint8Array(limits.messageSizeMax + 1)), false);
      assert.equal(n2.count("transport.dropped-invalid"), 2);

      // Large frames exercise the write backpressure path.
      const big = new Uint8Array(1024 * 1024).map((_, i) => i & 0xff);
      for (let i = 0; i < 16; i++) assert.equal(n2.transport.send(1, big), true);
      await waitFor("large frames", () => n1.frames.length === 201 + 16);
      assert.deepEqual(n1.frames.at(-1)?.payload, big);

      // A client going away is a peer going down at the replica; replies to it are then dropped.
      await n2.transport.close();
      await waitFor("client down at 0", () => n0.transport.connectedPeers().join() === "1");
      assert.ok(n0.events.includes("down 2"));
      assert.equal(n0.transport.send(2, text("too late")), false);
      assert.equal(n2.transport.send(0, text("after close")), false);
    },
  );

  it("keeps serving when onFrame throws", TEST_TIMEOUT, async () => {
    const ids = await Promise.all([identity(0), identity(1)]);
    const [i0, i1] = ids as [Identity, Identity];
    const n0 = await started(new Node(i0, ids, { listen: { host: HOST, port: 0 } }));
    let calls = 0;
    const n1 = await started(
      new Node(i1, ids, {
        dial: new Map([[0, n0.transport.address!]]),
        onFrame: () => {
          calls++;
          throw new Error("handler bug");
        },
      }),
    );
    await waitFor("client link", () => n0.transport.connectedPeers().includes(1));
    n0.transport.send(1, text("a"));
    n0.transport.send(1, text("b"));
    await waitFor("both frames handled", () => calls === 2);
    assert.equal(n1.count("transport.handler-error"), 2);
  });

  it(
    "refuses a node whose key is not configured, and keeps serving configured ones",
    TEST_TIMEOUT,
    async () => {
      const ids = await Promise.all([identity(0), identity(1)]);
      const [i0, i1] = ids as [Identity, Identity];
      const stranger = await identity(9);
      const n0 = await started(new Node(i0, ids, { listen: { host: HOST, port: 0 } }));
      const dial = new Map([[0, n0.transport.address!]]);
      // The stranger trusts node 0's key, so from its side the link looks fine.
      const ns = await started(new Node(stranger, [...ids, stranger], { dial }));
      const n1 = await started(new Node(i1, ids, { dial }));
      ns.transport.send(0, text("let me in"));
      n1.transport.send(0, text("hello from 1"));
      await waitFor("refusal", () => n0.count("transport.refused-stranger") >= 2);
      await waitFor("configured frame", () => n0.frames.length === 1);
      await sleep(100);
      assert.deepEqual(n0.texts(), ["hello from 1"]);
      assert.ok(!n0.transport.connectedPeers().includes(9));
      const warn = n0.logs.find((l) => l.msg.includes("not in the configuration"));
      assert.equal(warn?.level, "warn");
      assert.match(String(warn?.fields?.remote), /^127\.0\.0\.1:\d+$/);
      assert.equal(warn?.fields?.key, hex(stranger.raw));
    },
  );

  it("refuses a listener whose key belongs to another node than the one dialed", TEST_TIMEOUT, async () => {
    const ids = await Promise.all([identity(0), identity(1), identity(2)]);
    const [i0, , i2] = ids as [Identity, Identity, Identity];
    const n0 = await started(new Node(i0, ids, { listen: { host: HOST, port: 0 } }));
    // Node 2 believes node 1 lives at node 0's address.
    const n2 = await started(new Node(i2, ids, { dial: new Map([[1, n0.transport.address!]]) }));
    assert.equal(n2.transport.send(1, text("for 1 only")), true);
    await waitFor("refusal", () => n2.count("transport.refused-wrong-peer") >= 2);
    await sleep(100);
    assert.equal(n0.frames.length, 0);
    assert.deepEqual(n2.transport.connectedPeers(), []);
    assert.ok(!n2.events.includes("up 1"));
  });

  it(
    "survives garbage, bad handshakes and bad frames, counting each, and keeps serving",
    TEST_TIMEOUT,
    async () => {
      const ids = await Promise.all([identity(0), identity(1), identity(2)]);
      const [i0, i1, i2] = ids as [Identity, Identity, Identity];
      const n0 = await started(
        new Node(i0, ids, { listen: { host: HOST, port: 0 }, handshakeTimeoutMs: 300 }),
      );
      const { port } = n0.transport.address!;

      // Raw TCP: random bytes (some shaped like a TLS record header), then nothing at all.
      const garbage = fc.sample(
        fc.oneof(
          fc.uint8Array({ minLength: 1, maxLength: 2000 }),
          fc
            .uint8Array({ minLength: 0, maxLength: 200 })
            .map((b) => Buffer.concat([Buffer.from([0x16, 3, 1]), b])),
        ),
        { seed: 7, numRuns: 25 },
      );
      const closed = (s: { once(e: "close", f: () => void): unknown }) =>
        new Promise<void>((r) => s.once("close", () => r()));
      await Promise.all(
        [...garbage, undefined].map(async (bytes) => {
          const s = netConnect(port, HOST);
          s.on("error", () => {});
          s.resume(); // read the server's alert, so its FIN is seen
          await once(s, "connect");
          if (bytes !== undefined) s.write(bytes);
          await closed(s); // the server ends it: error or handshake timeout
        }),
      );
      await waitFor(
        "handshake failures",
        () => n0.count("transport.handshake-failed") === garbage.length + 1,
      );

      // A configured key over TLS 1.2 is still refused: 1.3 only.
      const tls12 = tlsConnect({
        host: HOST,
        port,
        key: i2.privateKey.export({ format: "pem", type: "pkcs8" }),
        cert: i2.certPem,
        rejectUnauthorized: false,
        maxVersion: "TLSv1.2",
      });
      tls12.on("error", () => {});
      tls12.resume();
      await closed(tls12);
      await waitFor("TLS 1.2 refusal", () => n0.count("transport.handshake-failed") === garbage.length + 2);
      assert.equal(n0.count("transport.connected-in"), 0);

      // TLS without a client certificate.
      const noCert = tlsConnect({ host: HOST, port, rejectUnauthorized: false, minVersion: "TLSv1.3" });
      noCert.on("error", () => {});
      noCert.resume();
      await closed(noCert);
      assert.equal(n0.count("transport.refused-stranger"), 1);

      // Authenticated as configured node 2, then bad frames.
      const asNode2 = async (bytes: Uint8Array, end: boolean): Promise<void> => {
        const s: TLSSocket = tlsConnect({
          host: HOST,
          port,
          key: i2.privateKey.export({ format: "pem", type: "pkcs8" }),
          cert: i2.certPem,
          rejectUnauthorized: false,
          minVersion: "TLSv1.3",
        });
        s.on("error", () => {});
        s.resume();
        await once(s, "secureConnect");
        s.write(bytes);
        if (end) s.end();
        await closed(s);
      };
      const lengthHeader = (n: number) => {
        const h = Buffer.alloc(4);
        h.writeUInt32BE(n);
        return h;
      };
      await asNode2(lengthHeader(0), false);
      await asNode2(
        Buffer.concat([encodeFrame(text("ok before the bad one")), lengthHeader(0xffff_ffff)]),
        false,
      );
      await asNode2(lengthHeader(limits.messageSizeMax + 1), false);
      await asNode2(
        Buffer.concat([Buffer.from([0xff]), ...fc.sample(fc.uint8Array(), { seed: 1, numRuns: 20 })]),
        false,
      );
      await waitFor("bad frames", () => n0.count("transport.bad-frame") === 4);
      await asNode2(Buffer.concat([lengthHeader(100), Buffer.alloc(10)]), true); // truncated, then gone
      await waitFor("truncated frame", () => n0.count("transport.truncated-frame") === 1);
      await asNode2(Buffer.concat([encodeFrame(text("fine")), lengthHeader(1)]), true);
      await waitFor("second truncated frame", () => n0.count("transport.truncated-frame") === 2);
      // A frame complete before a violation in the same chunk may be lost with its connection.
      assert.ok(n0.texts(2).every((t) => t === "ok before the bad one" || t === "fine"));
      assert.equal(n0.texts(2).at(-1), "fine");

      // A legitimate peer still gets through both ways.
      const n1 = await started(new Node(i1, ids, { dial: new Map([[0, { host: HOST, port }]]) }));
      n1.transport.send(0, text("still there?"));
      await waitFor("frame from 1", () => n0.texts(1).length === 1);
      assert.equal(n0.transport.send(1, text("yes")), true);
      await waitFor("reply at 1", () => n1.texts(0).join() === "yes");
      assert.equal(n0.count("transport.refused-stranger"), 1);
    },
  );

  it(
    "queues frames while a dialed peer is down and delivers them after it comes back",
    TEST_TIMEOUT,
    async () => {
      const ids = await Promise.all([identity(0), identity(1)]);
      const [i0, i1] = ids as [Identity, Identity];
      const port = await freePort();
      const listen = { host: HOST, port };
      let n1 = await started(new Node(i1, ids, { listen }));
      const n0 = await started(new Node(i0, ids, { dial: new Map([[1, listen]]) }));
      n0.transport.send(1, text("first"));
      await waitFor("first frame", () => n1.texts(0).join() === "first");

      await n1.transport.close();
      await waitFor("link down", () => n0.events.includes("down 1"));
      assert.deepEqual(n0.transport.connectedPeers(), []);
      const queued = Array.from({ length: 50 }, (_, i) => `queued #${i}`);
      for (const t of queued) assert.equal(n0.transport.send(1, text(t)), true);
      await sleep(150); // a few failed redials
      assert.ok(n0.count("transport.dial-failed") >= 1);

      n1 = await started(new Node(i1, ids, { listen }));
      await waitFor("queued frames", () => n1.frames.length === queued.length);
      assert.deepEqual(n1.texts(0), queued);
      assert.equal(n0.events.filter((e) => e === "up 1").length, 2);
    },
  );

  it("bounds the queue of a peer that is down, dropping and counting the excess", TEST_TIMEOUT, async () => {
    const ids = await Promise.all([identity(0), identity(1)]);
    const [i0] = ids as [Identity, Identity];
    const port = await freePort(); // nobody listens
    const n0 = await started(
      new Node(i0, ids, { dial: new Map([[1, { host: HOST, port }]]), maxQueuedBytesPerPeer: 1000 }),
    );
    const payload = new Uint8Array(96); // 100 bytes framed
    for (let i = 0; i < 10; i++) assert.equal(n0.transport.send(1, payload), true);
    assert.equal(n0.transport.send(1, payload), false);
    assert.equal(n0.transport.send(1, new Uint8Array(1)), false);
    assert.equal(n0.count("transport.dropped-queue-full"), 2);
  });
});
