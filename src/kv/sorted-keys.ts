/**
 * A sorted set of strings kept as a list of sorted chunks: the layout of Grant Jenks's
 * sortedcontainers `SortedList` (Python). Chunks hold between 1 and 2·`chunkLoad` keys; `lasts`
 * holds each chunk's largest key, so a lookup is a binary search over `lasts` then one inside a
 * chunk.
 *
 * Why this and not the alternatives, for n keys and L = `chunkLoad`:
 * - a plain sorted array costs O(n) element moves per insert or delete: 10^5 inserts in random
 *   order move ~2.5·10^9 pointers, seconds of work, and a state transfer or a bulk load pays it;
 * - a B-tree or skip list has the right asymptotics but several times the code, and a pointer
 *   chase per level;
 * - chunks cost O(log n) comparisons plus a memmove of at most 2L pointers per insert or delete,
 *   and O(n/L) more when a chunk splits or empties (one time in ~L): at n = 10^6 and L = 512
 *   that is ~4k pointers. A scan is O(log n + k) for k keys returned. Memory: one pointer per
 *   key plus ~2n/L small arrays.
 *
 * Order: JavaScript string comparison, that is UTF-16 code units, the order of
 * `Array.prototype.sort()` and of `Storage.keys()`. Keys with a common prefix form one
 * contiguous run in it, which is what a prefix scan needs.
 */
import { assert } from "../core/assert.ts";

/** Target chunk size; a chunk splits above 2·chunkLoad and merges with a neighbour below chunkLoad/4. */
const chunkLoad = 512;

export class SortedStrings {
  private chunks: string[][] = [];
  private lasts: string[] = [];
  private count = 0;

  /** Builds from keys already in strictly ascending order, in O(n). */
  static fromSorted(keys: readonly string[]): SortedStrings {
    const set = new SortedStrings();
    for (let i = 1; i < keys.length; i++) {
      assert((keys[i - 1] as string) < (keys[i] as string), "fromSorted needs strictly ascending keys");
    }
    for (let i = 0; i < keys.length; i += chunkLoad) {
      const chunk = keys.slice(i, i + chunkLoad);
      set.chunks.push(chunk);
      set.lasts.push(chunk[chunk.length - 1] as string);
    }
    set.count = keys.length;
    return set;
  }

  get size(): number {
    return this.count;
  }

  has(key: string): boolean {
    const ci = this.chunkFor(key);
    if (ci === this.chunks.length) return false;
    const chunk = this.chunks[ci] as string[];
    return chunk[lowerBound(chunk, key)] === key;
  }

  /** Adds `key`; returns false (and changes nothing) if it was already present. */
  insert(key: string): boolean {
    if (this.chunks.length === 0) {
      this.chunks.push([key]);
      this.lasts.push(key);
      this.count = 1;
      return true;
    }
    // A key above every chunk's last goes at the end of the last chunk.
    const ci = Math.min(this.chunkFor(key), this.chunks.length - 1);
    const chunk = this.chunks[ci] as string[];
    const pos = lowerBound(chunk, key);
    if (chunk[pos] === key) return false;
    chunk.splice(pos, 0, key);
    this.lasts[ci] = chunk[chunk.length - 1] as string;
    this.count++;
    if (chunk.length > 2 * chunkLoad) this.split(ci);
    return true;
  }

  /** Removes `key`; returns false if it was absent. */
  delete(key: string): boolean {
    const ci = this.chunkFor(key);
    if (ci === this.chunks.length) return false;
    const chunk = this.chunks[ci] as string[];
    const pos = lowerBound(chunk, key);
    if (chunk[pos] !== key) return false;
    chunk.splice(pos, 1);
    this.count--;
    if (chunk.length === 0) {
      this.chunks.splice(ci, 1);
      this.lasts.splice(ci, 1);
    } else {
      this.lasts[ci] = chunk[chunk.length - 1] as string;
      if (chunk.length < chunkLoad / 4 && this.chunks.length > 1) this.merge(ci);
    }
    return true;
  }

  /** Up to `limit` keys that start with `prefix`, ascending. O(log n + limit). */
  withPrefix(prefix: string, limit: number): string[] {
    const out: string[] = [];
    if (limit <= 0) return out;
    let ci = this.chunkFor(prefix);
    if (ci === this.chunks.length) return out;
    let pos = lowerBound(this.chunks[ci] as string[], prefix);
    for (; ci < this.chunks.length; ci++, pos = 0) {
      const chunk = this.chunks[ci] as string[];
      for (; pos < chunk.length; pos++) {
        const key = chunk[pos] as string;
        if (!key.startsWith(prefix)) return out;
        out.push(key);
        if (out.length === limit) return out;
      }
    }
    return out;
  }

  *[Symbol.iterator](): IterableIterator<string> {
    for (const chunk of this.chunks) yield* chunk;
  }

  /** All keys, ascending, in a new array. */
  toArray(): string[] {
    const out: string[] = new Array(this.count);
    let i = 0;
    for (const chunk of this.chunks) for (const key of chunk) out[i++] = key;
    return out;
  }

  /** For tests: asserts the layout invariants. */
  checkInvariants(): void {
    assert(this.chunks.length === this.lasts.length, "one last per chunk");
    let total = 0;
    let previous: string | undefined;
    for (let ci = 0; ci < this.chunks.length; ci++) {
      const chunk = this.chunks[ci] as string[];
      assert(chunk.length > 0 && chunk.length <= 2 * chunkLoad, `chunk ${ci} has ${chunk.length} keys`);
      assert(this.lasts[ci] === chunk[chunk.length - 1], `lasts[${ci}] is stale`);
      for (const key of chunk) {
        assert(previous === undefined || previous < key, "keys strictly ascending");
        previous = key;
      }
      total += chunk.length;
    }
    assert(total === this.count, "count matches");
  }

  /** Index of the first chunk whose last key is >= key; chunks.length if there is none. */
  private chunkFor(key: string): number {
    let lo = 0;
    let hi = this.lasts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.lasts[mid] as string) < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private split(ci: number): void {
    const chunk = this.chunks[ci] as string[];
    const right = chunk.splice(chunk.length >>> 1);
    this.chunks.splice(ci + 1, 0, right);
    this.lasts.splice(ci, 1, chunk[chunk.length - 1] as string, right[right.length - 1] as string);
  }

  /** Joins the small chunk `ci` with a neighbour, splitting again if the result is too big. */
  private merge(ci: number): void {
    const left = ci + 1 < this.chunks.length ? ci : ci - 1;
    const joined = (this.chunks[left] as string[]).concat(this.chunks[left + 1] as string[]);
    this.chunks.splice(left, 2, joined);
    this.lasts.splice(left, 2, joined[joined.length - 1] as string);
    if (joined.length > 2 * chunkLoad) this.split(left);
  }
}

/** First index in sorted `keys` whose key is >= `key`. */
function lowerBound(keys: readonly string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((keys[mid] as string) < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
