import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { isPhalanxError } from "../../src/core/errors.ts";
import { limits } from "../../src/core/limits.ts";
import { encodeFrame, FrameDecoder } from "../../src/runtime/frames.ts";

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** Cuts `bytes` at the given positions (taken modulo its length, sorted, deduplicated). */
function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [
    ...new Set(cuts.map((c) => (bytes.byteLength === 0 ? 0 : c % (bytes.byteLength + 1)))),
  ].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const p of [...points, bytes.byteLength]) {
    chunks.push(bytes.subarray(from, p)); // empty chunks included on purpose
    from = p;
  }
  return chunks;
}

function header(length: number): Uint8Array {
  const h = new Uint8Array(4);
  new DataView(h.buffer).setUint32(0, length);
  return h;
}

describe("frames", () => {
  it("encodes a 4-byte big-endian length then the payload", () => {
    assert.deepEqual(encodeFrame(new Uint8Array([7, 8, 9])), new Uint8Array([0, 0, 0, 3, 7, 8, 9]));
    const big = encodeFrame(new Uint8Array(0x1_02_03));
    assert.deepEqual(big.subarray(0, 4), new Uint8Array([0, 1, 2, 3]));
  });

  it("decodes any sequence of frames, however the stream is chunked, to the same payloads", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        fc.integer({ min: 300, max: 1000 }),
        (payloads, cuts, max) => {
          const decoder = new FrameDecoder(max);
          const stream = concat(payloads.map(encodeFrame));
          const out: Uint8Array[] = [];
          for (const chunk of split(stream, cuts)) out.push(...decoder.push(chunk));
          assert.deepEqual(out, payloads);
          assert.equal(decoder.buffered, 0);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("decodes many frames from one chunk and byte by byte, into independent buffers", () => {
    const payloads = Array.from({ length: 1000 }, (_, i) => new Uint8Array((i % 17) + 1).fill(i & 0xff));
    const stream = concat(payloads.map(encodeFrame));
    const whole = new FrameDecoder(100).push(stream);
    assert.deepEqual(whole, payloads);
    stream.fill(0); // returned payloads must not alias the input
    assert.deepEqual(whole, payloads);
    const bytewise = new FrameDecoder(100);
    const out: Uint8Array[] = [];
    const again = concat(payloads.map(encodeFrame));
    for (let i = 0; i < again.byteLength; i++) out.push(...bytewise.push(again.subarray(i, i + 1)));
    assert.deepEqual(out, payloads);
  });

  it("accepts a frame of exactly the limit and rejects one byte more, before buffering it", () => {
    const decoder = new FrameDecoder(16);
    assert.deepEqual(decoder.push(encodeFrame(new Uint8Array(16).fill(1))), [new Uint8Array(16).fill(1)]);
    assert.throws(
      () => decoder.push(header(17)),
      (e) => isPhalanxError(e, "LIMIT_EXCEEDED"),
    );
    assert.throws(
      () => new FrameDecoder(limits.messageSizeMax).push(header(0xffff_ffff)),
      (e) => isPhalanxError(e, "LIMIT_EXCEEDED"),
    );
  });

  it("rejects a zero length, also after valid frames in the same chunk, and stays failed", () => {
    const decoder = new FrameDecoder(100);
    assert.throws(
      () => decoder.push(concat([encodeFrame(new Uint8Array([1])), header(0)])),
      (e) => isPhalanxError(e, "DECODE_FAILED"),
    );
    assert.throws(
      () => decoder.push(encodeFrame(new Uint8Array([2]))),
      (e) => isPhalanxError(e, "DECODE_FAILED"),
    );
  });

  it("reports the bytes of an incomplete frame", () => {
    const decoder = new FrameDecoder(100);
    assert.deepEqual(decoder.push(new Uint8Array([0, 0])), []);
    assert.equal(decoder.buffered, 2);
    assert.deepEqual(decoder.push(new Uint8Array([0, 5, 1, 2])), []);
    assert.equal(decoder.buffered, 6);
    assert.deepEqual(decoder.push(new Uint8Array([3, 4, 5])), [new Uint8Array([1, 2, 3, 4, 5])]);
    assert.equal(decoder.buffered, 0);
  });

  it("refuses to encode an empty payload", () => {
    assert.throws(
      () => encodeFrame(new Uint8Array(0)),
      (e) => isPhalanxError(e, "BAD_ARGUMENT"),
    );
  });

  it("never throws anything but a PhalanxError on random input", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.uint8Array({ maxLength: 64 }),
            // Plausible headers (small lengths, zero included) followed by random bytes.
            fc
              .tuple(fc.integer({ min: 0, max: 6000 }), fc.uint8Array({ maxLength: 64 }))
              .map(([length, rest]) => concat([header(length), rest])),
          ),
          { maxLength: 30 },
        ),
        fc.integer({ min: 1, max: 5000 }),
        (chunks, max) => {
          const decoder = new FrameDecoder(max);
          for (const chunk of chunks) {
            try {
              for (const frame of decoder.push(chunk)) {
                assert.ok(frame.byteLength >= 1 && frame.byteLength <= max);
              }
            } catch (e) {
              assert.ok(isPhalanxError(e), `unexpected ${String(e)}`);
              return;
            }
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
