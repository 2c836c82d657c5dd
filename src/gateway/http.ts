/**
 * HTTP gateway: a local, trusted process that embeds the client library (src/client/) so that
 * curl and any language can use a cluster. It holds a client key of the configuration; whoever
 * can reach its port acts as that client, so bind it to loopback (the default) or put it
 * behind your own authentication.
 *
 *   GET    /kv/{key}            200 {"value": "...", "version": n}, or 404 {"error": ...} if the key has no value
 *   PUT    /kv/{key}            body = the value (UTF-8 text); 200 {"version": n}
 *   DELETE /kv/{key}            200 {"existed": true|false}
 *   POST   /kv/{key}/cas        body {"from": "..." | null, "to": "..."}; 200 {"version": n},
 *                               or 409 {"error": ..., "version": current} when the value differs
 *   GET    /kv?prefix=p&limit=n 200 {"entries": [{"key", "value", "version"}, ...]}
 *   GET    /health              200 {"ok": true}
 *
 * Keys are the rest of the path after /kv/, percent-decoded (so a key may contain "/"; a key
 * ending in "/cas" cannot be the target of a cas). Errors are JSON {"error", "code"}: 400 an
 * invalid operation, 413 a value or key over the store's bounds, 504 no agreed answer in time,
 * 503 the gateway is shutting down.
 */
import { serve } from "@hono/node-server";
import { type Context, Hono } from "hono";
import type { ConnectOptions, PhalanxClient } from "../client/client.ts";
import { connect } from "../client/client.ts";
import { PhalanxClientError } from "../client/errors.ts";
import { limits } from "../core/limits.ts";

export interface GatewayOptions extends ConnectOptions {
  host?: string;
  port: number;
}

export interface Gateway {
  readonly url: string;
  readonly client: PhalanxClient;
  close(): Promise<void>;
}

function fail(c: Context, e: unknown) {
  if (e instanceof PhalanxClientError) {
    const status =
      e.code === "TIMEOUT" ? 504 : e.code === "CLOSED" ? 503 : e.code === "TOO_LARGE" ? 413 : 400;
    return c.json({ error: e.message, code: e.code }, status);
  }
  throw e;
}

const keyOf = (c: Context) => {
  const raw = c.req.path.slice("/kv/".length);
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
};

export function gatewayApp(client: PhalanxClient): Hono {
  const app = new Hono();
  app.get("/health", (c) => c.json({ ok: true }));

  app.get("/kv", async (c) => {
    const prefix = c.req.query("prefix") ?? "";
    const limitText = c.req.query("limit") ?? "100";
    const limit = Number(limitText);
    if (!Number.isSafeInteger(limit) || limit < 0 || limit > limits.kvScanLimitMax) {
      return c.json({ error: `limit must be an integer 0..${limits.kvScanLimitMax}`, code: "BAD_OP" }, 400);
    }
    try {
      return c.json({ entries: await client.scan(prefix, limit) });
    } catch (e) {
      return fail(c, e);
    }
  });

  app.post("/kv/:key{.+}/cas", async (c) => {
    const key = keyOf(c)?.replace(/\/cas$/, "");
    if (key === undefined)
      return c.json({ error: "the key is not valid percent-encoding", code: "BAD_OP" }, 400);
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      return c.json({ error: 'the body must be JSON {"from": ..., "to": ...}', code: "BAD_OP" }, 400);
    }
    const b = body as { from?: unknown; to?: unknown };
    if (
      typeof b !== "object" ||
      b === null ||
      !(typeof b.from === "string" || b.from === null) ||
      typeof b.to !== "string"
    ) {
      return c.json({ error: '"from" must be a string or null and "to" a string', code: "BAD_OP" }, 400);
    }
    try {
      const r = await client.cas(key, b.from, b.to);
      if (!r.ok) return c.json({ error: 'the current value differs from "from"', version: r.version }, 409);
      return c.json({ version: r.version });
    } catch (e) {
      return fail(c, e);
    }
  });

  app.get("/kv/:key{.+}", async (c) => {
    const key = keyOf(c);
    if (key === undefined)
      return c.json({ error: "the key is not valid percent-encoding", code: "BAD_OP" }, 400);
    try {
      const r = await client.get(key);
      if (r.value === null) return c.json({ error: "not found", version: r.version }, 404);
      return c.json({ value: r.value, version: r.version });
    } catch (e) {
      return fail(c, e);
    }
  });

  app.put("/kv/:key{.+}", async (c) => {
    const key = keyOf(c);
    if (key === undefined)
      return c.json({ error: "the key is not valid percent-encoding", code: "BAD_OP" }, 400);
    const length = Number(c.req.header("content-length") ?? "0");
    if (length > limits.kvValueBytesMax) {
      return c.json(
        { error: `a value may take at most ${limits.kvValueBytesMax} bytes`, code: "TOO_LARGE" },
        413,
      );
    }
    const value = await c.req.text();
    try {
      return c.json({ version: (await client.put(key, value)).version });
    } catch (e) {
      return fail(c, e);
    }
  });

  app.delete("/kv/:key{.+}", async (c) => {
    const key = keyOf(c);
    if (key === undefined)
      return c.json({ error: "the key is not valid percent-encoding", code: "BAD_OP" }, 400);
    try {
      return c.json({ existed: (await client.delete(key)).existed });
    } catch (e) {
      return fail(c, e);
    }
  });

  app.notFound((c) =>
    c.json({ error: "no such route: use /kv/{key}, /kv/{key}/cas or /kv?prefix=", code: "BAD_OP" }, 404),
  );
  return app;
}

export async function startGateway(o: GatewayOptions): Promise<Gateway> {
  const client = await connect({ sessions: 64, ...o });
  const app = gatewayApp(client);
  const host = o.host ?? "127.0.0.1";
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: host, port: o.port }, () => resolve(s));
    s.once("error", reject);
  });
  const addr = server.address();
  const port = typeof addr === "object" && addr !== null ? addr.port : o.port;
  return {
    url: `http://${host}:${port}`,
    client,
    async close() {
      await new Promise<void>((r) => server.close(() => r()));
      await client.close();
    },
  };
}
