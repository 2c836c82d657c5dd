/**
 * The `phalanx` command line. Each command lives in its own module; this file wires them and
 * turns operating errors into a clear message and exit code 2.
 */
import { Command, CommanderError, InvalidArgumentError } from "commander";
import { isPhalanxError } from "../core/errors.ts";
import { registerBench } from "./bench.ts";
import { registerCluster } from "./cluster.ts";
import { registerSim } from "./sim.ts";
import { registerUi } from "./ui.ts";

export function buildProgram(): Command {
  const program = new Command();
  program
    .name("phalanx")
    .description(
      "Phalanx: a Byzantine-fault-tolerant replicated store and a toolkit of distributed algorithms,\n" +
        "each runnable in a deterministic simulator.",
    )
    .version("0.1.0")
    .showHelpAfterError("(run with --help for usage)")
    .enablePositionalOptions()
    .exitOverride();
  registerSim(program);
  registerCluster(program);
  registerBench(program);
  registerUi(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version exit 0; usage errors exit 2 (commander already printed the message).
      return e.exitCode === 0 ? 0 : 2;
    }
    if (isPhalanxError(e)) {
      console.error(`phalanx: ${e.message} [${e.code}]`);
      return 2;
    }
    if (e instanceof InvalidArgumentError) {
      console.error(`phalanx: ${e.message}`);
      return 2;
    }
    throw e;
  }
}

// `phalanx ... | head`: a reader that stops early is not an error.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw e;
});

process.exitCode = await main(process.argv);
