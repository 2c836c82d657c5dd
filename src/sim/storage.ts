/**
 * Simulated durable storage of one node. Writes land in a volatile layer (the page cache) and
 * become durable at `sync()`. A crash loses unsynced writes: all of them, or (mode "random")
 * each one independently, as a real disk may persist some of a batch before power is lost.
 * Synced writes always survive. Reads can be corrupted on request (a flipped bit), to test that
 * a node checks what it reads.
 */

import type { Prng } from "../core/prng.ts";
import type { Storage } from "../core/process.ts";

export type CrashLossMode = "all" | "random" | "none";

export interface SimStorageStats {
  writes: number;
  syncs: number;
  lostOnCrash: number;
  corruptedReads: number;
}

export class SimStorage implements Storage {
  private readonly durable = new Map<string, Uint8Array>();
  /** Unsynced writes; `null` is an unsynced delete. */
  private readonly pending = new Map<string, Uint8Array | null>();
  corruptReadProb = 0;
  readonly stats: SimStorageStats = { writes: 0, syncs: 0, lostOnCrash: 0, corruptedReads: 0 };

  constructor(private readonly prng: Prng) {}

  get(key: string): Uint8Array | undefined {
    const p = this.pending.get(key);
    const value = p !== undefined ? (p ?? undefined) : this.durable.get(key);
    if (value === undefined) return undefined;
    if (this.corruptReadProb > 0 && this.prng.chance(this.corruptReadProb) && value.byteLength > 0) {
      this.stats.corruptedReads++;
      const copy = value.slice();
      const bit = this.prng.int(copy.byteLength * 8);
      copy[bit >> 3] = (copy[bit >> 3] as number) ^ (1 << (bit & 7));
      return copy;
    }
    return value.slice();
  }

  put(key: string, value: Uint8Array): void {
    this.stats.writes++;
    this.pending.set(key, value.slice());
  }

  delete(key: string): void {
    this.stats.writes++;
    this.pending.set(key, null);
  }

  keys(prefix = ""): string[] {
    const out = new Set<string>();
    for (const k of this.durable.keys()) if (k.startsWith(prefix)) out.add(k);
    for (const [k, v] of this.pending) {
      if (!k.startsWith(prefix)) continue;
      if (v === null) out.delete(k);
      else out.add(k);
    }
    return [...out].sort();
  }

  sync(): void {
    this.stats.syncs++;
    for (const [k, v] of this.pending) {
      if (v === null) this.durable.delete(k);
      else this.durable.set(k, v);
    }
    this.pending.clear();
  }

  /** Number of writes not yet synced. */
  get unsyncedCount(): number {
    return this.pending.size;
  }

  /** Power loss: drop unsynced writes according to `mode`. */
  crash(mode: CrashLossMode): void {
    for (const [k, v] of this.pending) {
      const survives = mode === "none" || (mode === "random" && this.prng.chance(0.5));
      if (!survives) {
        this.stats.lostOnCrash++;
        continue;
      }
      if (v === null) this.durable.delete(k);
      else this.durable.set(k, v);
    }
    this.pending.clear();
  }
}
