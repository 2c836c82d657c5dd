/**
 * Split secrets (seed 002, "Split secrets"; Shamir, "How to share a secret", 1979) as
 * `phalanx sim shamir`: a dealer spreads a secret over n holders so that any k of them can
 * rebuild it while fewer learn nothing, and up to `traitors` holders hand back bad shares.
 *
 * Nodes: the dealer is node 0, holders are 1..n (holder i gets the share of index i), the
 * reconstructing node is n+1. The dealing is prepared before the run (crypto/secret-sharing.ts:
 * splitting is async and must use unseeded randomness); the dealer's core signs the commitments
 * with its own key, sends every holder its share, and keeps nothing. Later the reconstructing
 * node asks every holder, checks each answer (dealer's signature on the commitments, index of
 * the sender, digest of the share) and, once all have answered or `collectMs` has passed,
 * outputs the valid shares; the driver combines k of them (the package's combine is async).
 *
 * Oracle: with at least k honest holders the secret comes back exactly, every traitor's share is
 * excluded and no honest one is; with fewer, reconstruction is refused with TOO_FEW_SHARES and no
 * secret is produced. Traitor strategies: corrupt (flips a bit of its share), substitute
 * (presents its share as another holder's), forge (makes up a share and commitments to match,
 * signed with its own key), silent.
 *
 * A trace of this run leaves message bodies out: they hold the shares, and so the secret.
 */
import { assertNever } from "../core/assert.ts";
import { PhalanxError } from "../core/errors.ts";
import { type NodeId, nodeId, nodeIds } from "../core/ids.ts";
import { Prng } from "../core/prng.ts";
import type { Context, Process } from "../core/process.ts";
import {
  checkShare,
  combineShares,
  commitmentsBytes,
  commitmentsValid,
  type Dealing,
  dealShares,
  type ExclusionReason,
  exclusionText,
  type Share,
  type SignedCommitments,
  secretSharingLimits,
  shareDigest,
  signCommitments,
} from "../crypto/secret-sharing.ts";
import type { Adversary } from "../sim/adversary/types.ts";
import { Simulation } from "../sim/simulation.ts";
import { traceToJsonl } from "../sim/trace.ts";
import type { Algorithm, AlgorithmOptions, AlgorithmResult } from "./types.ts";

export const shamirLimits = {
  /** Bytes of the secret a run shares. */
  secretBytes: 16,
  /** When the reconstructing node asks for the shares (after the dealing has arrived). */
  requestAtMs: 50,
  /** How long it waits for every holder before it uses what it has. */
  collectMs: 50,
} as const;

const DEALER = nodeId(0);

export type ShamirMsg =
  | { type: "deal"; share: Share; commitments: SignedCommitments }
  | { type: "request"; secretId: string }
  | { type: "share"; share: Share; commitments: SignedCommitments };

export type ShamirTimer = { kind: "request" } | { kind: "collected" };

export interface Collected {
  kind: "collected";
  valid: Share[];
  excluded: Array<{ holder: number; reason: ExclusionReason }>;
  missing: number[];
}

type Ctx = Context<ShamirMsg, ShamirTimer>;

class Dealer implements Process<ShamirMsg, ShamirTimer> {
  constructor(private dealing: Dealing | null) {}

  start(ctx: Ctx): void {
    if (this.dealing === null) return;
    const commitments = signCommitments(this.dealing.commitments, ctx.self, (d) => ctx.sign(d));
    for (const share of this.dealing.shares)
      ctx.send(share.index as NodeId, { type: "deal", share, commitments });
    this.dealing = null;
  }

  receive(ctx: Ctx): void {
    ctx.count("shamir.unexpected");
  }

  timeout(): void {}
}

class Holder implements Process<ShamirMsg, ShamirTimer> {
  private held: { share: Share; commitments: SignedCommitments } | null = null;

  constructor(private readonly reconstructor: NodeId) {}

  start(): void {}

  receive(ctx: Ctx, from: NodeId, msg: ShamirMsg): void {
    if (from === DEALER && msg.type === "deal") {
      const fits =
        commitmentsValid(msg.commitments, DEALER, (s, d, sig) => ctx.verify(s as NodeId, d, sig)) &&
        checkShare(msg.commitments, msg.share).ok &&
        msg.share.index === ctx.self;
      if (fits) this.held = { share: msg.share, commitments: msg.commitments };
      else ctx.count("shamir.bad-deal");
      return;
    }
    if (from === this.reconstructor && msg.type === "request" && this.held !== null) {
      ctx.send(from, { type: "share", ...this.held });
      return;
    }
    ctx.count("shamir.unexpected");
  }

  timeout(): void {}
}

class Reconstructor implements Process<ShamirMsg, ShamirTimer> {
  private readonly answers = new Map<number, { share: Share } | { reason: ExclusionReason }>();
  /** The encoded commitments whose dealer signature has been checked. */
  private trusted: { bytes: Uint8Array; commitments: SignedCommitments } | null = null;
  private done = false;

  constructor(
    private readonly holders: readonly NodeId[],
    private readonly secretId: string,
  ) {}

  start(ctx: Ctx): void {
    ctx.setTimer(shamirLimits.requestAtMs, { kind: "request" });
  }

  receive(ctx: Ctx, from: NodeId, msg: ShamirMsg): void {
    const unwanted = typeof msg !== "object" || msg === null || msg.type !== "share";
    if (unwanted || this.done || !this.holders.includes(from) || this.answers.has(from)) {
      ctx.count("shamir.unexpected");
      return;
    }
    this.answers.set(from, this.judge(ctx, from, msg));
    if (this.answers.size === this.holders.length) this.finish(ctx);
  }

  timeout(ctx: Ctx, tag: ShamirTimer): void {
    switch (tag.kind) {
      case "request":
        for (const h of this.holders) ctx.send(h, { type: "request", secretId: this.secretId });
        ctx.setTimer(shamirLimits.collectMs, { kind: "collected" });
        return;
      case "collected":
        if (!this.done) this.finish(ctx);
        return;
      default:
        assertNever(tag, "shamir timer");
    }
  }

  private judge(
    ctx: Ctx,
    from: NodeId,
    msg: Extract<ShamirMsg, { type: "share" }>,
  ): { share: Share } | { reason: ExclusionReason } {
    const commitments = this.commitmentsOf(ctx, msg.commitments);
    if (commitments === null) return { reason: "unsigned-commitments" };
    const verdict = checkShare(commitments, msg.share);
    if (!verdict.ok && verdict.reason === "malformed") return { reason: "malformed" };
    if (msg.share.index !== from) return { reason: "wrong-index" };
    return verdict.ok ? { share: msg.share } : { reason: verdict.reason };
  }

  /** The dealer's signed commitments for this secret, verified once, or null. */
  private commitmentsOf(ctx: Ctx, c: unknown): SignedCommitments | null {
    if (this.trusted !== null) {
      const o = c as Partial<SignedCommitments> | null;
      const same =
        typeof o === "object" &&
        o !== null &&
        o.signature instanceof Uint8Array &&
        equal(o.signature, this.trusted.commitments.signature) &&
        equal(commitmentsBytes(o as SignedCommitments), this.trusted.bytes);
      return same ? this.trusted.commitments : null;
    }
    const verify = (s: number, d: Uint8Array, sig: Uint8Array) => ctx.verify(s as NodeId, d, sig);
    if (!commitmentsValid(c, DEALER, verify) || c.secretId !== this.secretId) return null;
    this.trusted = { bytes: commitmentsBytes(c), commitments: c };
    return c;
  }

  private finish(ctx: Ctx): void {
    this.done = true;
    const valid: Share[] = [];
    const excluded: Collected["excluded"] = [];
    const missing: number[] = [];
    for (const h of this.holders) {
      const a = this.answers.get(h);
      if (a === undefined) missing.push(h);
      else if ("share" in a) valid.push(a.share);
      else excluded.push({ holder: h, reason: a.reason });
    }
    ctx.output({ kind: "collected", valid, excluded, missing } satisfies Collected);
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((x, i) => x === b[i]);
}

export const shamirStrategies = ["corrupt", "substitute", "forge", "silent"] as const;
type Strategy = (typeof shamirStrategies)[number];

/** A traitor holder: rewrites the share it hands back. */
function traitor(strategy: Strategy, n: number): Adversary<ShamirMsg> {
  return {
    name: `shamir-${strategy}`,
    onSend(api, to, msg) {
      if (msg.type !== "share") {
        api.send(to, msg);
        return;
      }
      const { share } = msg;
      switch (strategy) {
        case "corrupt": {
          const bytes = share.bytes.slice();
          bytes[0] = (bytes[0] as number) ^ 1;
          api.send(to, { ...msg, share: { ...share, bytes } });
          return;
        }
        case "substitute":
          api.send(to, { ...msg, share: { ...share, index: (share.index % n) + 1 } });
          return;
        case "forge": {
          // A made-up share with commitments that match it, which only this traitor can sign.
          const bytes = share.bytes.map((_, i) => (i * 37 + api.self) & 0xff);
          const forgedShare = { ...share, bytes };
          const digests = msg.commitments.digests.slice();
          digests[share.index - 1] = shareDigest(msg.commitments.secretId, forgedShare);
          const body = { secretId: msg.commitments.secretId, k: msg.commitments.k, digests };
          const commitments = { ...body, dealer: DEALER, signature: api.sign(commitmentsBytes(body)) };
          api.send(to, { type: "share", share: forgedShare, commitments });
          return;
        }
        case "silent":
          return;
        default:
          assertNever(strategy, "strategy");
      }
    },
  };
}

function bad(message: string): PhalanxError {
  return new PhalanxError("BAD_ARGUMENT", message);
}

const settings = { k: "shares needed to reconstruct (default 3)" } as const;

function configOf(options: AlgorithmOptions): { n: number; k: number; t: number; strategy: Strategy } {
  const n = options.nodes ?? algorithm.defaults.nodes;
  const t = options.traitors ?? algorithm.defaults.traitors;
  const max = secretSharingLimits.holdersMax;
  if (!Number.isInteger(n) || n < 2 || n > max)
    throw bad(`--nodes (holders) must be an integer in 2..${max}, got ${n}`);
  if (!Number.isInteger(t) || t < 0 || t > n) throw bad(`--traitors must be an integer in 0..${n}, got ${t}`);
  for (const key of Object.keys(options.settings))
    if (!(key in settings)) throw bad(`unknown setting ${key}; shamir accepts k`);
  const rawK = options.settings.k ?? "3";
  const k = Number(rawK);
  if (!Number.isInteger(k) || k < 2 || k > n) throw bad(`--set k=${rawK}: k must be an integer in 2..${n}`);
  const strategy = options.strategy ?? "corrupt";
  if (!(shamirStrategies as readonly string[]).includes(strategy))
    throw bad(`unknown strategy ${strategy}; shamir accepts ${shamirStrategies.join(", ")}`);
  return { n, k, t, strategy: strategy as Strategy };
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const list = (xs: readonly number[]) => (xs.length === 0 ? "none" : xs.join(", "));

async function run(options: AlgorithmOptions): Promise<AlgorithmResult> {
  const { n, k, t, strategy } = configOf(options);
  const prng = new Prng(options.seed);
  const secret = new Uint8Array(shamirLimits.secretBytes).map(() => prng.int(256));
  const secretId = `secret-${options.seed}`;
  const holders = nodeIds(n, 1);
  const reconstructor = nodeId(n + 1);
  const dealing = await dealShares(secret, n, k, secretId);
  const sim = new Simulation<ShamirMsg, ShamirTimer>({
    seed: options.seed,
    nodes: nodeIds(n + 2),
    factory: (id) =>
      id === DEALER
        ? new Dealer(dealing)
        : id === reconstructor
          ? new Reconstructor(holders, secretId)
          : new Holder(reconstructor),
    trace: options.trace !== undefined,
    traceData: false,
  });
  const traitors = prng
    .fork("traitors")
    .shuffle([...holders])
    .slice(0, t)
    .sort((a, b) => a - b);
  for (const h of traitors) sim.setAdversary(h, traitor(strategy, n));
  sim.runUntilQuiescent();

  const collected = sim.outputs.find((o) => (o.record as Collected).kind === "collected")?.record as
    | Collected
    | undefined;
  const valid = collected?.valid ?? [];
  const result = await combineShares(k, valid);

  const honest = n - t;
  const isTraitor = new Set<number>(traitors);
  const excludedHolders = (collected?.excluded ?? []).map((e) => e.holder);
  const honestExcluded = excludedHolders.filter((h) => !isTraitor.has(h));
  const traitorsAccepted = valid.filter((s) => isTraitor.has(s.index)).map((s) => s.index);
  const correct = result.ok && equal(result.secret, secret);
  const expectSecret = honest >= k;
  const ok =
    collected !== undefined &&
    honestExcluded.length === 0 &&
    traitorsAccepted.length === 0 &&
    (expectSecret ? correct : !result.ok);

  const who =
    t === 0
      ? "no traitor"
      : `${t} ${strategy} traitor${t === 1 ? "" : "s"} (holder${t === 1 ? "" : "s"} ${list(traitors)})`;
  const outcome = result.ok
    ? `secret reconstructed from holders ${list(result.used)}${correct ? "" : " -- WRONG SECRET"}`
    : `only ${valid.length} valid share${valid.length === 1 ? "" : "s"} < k = ${k}: reconstruction refused, no secret produced`;
  const excludedText = (collected?.excluded ?? []).map(
    (e) => `holder ${e.holder}: ${exclusionText[e.reason]}`,
  );
  const lines = [
    `shamir: ${k}-of-${n} split secret, ${who}: ${outcome}`,
    `dealer: ${shamirLimits.secretBytes}-byte secret, ${n} shares, 1 signature over ${n} salted share digests`,
    `shares returned: ${valid.length} valid; excluded: ${excludedText.length === 0 ? "none" : excludedText.join("; ")}; missing: ${list(collected?.missing ?? [])}`,
    result.ok
      ? `secret ${hex(secret)}, reconstructed ${hex(result.secret)}: ${correct ? "equal" : "DIFFERENT"}`
      : `secret ${hex(secret)}: not reconstructed (${result.code})`,
    `messages: ${sim.stats.sent} (${n} deals, ${n} requests, ${sim.stats.sent - 2 * n} shares returned)`,
  ];
  let traceJsonl: string | undefined;
  if (options.trace !== undefined) {
    const header = sim.traceHeader("shamir", { k, strategy, traitors });
    traceJsonl = traceToJsonl(header, sim.trace ?? []);
    lines.push(
      `trace: ${sim.trace?.length ?? 0} events (message bodies left out) written to ${options.trace}`,
    );
  }
  return {
    ok,
    lines,
    traceJsonl,
    figures: {
      holders: n,
      k,
      traitors: t,
      strategy,
      validShares: valid.length,
      excluded: excludedHolders.length,
      missing: collected?.missing.length ?? n,
      reconstructed: result.ok,
      correct,
      messages: sim.stats.sent,
    },
  };
}

export const algorithm: Algorithm = {
  name: "shamir",
  summary: "split secrets: k-of-n Shamir sharing with signed share commitments that expose bad shares",
  source: "seed 002, Split secrets; Shamir, How to share a secret (1979)",
  defaults: { nodes: 5, traitors: 1 },
  strategies: shamirStrategies,
  settings,
  run,
};
