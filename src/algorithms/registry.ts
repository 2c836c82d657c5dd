/**
 * The classic algorithms `phalanx sim NAME` can run (src/cli/algorithms.ts). One entry per
 * module; each module's `algorithm` carries its name, summary, options and oracle.
 */
import { algorithm as bracha } from "./bracha.ts";
import { algorithm as chandyLamport } from "./chandy-lamport.ts";
import { algorithm as clockSync } from "./clock-sync.ts";
import { algorithm as deadlock } from "./deadlock.ts";
import { algorithm as dolevStrong } from "./dolev-strong.ts";
import { algorithm as flp } from "./flp.ts";
import { algorithm as om } from "./generals/om.ts";
import { algorithm as sm } from "./generals/sm.ts";
import { algorithm as quorum } from "./quorum.ts";
import { algorithm as shamir } from "./shamir.ts";
import type { Algorithm } from "./types.ts";

const all: readonly Algorithm[] = [
  om,
  sm,
  dolevStrong,
  bracha,
  chandyLamport,
  deadlock,
  clockSync,
  quorum,
  shamir,
  flp,
];

export const algorithms: ReadonlyMap<string, Algorithm> = new Map(all.map((a) => [a.name, a]));
