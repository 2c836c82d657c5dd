import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { combine, split } from "shamir-secret-sharing";
import { algorithm } from "../../src/algorithms/shamir.ts";
import type { AlgorithmOptions, AlgorithmResult } from "../../src/algorithms/types.ts";
import { isPhalanxError } from "../../src/core/errors.ts";
import { Prng } from "../../src/core/prng.ts";
import {
  commitmentsValid,
  dealShares,
  reconstruct,
  type Share,
  selectShares,
  signCommitments,
} from "../../src/crypto/secret-sharing.ts";
import { keyPairFromPrng, sign, verify } from "../../src/crypto/sign.ts";

const equal = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

function subsets<T>(items: readonly T[], k: number): T[][] {
  if (k === 0) return [[]];
  if (items.length < k) return [];
  const [head, ...rest] = items as [T, ...T[]];
  return [...subsets(rest, k - 1).map((s) => [head, ...s]), ...subsets(rest, k)];
}

function randomSecret(prng: Prng, bytes: number): Uint8Array {
  return new Uint8Array(bytes).map(() => prng.int(256));
}

// GF(2^8) with the AES polynomial x^8 + x^4 + x^3 + x + 1, the field the package uses. Written
// here independently of the package, so that its `combine` can judge points we construct.
function gfMul(a: number, b: number): number {
  let p = 0;
  let x = a;
  for (let y = b; y > 0; y >>= 1) {
    if (y & 1) p ^= x;
    x <<= 1;
    if (x & 0x100) x ^= 0x11b;
  }
  return p;
}

const gfInverse = (() => {
  const inv = new Uint8Array(256);
  for (let a = 1; a < 256; a++) for (let b = 1; b < 256; b++) if (gfMul(a, b) === 1) inv[a] = b;
  return inv;
})();

/** Value at x of the polynomial of degree < points.length through `points` (Lagrange). */
function interpolate(points: ReadonlyArray<readonly [number, number]>, x: number): number {
  let sum = 0;
  for (const [xi, yi] of points) {
    let basis = 1;
    for (const [xj] of points) {
      if (xj === xi) continue;
      basis = gfMul(basis, gfMul(x ^ xj, gfInverse[xi ^ xj] as number));
    }
    sum ^= gfMul(yi, basis);
  }
  return sum;
}

async function runShamir(options: Partial<AlgorithmOptions> & { seed: number }): Promise<AlgorithmResult> {
  return algorithm.run({ settings: {}, ...options });
}

describe("secret sharing with share integrity", () => {
  it("any k valid shares reconstruct the secret, and fewer are refused (every subset, n = 2..6, every k)", async () => {
    const prng = new Prng(1);
    let checked = 0;
    for (let n = 2; n <= 6; n++) {
      for (let k = 2; k <= n; k++) {
        const secret = randomSecret(prng, 1 + prng.int(32));
        const { commitments, shares } = await dealShares(secret, n, k, "s");
        for (let size = 1; size <= n; size++) {
          for (const subset of subsets(shares, size)) {
            const r = await reconstruct(commitments, subset);
            if (size >= k) {
              assert.ok(
                r.ok && equal(r.secret, secret),
                `n=${n} k=${k} shares ${subset.map((s) => s.index)}`,
              );
              assert.deepEqual(
                r.used,
                subset.slice(0, k).map((s) => s.index),
              );
            } else {
              assert.ok(
                !r.ok && r.code === "TOO_FEW_SHARES",
                `n=${n} k=${k}: ${size} shares must be refused`,
              );
            }
            checked++;
          }
        }
      }
    }
    assert.equal(checked, 3 + 2 * 7 + 3 * 15 + 4 * 31 + 5 * 63);
  });

  it("without the integrity check one flipped bit silently yields a wrong secret; with it the share is excluded", async () => {
    const secret = new TextEncoder().encode("launch code 0000");
    const { commitments, shares } = await dealShares(secret, 5, 3, "s");
    const bad = { ...(shares[0] as Share), bytes: (shares[0] as Share).bytes.slice() };
    bad.bytes[0] = (bad.bytes[0] as number) ^ 1;
    const raw = await combine([bad.bytes, (shares[1] as Share).bytes, (shares[2] as Share).bytes]);
    assert.ok(!equal(raw, secret), "the package combines garbage without complaint");
    const r = await reconstruct(commitments, [bad, ...shares.slice(1)]);
    assert.ok(r.ok && equal(r.secret, secret));
    assert.deepEqual(r.excluded, [{ index: 1, reason: "digest-mismatch" }]);
  });

  it("property: corrupted, substituted or replayed shares never produce a wrong secret", async () => {
    const corruption = fc.constantFrom(
      "flip-y",
      "flip-x",
      "flip-salt",
      "other-index",
      "truncate",
      "garbage",
      "replay-other",
      "not-a-share",
    );
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 8 }),
        fc.integer({ min: 2, max: 8 }),
        fc.uint8Array({ minLength: 1, maxLength: 24 }),
        fc.array(fc.tuple(fc.nat(7), corruption), { maxLength: 8 }),
        async (n0, k0, secret, attacks) => {
          const n = Math.max(n0, k0);
          const k = Math.min(n0, k0);
          const { commitments, shares } = await dealShares(secret, n, k, "p");
          const candidates: unknown[] = [...shares];
          const corrupted = new Set<number>();
          for (const [who, how] of attacks) {
            const i = who % n;
            const s = shares[i] as Share;
            const other = shares[(i + 1) % n] as Share;
            const bytes = s.bytes.slice();
            corrupted.add(i + 1);
            switch (how) {
              case "flip-y":
                bytes[0] = (bytes[0] as number) ^ 0x80;
                candidates[i] = { ...s, bytes };
                break;
              case "flip-x":
                bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 1;
                candidates[i] = { ...s, bytes };
                break;
              case "flip-salt": {
                const salt = s.salt.slice();
                salt[3] = (salt[3] as number) ^ 4;
                candidates[i] = { ...s, salt };
                break;
              }
              case "other-index":
                candidates[i] = { ...s, index: other.index };
                break;
              case "truncate":
                candidates[i] = { ...s, bytes: bytes.subarray(0, bytes.length - 1) };
                break;
              case "garbage":
                candidates[i] = { ...s, bytes: bytes.map((b) => b ^ 0x5a) };
                break;
              case "replay-other":
                // A valid share, but another holder's: it adds nothing, and must not count twice.
                candidates[i] = other;
                break;
              case "not-a-share":
                candidates[i] = "share?";
                break;
            }
          }
          const { valid } = selectShares(commitments, candidates);
          const distinct = new Set(valid.map((s) => s.index));
          assert.equal(distinct.size, valid.length, "one share per index");
          assert.ok(
            valid.every((s) => equal(s.bytes, (shares[s.index - 1] as Share).bytes)),
            "only dealt shares pass",
          );
          for (let i = 1; i <= n; i++)
            if (!corrupted.has(i)) assert.ok(distinct.has(i), `honest share ${i} kept`);
          const r = await reconstruct(commitments, candidates);
          if (distinct.size >= k)
            assert.ok(r.ok && equal(r.secret, secret), "enough valid shares: the secret");
          else assert.ok(!r.ok && r.code === "TOO_FEW_SHARES", "too few: refused, not guessed");
        },
      ),
      { numRuns: 300 },
    );
  });

  it("only the dealer's signature makes commitments valid", async () => {
    const prng = new Prng(3);
    const dealer = keyPairFromPrng(prng.fork("dealer"));
    const mallory = keyPairFromPrng(prng.fork("mallory"));
    const { commitments } = await dealShares(new Uint8Array([1, 2, 3]), 4, 2, "s");
    const check = (signer: number, data: Uint8Array, sig: Uint8Array) =>
      signer === 0 && verify(dealer.publicKey, data, sig);
    const signed = signCommitments(commitments, 0, (d) => sign(dealer.privateKey, d));
    assert.ok(commitmentsValid(signed, 0, check));
    const forged = signCommitments(commitments, 0, (d) => sign(mallory.privateKey, d));
    assert.ok(!commitmentsValid(forged, 0, check), "signed by someone else");
    const digests = signed.digests.slice();
    digests[1] = new Uint8Array(32);
    assert.ok(!commitmentsValid({ ...signed, digests }, 0, check), "a digest replaced after signing");
    assert.ok(!commitmentsValid({ ...signed, k: 3 }, 0, check), "threshold changed after signing");
    assert.ok(!commitmentsValid({ ...signed, dealer: 1 }, 0, check), "another dealer named");
    assert.ok(!commitmentsValid({ ...signed, digests: [new Uint8Array(3)] }, 0, check), "malformed");
    assert.ok(!commitmentsValid(null, 0, check));
  });
});

describe("k-1 shares say nothing about the secret", () => {
  // For a one-byte secret s and the package's shares (y, x) of a polynomial p of degree k-1 with
  // p(0) = s: given k-1 real shares and any candidate c, the k points {(0, c)} ∪ shares fix exactly
  // one polynomial of degree <= k-1, so exactly one k-th share (at any fresh x) completes the k-1
  // into a set that the package itself reconstructs to c. Every one of the 256 candidates is
  // consistent with the k-1 shares through exactly one polynomial; the package draws the k-1
  // higher coefficients uniformly, so each polynomial, hence each candidate, is equally likely.
  for (const k of [2, 3, 4]) {
    it(`k = ${k}: each of the 256 secrets has exactly one completion of k-1 real shares, judged by the package's combine`, async () => {
      const prng = new Prng(k);
      for (let trial = 0; trial < 8; trial++) {
        const secret = prng.int(256);
        const shares = await split(new Uint8Array([secret]), k + 1, k);
        const known = shares.slice(0, k - 1).map((s) => [s[1] as number, s[0] as number] as const);
        const taken = new Set(shares.map((s) => s[1] as number));
        let fresh = 1;
        while (taken.has(fresh)) fresh++;
        const completions = new Set<number>();
        for (let c = 0; c < 256; c++) {
          const y = interpolate([[0, c], ...known], fresh);
          completions.add(y);
          const rebuilt = await combine([...shares.slice(0, k - 1), new Uint8Array([y, fresh])]);
          assert.equal(rebuilt[0], c, `candidate ${c} is not reached`);
        }
        assert.equal(completions.size, 256, "distinct candidates need distinct completions (a bijection)");
        // With k real shares the secret is pinned down: only the true value fits the k-th share.
        const kth = shares[k - 1] as Uint8Array;
        const fits = [];
        for (let c = 0; c < 256; c++)
          if (interpolate([[0, c], ...known], kth[1] as number) === kth[0]) fits.push(c);
        assert.deepEqual(fits, [secret]);
      }
    });
  }

  it("one share's value is uniform whatever the secret (chi-square over 25,600 splits each of 0x00 and 0xff)", async () => {
    const draws = 25_600;
    // Chi-square with 255 degrees of freedom: mean 255, sd 22.6; 480 is about 10 sd out (p < 1e-12).
    const chiSquareMax = 480;
    const chiSquare = (counts: number[]) =>
      counts.reduce((s, c) => s + (c - draws / 256) ** 2 / (draws / 256), 0);
    for (const secret of [0x00, 0xff]) {
      const counts = new Array<number>(256).fill(0);
      for (let i = 0; i < draws; i++) {
        const [first] = await split(new Uint8Array([secret]), 2, 2);
        const y = (first as Uint8Array)[0] as number;
        counts[y] = (counts[y] as number) + 1;
      }
      assert.ok(
        chiSquare(counts) < chiSquareMax,
        `secret ${secret}: chi-square ${chiSquare(counts).toFixed(0)}`,
      );
    }
    // The test has teeth: shares that reveal the secret one time in ten fail it by far.
    const leaky = new Array<number>(256).fill((draws * 0.9) / 256);
    leaky[0x42] = (leaky[0x42] as number) + draws * 0.1;
    assert.ok(chiSquare(leaky) > 100 * chiSquareMax);
  });
});

describe("shamir on the simulator", () => {
  it("reconstructs exactly when at least k holders are honest, and refuses cleanly otherwise (every strategy, every traitor count)", async () => {
    for (const [n, k] of [
      [5, 3],
      [7, 4],
    ] as const) {
      for (const strategy of algorithm.strategies) {
        for (let t = 0; t <= n; t++) {
          for (const seed of [1, 2]) {
            const r = await runShamir({ seed, nodes: n, traitors: t, strategy, settings: { k: String(k) } });
            const where = `n=${n} k=${k} ${strategy} t=${t} seed ${seed}:\n${r.lines.join("\n")}`;
            assert.ok(r.ok, where);
            assert.equal(r.figures.reconstructed, n - t >= k, where);
            assert.equal(r.figures.correct, n - t >= k, where);
            assert.equal(r.figures.validShares, n - t, where);
            assert.equal(r.figures.excluded, strategy === "silent" ? 0 : t, where);
            assert.equal(r.figures.missing, strategy === "silent" ? t : 0, where);
          }
        }
      }
    }
  });

  it("reports the outcome and the messages, deterministically, with share bytes kept out of the trace", async () => {
    const dir = mkdtempSync(join(tmpdir(), "phalanx-shamir-"));
    try {
      const a = await runShamir({ seed: 9, nodes: 5, traitors: 1, trace: join(dir, "a.jsonl") });
      const b = await runShamir({ seed: 9, nodes: 5, traitors: 1, trace: join(dir, "b.jsonl") });
      assert.deepEqual(a.figures, b.figures);
      assert.deepEqual(a.lines.slice(0, -1), b.lines.slice(0, -1));
      const trace = a.traceJsonl ?? "";
      assert.ok(trace.length > 0);
      assert.equal(trace, b.traceJsonl, "the same seed gives the same trace");
      assert.ok(!trace.includes('"data"'), "no message body (share) in the trace");
      assert.match(
        a.lines[0] ?? "",
        /^shamir: 3-of-5 split secret, 1 corrupt traitor \(holder \d\): secret reconstructed/,
      );
      assert.ok(a.lines.includes("messages: 15 (5 deals, 5 requests, 5 shares returned)"));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("rejects options it cannot run with BAD_ARGUMENT", async () => {
    const bad: Array<Partial<AlgorithmOptions>> = [
      { settings: { k: "1" } },
      { settings: { k: "6" } },
      { settings: { k: "two" } },
      { settings: { t: "2" } },
      { nodes: 1 },
      { nodes: 256 },
      { traitors: 6 },
      { strategy: "bribe" },
    ];
    for (const o of bad) {
      await assert.rejects(
        async () => runShamir({ seed: 1, ...o }),
        (e: unknown) => isPhalanxError(e, "BAD_ARGUMENT"),
        JSON.stringify(o),
      );
    }
  });
});
