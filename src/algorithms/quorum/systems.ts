/**
 * Quorum systems (seed 002, "Byzantine Quorums"; Malkhi & Reiter, "Byzantine quorum systems",
 * Distributed Computing 11(4), 1998; load as defined by Naor & Wool, "The load, capacity and
 * availability of quorum systems", SIAM J. Computing 27(2), 1998).
 *
 * A quorum system over servers 0..n-1 is a family of subsets any two of which intersect. To mask
 * f Byzantine servers the intersections must hold at least 2f+1 servers: then the servers two
 * quorums share outnumber the liars among them by at least f+1 correct ones (M-consistency), and
 * some quorum must avoid every set of f servers, or f silent servers could block every access
 * (M-availability).
 *
 * - threshold masking: every set of ceil((n+2f+1)/2) servers; two such share at least 2f+1,
 *   and n-f servers still hold one when n >= 4f+1.
 * - grid: servers in a side x side array (n = side^2). With f = 0 a quorum is one full row plus
 *   one full column (2 side - 1 servers; two of them share at least two servers, since each one's
 *   row crosses the other's column). The seed's "any row or column is a quorum" would not do: two
 *   rows are disjoint. For f > 0, a quorum is one full column plus f+1 full rows: the column of
 *   each crosses the f+1 rows of the other, so two quorums share at least 2f+2 servers (or a whole
 *   row or column), and side >= 2f+1 leaves a fault-free column and f+1 fault-free rows.
 * - majority: every set of floor(n/2)+1 servers. Two majorities may share a single server, so it
 *   masks no liar at all; it is here as the negative control.
 *
 * Load is the access probability of the busiest server under the best strategy for picking
 * quorums; no strategy does better than c/n for quorums of c servers (Naor & Wool). All three
 * systems are fair (all quorums have one size c and every server lies in equally many), so
 * picking uniformly reaches that bound: the load is exactly c/n. `examine` recomputes sizes,
 * intersections, load and availability by enumerating every quorum, which the tests use to check
 * the formulas and the run prints for small n.
 */
import { assert } from "../../core/assert.ts";

/** Bounds of the exhaustive examination (quorums are bit masks in one 32-bit integer). */
export const examineLimits = {
  /** Servers a quorum bit mask can hold. */
  nodesMax: 30,
  /** Quorums `examine` enumerates (pairs grow with its square). */
  quorumsMax: 5000,
  /** Fault sets times quorums tried for availability. */
  availabilityChecksMax: 5_000_000,
} as const;

export type QuorumSystemKind = "threshold" | "grid" | "majority";

export interface QuorumSystem {
  readonly kind: QuorumSystemKind;
  /** One-line description, e.g. "threshold masking (f=2)". */
  readonly label: string;
  readonly n: number;
  /** Byzantine servers the system is meant to mask. */
  readonly f: number;
  /** Servers in every quorum (all three constructions are uniform). */
  readonly size: number;
  /** Number of quorums. */
  readonly count: number;
  /** Fewest servers two quorums share, by the construction's formula. */
  readonly intersectionMin: number;
  /** Naor–Wool load: the system is fair, so size / n. */
  readonly load: number;
  /** Does the construction mask f liars: intersections >= 2f+1 and some quorum avoids any f servers? */
  readonly masking: boolean;
  /** A uniformly drawn quorum (the strategy that achieves the load), ascending server ids. */
  pick(random: () => number): number[];
  /** Does the set of servers for which `has` holds include a whole quorum? */
  includesQuorum(has: (server: number) => boolean): boolean;
  /** Every quorum as a bit mask over servers 0..n-1 (n <= examineLimits.nodesMax). */
  quorums(): Generator<number>;
}

/** Quorums of a threshold system: every set of `size` servers. */
function thresholdSystem(
  kind: "threshold" | "majority",
  label: string,
  n: number,
  f: number,
  size: number,
): QuorumSystem {
  assert(size >= 1 && size <= n, "a threshold quorum has between 1 and n servers");
  return {
    kind,
    label,
    n,
    f,
    size,
    count: binomial(n, size),
    intersectionMin: Math.max(0, 2 * size - n),
    load: size / n,
    masking: 2 * size - n >= 2 * f + 1 && size <= n - f,
    pick: (random) => sample(n, size, random),
    includesQuorum(has) {
      let k = 0;
      for (let s = 0; s < n; s++) if (has(s)) k++;
      return k >= size;
    },
    *quorums() {
      assert(n <= examineLimits.nodesMax, "too many servers to enumerate quorums");
      yield* subsetsOfSize(n, size);
    },
  };
}

/** Threshold masking quorums for f Byzantine servers: size ceil((n+2f+1)/2), needs n >= 4f+1. */
export function maskingThreshold(n: number, f: number): QuorumSystem {
  assert(n >= 4 * f + 1, "masking threshold quorums need n >= 4f+1");
  return thresholdSystem("threshold", `threshold masking (f=${f})`, n, f, Math.ceil((n + 2 * f + 1) / 2));
}

/** Simple majorities: a benign-fault quorum system, too small to mask f >= 1 liars. */
export function majority(n: number, f: number): QuorumSystem {
  assert(n >= 1 && f >= 0, "majority needs n >= 1");
  return thresholdSystem("majority", `majority (not masking for f=${f})`, n, f, Math.floor(n / 2) + 1);
}

/** Side of the grid for n servers, or null if n is not a perfect square. */
export function gridSide(n: number): number | null {
  const side = Math.round(Math.sqrt(n));
  return side * side === n ? side : null;
}

/**
 * The side x side grid: a quorum is one full column plus f+1 full rows (f = 0: a row plus a
 * column). Needs n = side^2 and side >= 2f+1.
 */
export function grid(n: number, f: number): QuorumSystem {
  const side = gridSide(n);
  assert(side !== null && side >= 2 * f + 1, "a masking grid needs n = side^2 with side >= 2f+1");
  const rows = f + 1;
  const label =
    f === 0 ? `grid ${side}x${side} (row + column)` : `grid ${side}x${side} (column + ${rows} rows)`;
  const size = side + rows * side - rows;
  const rowMask = (r: number) => ((2 ** side - 1) * 2 ** (r * side)) >>> 0;
  const colMask = (c: number) => {
    let m = 0;
    for (let r = 0; r < side; r++) m |= 1 << (r * side + c);
    return m >>> 0;
  };
  return {
    kind: "grid",
    label,
    n,
    f,
    size,
    count: side * binomial(side, rows),
    // Distinct columns and disjoint row sets give 2(f+1); otherwise a whole row or column is shared.
    // With side = 2f+1 every two row sets overlap, and the fewest is one shared row plus the crossings.
    intersectionMin: side >= 2 * rows ? 2 * rows : 4 * rows - 3,
    load: size / n,
    masking: true,
    pick(random) {
      const column = Math.floor(random() * side);
      const members = new Set<number>();
      for (let r = 0; r < side; r++) members.add(r * side + column);
      for (const r of sample(side, rows, random)) for (let c = 0; c < side; c++) members.add(r * side + c);
      return [...members].sort((a, b) => a - b);
    },
    includesQuorum(has) {
      const full = (cells: (i: number) => number) => {
        for (let i = 0; i < side; i++) if (!has(cells(i))) return false;
        return true;
      };
      let fullRows = 0;
      let fullColumn = false;
      for (let i = 0; i < side; i++) {
        if (full((c) => i * side + c)) fullRows++;
        if (full((r) => r * side + i)) fullColumn = true;
      }
      return fullColumn && fullRows >= rows;
    },
    *quorums() {
      assert(n <= examineLimits.nodesMax, "too many servers to enumerate quorums");
      for (let c = 0; c < side; c++) {
        for (const rowSet of subsetsOfSize(side, rows)) {
          let m = colMask(c);
          for (let r = 0; r < side; r++) if (rowSet & (1 << r)) m |= rowMask(r);
          yield m >>> 0;
        }
      }
    },
  };
}

/** What enumerating every quorum shows. */
export interface Examination {
  quorums: number;
  /** Unordered pairs of distinct quorums compared. */
  pairs: number;
  sizeMin: number;
  sizeMax: number;
  /** Fewest servers two quorums share (a lone quorum: its size). */
  intersectionMin: number;
  /** Busiest server's access probability when quorums are picked uniformly. */
  loadUniform: number;
  /** Naor–Wool lower bound on the load of any strategy: max(1/c, c/n), c the smallest quorum. */
  loadLowerBound: number;
  /** Does some quorum avoid every set of f servers? Null when that check is too big to run. */
  available: boolean | null;
}

/** Enumerates every quorum and pair; null when the system is too big (see examineLimits). */
export function examine(system: QuorumSystem): Examination | null {
  if (system.n > examineLimits.nodesMax || system.count > examineLimits.quorumsMax) return null;
  const qs = [...system.quorums()];
  assert(qs.length === system.count, "quorum count formula disagrees with the enumeration");
  const perServer = new Array<number>(system.n).fill(0);
  let sizeMin = Number.POSITIVE_INFINITY;
  let sizeMax = 0;
  for (const q of qs) {
    const size = popcount(q);
    sizeMin = Math.min(sizeMin, size);
    sizeMax = Math.max(sizeMax, size);
    for (let s = 0; s < system.n; s++) if (q & (1 << s)) perServer[s] = (perServer[s] as number) + 1;
  }
  let intersectionMin = qs.length === 1 ? sizeMin : Number.POSITIVE_INFINITY;
  for (let i = 0; i < qs.length; i++) {
    const a = qs[i] as number;
    for (let j = i + 1; j < qs.length; j++)
      intersectionMin = Math.min(intersectionMin, popcount(a & (qs[j] as number)));
  }
  return {
    quorums: qs.length,
    pairs: (qs.length * (qs.length - 1)) / 2,
    sizeMin,
    sizeMax,
    intersectionMin,
    loadUniform: Math.max(...perServer) / qs.length,
    loadLowerBound: Math.max(1 / sizeMin, sizeMin / system.n),
    available: availability(system.n, system.f, qs),
  };
}

function availability(n: number, f: number, qs: readonly number[]): boolean | null {
  if (f > n) return false;
  if (binomial(n, f) * qs.length > examineLimits.availabilityChecksMax) return null;
  for (const faulty of subsetsOfSize(n, f)) if (!qs.some((q) => (q & faulty) === 0)) return false;
  return true;
}

/** k distinct values of 0..n-1, ascending, uniformly (a partial Fisher–Yates shuffle). */
function sample(n: number, k: number, random: () => number): number[] {
  const items = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(random() * (n - i));
    const t = items[i] as number;
    items[i] = items[j] as number;
    items[j] = t;
  }
  return items.slice(0, k).sort((a, b) => a - b);
}

/** Every k-subset of 0..n-1 as a bit mask, in increasing order (Gosper's hack). */
export function* subsetsOfSize(n: number, k: number): Generator<number> {
  assert(n <= examineLimits.nodesMax && k >= 0 && k <= n, "subset enumeration out of range");
  if (k === 0) {
    yield 0;
    return;
  }
  const end = 2 ** n;
  let x = 2 ** k - 1;
  while (x < end) {
    yield x;
    const low = x & -x;
    const r = x + low;
    x = (((r ^ x) >>> 2) / low) | r;
  }
}

export function popcount(x: number): number {
  let v = x >>> 0;
  v -= (v >>> 1) & 0x55555555;
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

export function binomial(n: number, k: number): number {
  if (k < 0 || k > n) return 0;
  let r = 1;
  for (let i = 1; i <= Math.min(k, n - k); i++) r = (r * (n - i + 1)) / i;
  return Math.round(r);
}
