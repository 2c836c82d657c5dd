/**
 * The HTTP gateway against a real 4-replica cluster: every route, status codes and bodies.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Gateway, startGateway } from "../../src/gateway/http.ts";
import { TestCluster } from "./harness.ts";

describe("HTTP gateway", { timeout: 120_000 }, () => {
  let cluster: TestCluster;
  let gw: Gateway;
  const call = async (method: string, path: string, body?: string) => {
    const res = await fetch(`${gw.url}${path}`, { method, body });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };

  before(async () => {
    cluster = await TestCluster.create(4);
    cluster.startAll();
    await cluster.ready();
    gw = await startGateway({ dir: cluster.dir, port: 0, client: 1 });
  });
  after(async () => {
    await gw?.close();
    await cluster?.stop();
  });

  it("GET of a missing key is 404; PUT returns the version; GET returns value and version", async () => {
    assert.equal((await call("GET", "/kv/user%2F1")).status, 404);
    assert.deepEqual(await call("PUT", "/kv/user%2F1", "alice"), { status: 200, json: { version: 1 } });
    assert.deepEqual(await call("PUT", "/kv/user%2F1", "alice2"), { status: 200, json: { version: 2 } });
    assert.deepEqual(await call("GET", "/kv/user%2F1"), {
      status: 200,
      json: { value: "alice2", version: 2 },
    });
  });

  it("cas: 200 with the new version when the value matches, 409 with the current version when not", async () => {
    await call("PUT", "/kv/c", "x");
    const bad = await call("POST", "/kv/c/cas", JSON.stringify({ from: "nope", to: "y" }));
    assert.equal(bad.status, 409);
    assert.equal(bad.json.version, 1);
    assert.deepEqual(await call("POST", "/kv/c/cas", JSON.stringify({ from: "x", to: "y" })), {
      status: 200,
      json: { version: 2 },
    });
    assert.deepEqual(await call("POST", "/kv/new/cas", JSON.stringify({ from: null, to: "z" })), {
      status: 200,
      json: { version: 1 },
    });
    assert.equal((await call("POST", "/kv/c/cas", "not json")).status, 400);
  });

  it("DELETE reports whether the key existed; scan lists live keys by prefix in order", async () => {
    await call("PUT", "/kv/s%2Fb", "2");
    await call("PUT", "/kv/s%2Fa", "1");
    await call("PUT", "/kv/s%2Fc", "3");
    assert.deepEqual(await call("DELETE", "/kv/s%2Fc"), { status: 200, json: { existed: true } });
    assert.deepEqual(await call("DELETE", "/kv/s%2Fc"), { status: 200, json: { existed: false } });
    const scan = await call("GET", "/kv?prefix=s%2F&limit=10");
    assert.deepEqual(scan.json.entries, [
      { key: "s/a", value: "1", version: 1 },
      { key: "s/b", value: "2", version: 1 },
    ]);
    assert.equal((await call("GET", "/kv?limit=-1")).status, 400);
    assert.equal((await call("GET", "/nowhere")).status, 404);
  });
});
