/**
 * The client library in a few lines: connect to the cluster that `phalanx up` runs from
 * ./data, write, read, compare-and-set, scan, and handle a timeout.
 *
 *   npx tsx examples/kv-client.ts
 */
import { connect, TimeoutError } from "../src/client/client.ts";

const kv = await connect({ dir: "data", timeoutMs: 10_000 });
try {
  const { version } = await kv.put("greeting", "hello");
  console.log(`put greeting -> version ${version}`);
  console.log("get greeting ->", await kv.get("greeting"));
  const swapped = await kv.cas("greeting", "hello", "bonjour");
  console.log(
    `cas hello -> bonjour: ${swapped.ok ? "done" : "value had changed"} (version ${swapped.version})`,
  );
  await Promise.all(["fruit/apple", "fruit/pear", "veg/leek"].map((k) => kv.put(k, k.split("/")[1] ?? "")));
  console.log("scan fruit/ ->", (await kv.scan("fruit/")).map((e) => e.key).join(", "));
  // Every call takes an AbortSignal and a timeout; failures are typed errors.
  await kv.get("greeting", { signal: AbortSignal.timeout(5000) });
} catch (e) {
  if (e instanceof TimeoutError)
    console.error("no agreed answer in time: is the cluster up? (npx phalanx status)");
  throw e;
} finally {
  await kv.close();
}
