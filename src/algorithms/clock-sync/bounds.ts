/**
 * The error bounds the three clock synchronization methods claim, derived from what nodes know
 * in advance: one-way delays lie in [m, M], a correct clock drifts at most ρ (its rate is in
 * [1 - ρ, 1 + ρ]), and rounds start every P of the starter's clock (at most P / (1 - ρ) of true
 * time). Write u = M - m for the delay uncertainty. Seed 002: "can not do better than
 * uncertainty in the link delay", and "clocks can drift during periods between
 * synchronizations". Every bound holds at every instant after the first round, not on average.
 */
import type { Millis } from "../../core/ids.ts";

export interface DelayDrift {
  /** m: the least one-way delay of any message (known to every node). */
  minDelayMs: Millis;
  /** M: the largest one-way delay of any message. */
  maxDelayMs: Millis;
  /** ρ: the largest drift of a correct clock as a rate (100 ppm is 1e-4). */
  driftRate: number;
  /** P: the resynchronization period on the clock of the node that starts rounds. */
  periodMs: Millis;
}

/** P / (1 - ρ): the longest a period can last in true time. */
function truePeriodMs(d: DelayDrift): Millis {
  return d.periodMs / (1 - d.driftRate);
}

/**
 * Cristian (1989): a client that measured round trip `rttMs` on its own clock and set its clock
 * to (server time + rtt / 2) is off by at most this, at the instant it received the reply.
 *
 * With D = rtt / 2, client rate r, and d1, d2 >= m the request and reply delays, the error is
 * D - d2. Since d2 >= m it is at most D - m. Since d2 <= d1 + d2 - m = 2D / r - m it is at
 * least -(D (2 / r - 1) - m), and 2 / r - 1 <= (1 + ρ) / (1 - ρ). So the bound is
 * D (1 + ρ) / (1 - ρ) - m: the paper's ±(rtt / 2 - min) at zero drift. A slow client clock
 * under-measures the round trip, which is why the drift term is needed.
 */
export function cristianSampleBoundMs(rttMs: Millis, driftRate: number, minDelayMs: Millis): Millis {
  return ((rttMs / 2) * (1 + driftRate)) / (1 - driftRate) - minDelayMs;
}

/**
 * Cristian: the largest |clock - true time| of a correct client, the server's clock being true.
 * A round trip lasts at most 2M, so a client measures at most 2M (1 + ρ) and its sample is off
 * by at most cristianSampleBoundMs(2M (1 + ρ)). That sample (taken after its round began) stands
 * until the next round, which begins at most P / (1 - ρ) later and keeps a sample at most
 * `samples` round trips (2M each) after that; the clock drifts meanwhile.
 */
export function cristianAccuracyBoundMs(d: DelayDrift, samples: number): Millis {
  const rho = d.driftRate;
  const sampleMax = cristianSampleBoundMs(2 * d.maxDelayMs * (1 + rho), rho, d.minDelayMs);
  return sampleMax + rho * (truePeriodMs(d) + 2 * samples * d.maxDelayMs);
}

/** Cristian: every correct clock is within the accuracy bound of true time, on either side. */
export function cristianPrecisionBoundMs(d: DelayDrift, samples: number): Millis {
  return 2 * cristianAccuracyBoundMs(d, samples);
}

/**
 * Master broadcast: a receiver that sets its clock to (master time + `assumedDelayMs`) is off by
 * assumed - d, with d in [m, M], when it receives the message. The master's clock is true, so
 * it broadcasts every P of true time and receptions are at most P + u apart, during which the
 * receiver's clock drifts by up to ρ (P + u).
 */
export function broadcastAccuracyBoundMs(d: DelayDrift, assumedDelayMs: Millis): Millis {
  const u = d.maxDelayMs - d.minDelayMs;
  const atReceipt = Math.max(d.maxDelayMs - assumedDelayMs, assumedDelayMs - d.minDelayMs);
  return atReceipt + d.driftRate * (d.periodMs + u);
}

/**
 * Master broadcast: every receiver's error lies in [a - M - ρ (P + u), a - m + ρ (P + u)] for
 * the assumed delay a, and the master's is 0 (a - M <= 0 <= a - m), so two clocks differ by at
 * most u + 2ρ (P + u), whatever delay the receivers assume.
 */
export function broadcastPrecisionBoundMs(d: DelayDrift): Millis {
  const u = d.maxDelayMs - d.minDelayMs;
  return u + 2 * d.driftRate * (d.periodMs + u);
}

/**
 * Berkeley (Gusella and Zatti 1989): the largest difference between two correct clocks when
 * every average the master takes is over correct clocks only.
 *
 * Let x_i be node i's clock minus the master's. The master's estimate of x_i, from the reply's
 * clock plus half its round trip, is off by (d1 - d2) / 2 plus drift during the round trip,
 * at most Δ = u / 2 + 2ρM. After node i applies (average - estimate), x_i = -(its estimate's
 * error) plus relative drift (at most 2ρ per ms) since the master received its reply; so
 * |x_i| <= Δ + 2ρ t, t the time since the round's poll. Rounds start at most P / (1 - ρ) apart
 * and a round's steps end within 3M of its poll (poll, reply, adjustment).
 *
 * The master steps its own clock by the average as it sends the adjustments, and each node
 * steps on receipt, so for up to M some clocks are in the new ensemble and some in the old,
 * which is shifted by the average. An estimate is at most 2Δ + 2ρ (P / (1 - ρ) + 2M) in size,
 * and so is their average; a node already adjusted (|x| <= Δ + 6ρM) and one not yet
 * (|x| <= Δ + 2ρ (P / (1 - ρ) + 3M), plus the shift) then differ by at most
 * 4Δ + 4ρ P / (1 - ρ) + 16ρM = 2u + 4ρ (P / (1 - ρ) + 6M), which covers every other pair too.
 */
export function berkeleyPrecisionBoundMs(d: DelayDrift): Millis {
  const u = d.maxDelayMs - d.minDelayMs;
  return 2 * u + 4 * d.driftRate * (truePeriodMs(d) + 6 * d.maxDelayMs);
}
