/** Logical and hybrid clocks (seed 002): Lamport clocks, vector clocks, hybrid logical clocks. */
export {
  compareHlc,
  type HlcOptions,
  type HlcReceiveResult,
  type HlcTimestamp,
  HybridLogicalClock,
  hlcLogicalMax,
  hlcMaxOffsetMsDefault,
  isHlcTimestamp,
} from "./hlc.ts";
export { isLamportTime, LamportClock, type LamportTime } from "./lamport.ts";
export { VectorClock, type VectorClockJson, type VectorOrder, vectorClockEntriesMax } from "./vector.ts";
