/**
 * The simulator's event queue: a binary min-heap ordered by (virtual time, insertion
 * sequence). The sequence number breaks ties, so two events at the same instant always run in
 * the order they were scheduled, and one seed gives one execution.
 *
 * Events live in a slab of parallel arrays (structure of arrays) addressed by slot number, and
 * the heap orders slot numbers by keys kept in typed arrays. A run delivers millions of
 * messages; this layout allocates nothing per event and keeps comparisons on flat memory.
 */
import { assert } from "../core/assert.ts";

export class EventSlab {
  capacity = 0;
  time = new Float64Array(0);
  seq = new Float64Array(0);
  kind = new Uint8Array(0);
  node = new Int32Array(0);
  from = new Int32Array(0);
  msgId = new Float64Array(0);
  lt = new Float64Array(0);
  incarnation = new Int32Array(0);
  timerId = new Float64Array(0);
  round = new Int32Array(0);
  cancelled = new Uint8Array(0);
  msg: unknown[] = [];
  vt: Array<Int32Array | null> = [];
  tag: unknown[] = [];
  fn: Array<(() => void) | null> = [];
  private free = new Int32Array(0);
  private freeCount = 0;

  constructor(initial = 1024) {
    this.grow(initial);
  }

  /** A fresh slot with every field reset. */
  alloc(): number {
    if (this.freeCount === 0) this.grow(this.capacity * 2);
    const s = this.free[--this.freeCount] as number;
    this.kind[s] = 0;
    this.node[s] = 0;
    this.from[s] = 0;
    this.msgId[s] = 0;
    this.lt[s] = 0;
    this.incarnation[s] = 0;
    this.timerId[s] = 0;
    this.round[s] = -1;
    this.cancelled[s] = 0;
    return s;
  }

  release(s: number): void {
    this.msg[s] = undefined;
    this.vt[s] = null;
    this.tag[s] = undefined;
    this.fn[s] = null;
    this.free[this.freeCount++] = s;
  }

  private grow(capacity: number): void {
    const old = this.capacity;
    const f64 = (a: Float64Array) => {
      const b = new Float64Array(capacity);
      b.set(a);
      return b;
    };
    const i32 = (a: Int32Array) => {
      const b = new Int32Array(capacity);
      b.set(a);
      return b;
    };
    const u8 = (a: Uint8Array) => {
      const b = new Uint8Array(capacity);
      b.set(a);
      return b;
    };
    this.time = f64(this.time);
    this.seq = f64(this.seq);
    this.kind = u8(this.kind);
    this.node = i32(this.node);
    this.from = i32(this.from);
    this.msgId = f64(this.msgId);
    this.lt = f64(this.lt);
    this.incarnation = i32(this.incarnation);
    this.timerId = f64(this.timerId);
    this.round = i32(this.round);
    this.cancelled = u8(this.cancelled);
    for (let i = old; i < capacity; i++) {
      this.msg.push(undefined);
      this.vt.push(null);
      this.tag.push(undefined);
      this.fn.push(null);
    }
    const free = new Int32Array(capacity);
    free.set(this.free.subarray(0, this.freeCount));
    // New slots are handed out lowest first.
    let k = this.freeCount;
    for (let i = capacity - 1; i >= old; i--) free[k++] = i;
    this.free = free;
    this.freeCount = k;
    this.capacity = capacity;
  }
}

export class EventQueue {
  readonly slab = new EventSlab();
  private heap = new Int32Array(1024);
  private count = 0;
  private seqNext = 0;

  get size(): number {
    return this.count;
  }

  /** Inserts slot `s` at `slab.time[s]`, stamping its sequence number. */
  push(s: number): void {
    const time = this.slab.time;
    const seq = this.slab.seq;
    const t = time[s] as number;
    assert(Number.isFinite(t), "event time must be finite");
    const q = this.seqNext++;
    seq[s] = q;
    if (this.count === this.heap.length) {
      const h = new Int32Array(this.heap.length * 2);
      h.set(this.heap);
      this.heap = h;
    }
    const heap = this.heap;
    let i = this.count++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent] as number;
      const pt = time[p] as number;
      if (pt < t || (pt === t && (seq[p] as number) < q)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = s;
  }

  /** Slot of the earliest event, or -1. */
  peek(): number {
    return this.count === 0 ? -1 : (this.heap[0] as number);
  }

  /** Removes and returns the earliest event's slot, or -1. */
  pop(): number {
    if (this.count === 0) return -1;
    const heap = this.heap;
    const time = this.slab.time;
    const seq = this.slab.seq;
    const top = heap[0] as number;
    const last = heap[--this.count] as number;
    const n = this.count;
    if (n > 0) {
      const lt = time[last] as number;
      const lq = seq[last] as number;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        let c = l;
        let ct = time[heap[l] as number] as number;
        const r = l + 1;
        if (r < n) {
          const rt = time[heap[r] as number] as number;
          if (
            rt < ct ||
            (rt === ct && (seq[heap[r] as number] as number) < (seq[heap[l] as number] as number))
          ) {
            c = r;
            ct = rt;
          }
        }
        if (lt < ct || (lt === ct && lq < (seq[heap[c] as number] as number))) break;
        heap[i] = heap[c] as number;
        i = c;
      }
      heap[i] = last;
    }
    return top;
  }
}
