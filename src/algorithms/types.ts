/**
 * The classic algorithms (seeds 000, 002, 003) as runnable experiments: each is a pure Process
 * (or several) run on the simulator, with its own oracle, reachable as `phalanx sim NAME`.
 * Each module under src/algorithms/ exports one `Algorithm`; src/algorithms/registry.ts lists
 * them and src/cli/sim.ts routes `phalanx sim NAME` to them.
 *
 * An algorithm run is one experiment with a verdict: `lines` are what the command prints (the
 * first line a one-line summary; a report line containing the word "messages" where message
 * counts matter), `ok` is whether its oracle held (the command exits 1 otherwise), `figures`
 * go into the `--json` line.
 */

export interface AlgorithmOptions {
  /** Number of processes (`--nodes`); undefined: the algorithm's default. */
  nodes?: number;
  /** Faulty or Byzantine processes (`--traitors`); undefined: the algorithm's default. */
  traitors?: number;
  /** Seed of the run (`--seed`, default 1): the same options and seed give the same result. */
  seed: number;
  /** Algorithm-specific strategy (`--strategy`), e.g. a traitor behaviour. */
  strategy?: string;
  /**
   * Where `--trace` will write the causal trace (for the report's wording): when set, the
   * algorithm records one run's trace and returns it as `traceJsonl`; the CLI writes the file.
   */
  trace?: string;
  /** Extra algorithm-specific settings (`--set key=value`, repeatable). */
  settings: Readonly<Record<string, string>>;
}

export interface AlgorithmResult {
  /** Did the oracle hold (or, for impossibility demonstrations, was the counterexample found)? */
  ok: boolean;
  /** Human-readable report, first line a summary. */
  lines: string[];
  /** Figures for `--json` (message counts, rounds, errors...). */
  figures: Record<string, number | string | boolean | null>;
  /** The recorded trace as JSON lines, when `options.trace` asked for one. */
  traceJsonl?: string;
}

export interface Algorithm {
  /** The NAME in `phalanx sim NAME`. */
  name: string;
  /** One line for `phalanx sim --help`. */
  summary: string;
  /** Seed and section it comes from, e.g. "seed 000, Oral BFT Solution". */
  source: string;
  defaults: { nodes: number; traitors: number };
  /** Strategies `--strategy` accepts (empty if none). */
  strategies: readonly string[];
  /** Settings `--set` accepts, with a one-line meaning each. */
  settings: Readonly<Record<string, string>>;
  /** Throws PhalanxError("BAD_ARGUMENT") for options it cannot run (for example n <= 3m where it needs n > 3m). */
  run(options: AlgorithmOptions): AlgorithmResult | Promise<AlgorithmResult>;
}
