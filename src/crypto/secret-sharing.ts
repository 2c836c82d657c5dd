/**
 * Split secrets (seed 002, "Split secrets"; Shamir, "How to share a secret", CACM 22(11), 1979):
 * k-of-n threshold sharing over GF(2^8) by the audited `shamir-secret-sharing` package, with share
 * integrity added, so that a holder who returns a corrupted or substituted share is caught and
 * left out instead of silently turning the reconstructed secret into garbage (Lagrange
 * interpolation accepts any points and always yields some "secret").
 *
 * Integrity: the dealer commits to every share with a salted SHA-256 digest
 * H("phalanx-share", secretId, index, share, salt) and signs the list of the n digests once.
 * Each holder gets its share, its salt and the signed list; whoever reconstructs checks the
 * dealer's signature on the list once, then each returned share against its digest.
 * - One signature however many holders, rather than n signatures: any share can be checked
 *   against the same list, and a holder checks its own share when it receives it.
 * - Salted: a share of a short secret is short (one byte of secret gives a two-byte share), so an
 *   unsalted digest list, which every holder sees, would let any of them try all 65,536 candidate
 *   shares of every other holder and rebuild the secret. The 32-byte salt, known only to the
 *   share's holder, keeps the digests from revealing anything.
 * - Out of scope: a Byzantine dealer that deals inconsistent shares (verifiable secret sharing,
 *   Feldman 1987, handles that); here the dealer is trusted and the holders are not.
 *
 * The randomness of the polynomials (the package's, from node:crypto) and of the salts is not
 * seeded: shares of a secret must be unpredictable, even to someone who knows a run's seed.
 * Splitting and combining are async (the package's API), so protocol cores receive the dealing
 * ready-made and leave `combineShares` to their driver.
 */
import { randomBytes } from "node:crypto";
import { combine, split } from "shamir-secret-sharing";
import { encode } from "../core/codec.ts";
import { PhalanxError } from "../core/errors.ts";
import { sha256 } from "./digest.ts";

export const secretSharingLimits = {
  /** Holders of one secret (the package's x coordinates are one byte, 1..255). */
  holdersMax: 255,
  /** Smallest threshold the package supports. */
  thresholdMin: 2,
  secretBytesMax: 64 * 1024,
  saltBytes: 32,
  digestBytes: 32,
  secretIdLengthMax: 256,
} as const;

/** One holder's share: the package's share bytes (y values, then the x coordinate) and its salt. */
export interface Share {
  /** Which holder it was dealt to, 1..n (the position of its digest). */
  index: number;
  bytes: Uint8Array;
  salt: Uint8Array;
}

/** The dealer's commitments to the n shares of one secret. */
export interface ShareCommitments {
  secretId: string;
  /** Threshold: shares needed to reconstruct. */
  k: number;
  /** digests[i - 1] commits to the share of index i. */
  digests: Uint8Array[];
}

export interface SignedCommitments extends ShareCommitments {
  /** Node id of the dealer that signed. */
  dealer: number;
  signature: Uint8Array;
}

export interface Dealing {
  commitments: ShareCommitments;
  shares: Share[];
}

export type ExclusionReason =
  | "malformed"
  | "unsigned-commitments"
  | "wrong-index"
  | "digest-mismatch"
  | "duplicate";

export const exclusionText: Readonly<Record<ExclusionReason, string>> = {
  malformed: "malformed share",
  "unsigned-commitments": "commitments not signed by the dealer",
  "wrong-index": "share of another holder's index",
  "digest-mismatch": "share does not match the dealer's commitment",
  duplicate: "second share for one index",
};

export type Reconstruction =
  | {
      ok: true;
      secret: Uint8Array;
      used: number[];
      excluded: Array<{ index: number; reason: ExclusionReason }>;
    }
  | {
      ok: false;
      code: "TOO_FEW_SHARES";
      message: string;
      excluded: Array<{ index: number; reason: ExclusionReason }>;
    };

function bad(message: string): PhalanxError {
  return new PhalanxError("BAD_ARGUMENT", message);
}

/** Splits `secret` k-of-n and commits to every share. */
export async function dealShares(
  secret: Uint8Array,
  n: number,
  k: number,
  secretId: string,
): Promise<Dealing> {
  if (
    !(secret instanceof Uint8Array) ||
    secret.byteLength < 1 ||
    secret.byteLength > secretSharingLimits.secretBytesMax
  )
    throw bad(`a secret is 1..${secretSharingLimits.secretBytesMax} bytes`);
  if (!Number.isInteger(n) || n < secretSharingLimits.thresholdMin || n > secretSharingLimits.holdersMax)
    throw bad(
      `holders must be an integer in ${secretSharingLimits.thresholdMin}..${secretSharingLimits.holdersMax}, got ${n}`,
    );
  if (!Number.isInteger(k) || k < secretSharingLimits.thresholdMin || k > n)
    throw bad(`threshold k must be an integer in ${secretSharingLimits.thresholdMin}..${n}, got ${k}`);
  if (secretId.length > secretSharingLimits.secretIdLengthMax) throw bad("secret id too long");
  const raw = await split(secret, n, k);
  const shares = raw.map((bytes, i) => ({
    index: i + 1,
    bytes,
    salt: new Uint8Array(randomBytes(secretSharingLimits.saltBytes)),
  }));
  return { commitments: { secretId, k, digests: shares.map((s) => shareDigest(secretId, s)) }, shares };
}

export function shareDigest(secretId: string, share: Share): Uint8Array {
  return sha256(encode(["phalanx-share", secretId, share.index, share.bytes, share.salt]));
}

/** The bytes the dealer signs. */
export function commitmentsBytes(c: ShareCommitments): Uint8Array {
  return encode(["phalanx-share-commitments", c.secretId, c.k, c.digests]);
}

export function signCommitments(
  c: ShareCommitments,
  dealer: number,
  sign: (data: Uint8Array) => Uint8Array,
): SignedCommitments {
  return { ...c, dealer, signature: sign(commitmentsBytes(c)) };
}

/** Well-formed and signed by `dealer` (with `verify` as ctx.verify). Never throws on bad input. */
export function commitmentsValid(
  c: unknown,
  dealer: number,
  verify: (signer: number, data: Uint8Array, signature: Uint8Array) => boolean,
): c is SignedCommitments {
  if (typeof c !== "object" || c === null) return false;
  const o = c as Record<string, unknown>;
  const shaped =
    typeof o.secretId === "string" &&
    o.secretId.length <= secretSharingLimits.secretIdLengthMax &&
    Number.isInteger(o.k) &&
    (o.k as number) >= secretSharingLimits.thresholdMin &&
    Array.isArray(o.digests) &&
    o.digests.length >= (o.k as number) &&
    o.digests.length <= secretSharingLimits.holdersMax &&
    o.digests.every((d) => d instanceof Uint8Array && d.byteLength === secretSharingLimits.digestBytes) &&
    o.dealer === dealer &&
    o.signature instanceof Uint8Array;
  return shaped && verify(dealer, commitmentsBytes(c as SignedCommitments), o.signature as Uint8Array);
}

/** Checks one share against (already verified) commitments. */
export function checkShare(
  c: ShareCommitments,
  share: unknown,
): { ok: true } | { ok: false; reason: ExclusionReason } {
  if (typeof share !== "object" || share === null) return { ok: false, reason: "malformed" };
  const s = share as Record<string, unknown>;
  const shaped =
    Number.isInteger(s.index) &&
    (s.index as number) >= 1 &&
    (s.index as number) <= c.digests.length &&
    s.bytes instanceof Uint8Array &&
    s.bytes.byteLength >= 2 &&
    s.bytes.byteLength <= secretSharingLimits.secretBytesMax + 1 &&
    s.salt instanceof Uint8Array &&
    s.salt.byteLength === secretSharingLimits.saltBytes;
  if (!shaped) return { ok: false, reason: "malformed" };
  const expected = c.digests[(s.index as number) - 1] as Uint8Array;
  const actual = shareDigest(c.secretId, share as Share);
  return equalBytes(expected, actual) ? { ok: true } : { ok: false, reason: "digest-mismatch" };
}

/**
 * Keeps the shares that match the commitments, one per index, and says why each other one was
 * left out. `candidates` may come straight from untrusted holders.
 */
export function selectShares(
  c: ShareCommitments,
  candidates: readonly unknown[],
): { valid: Share[]; excluded: Array<{ index: number; reason: ExclusionReason }> } {
  const valid = new Map<number, Share>();
  const excluded: Array<{ index: number; reason: ExclusionReason }> = [];
  for (const candidate of candidates) {
    const verdict = checkShare(c, candidate);
    const index = verdict.ok ? (candidate as Share).index : indexOf(candidate);
    if (!verdict.ok) excluded.push({ index, reason: verdict.reason });
    else if (valid.has(index)) excluded.push({ index, reason: "duplicate" });
    else valid.set(index, candidate as Share);
  }
  return { valid: [...valid.values()].sort((a, b) => a.index - b.index), excluded };
}

function indexOf(candidate: unknown): number {
  const i = (candidate as { index?: unknown } | null)?.index;
  return Number.isInteger(i) ? (i as number) : -1;
}

/**
 * Combines the first k of `valid` (shares already checked by `selectShares` or `checkShare`).
 * Fewer than k: a clean refusal, never a guess.
 */
export async function combineShares(k: number, valid: readonly Share[]): Promise<Reconstruction> {
  return reconstructFrom(k, valid, []);
}

/** `selectShares`, then `combineShares`. */
export async function reconstruct(
  c: ShareCommitments,
  candidates: readonly unknown[],
): Promise<Reconstruction> {
  const { valid, excluded } = selectShares(c, candidates);
  return reconstructFrom(c.k, valid, excluded);
}

async function reconstructFrom(
  k: number,
  valid: readonly Share[],
  excluded: Array<{ index: number; reason: ExclusionReason }>,
): Promise<Reconstruction> {
  if (valid.length < k) {
    return {
      ok: false,
      code: "TOO_FEW_SHARES",
      message: `${valid.length} valid share(s), ${k} needed: the secret cannot be reconstructed`,
      excluded,
    };
  }
  const chosen = valid.slice(0, k);
  const secret = await combine(chosen.map((s) => s.bytes));
  return { ok: true, secret, used: chosen.map((s) => s.index), excluded };
}
function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  let d = 0;
  for (let i = 0; i < a.byteLength; i++) d |= (a[i] as number) ^ (b[i] as number);
  return d === 0;
}
