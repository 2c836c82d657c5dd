/**
 * The protocols the simulator can run by name (`phalanx sim --protocol NAME`). This is the one
 * place that wires protocol modules to the simulator's runner.
 */
import { PhalanxError } from "./core/errors.ts";
import { gossipSpec } from "./scenarios/gossip.ts";
import { pbftSpec } from "./scenarios/pbft.ts";
import type { ProtocolSpec } from "./sim/protocol.ts";

// biome-ignore lint/suspicious/noExplicitAny: specs of different message types share one registry
type AnySpec = ProtocolSpec<any, any>;

export const protocols: ReadonlyMap<string, AnySpec> = new Map<string, AnySpec>([
  ["gossip", gossipSpec],
  ["pbft", pbftSpec],
]);

export function protocolSpec(name: string): AnySpec {
  const spec = protocols.get(name);
  if (spec === undefined) {
    throw new PhalanxError(
      "UNKNOWN_PROTOCOL",
      `unknown protocol "${name}"; choose one of: ${[...protocols.keys()].join(", ")}`,
    );
  }
  return spec;
}
