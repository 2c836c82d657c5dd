/**
 * Message framing on a byte stream: a 4-byte big-endian payload length, then the payload.
 * Lengths are checked before any payload is buffered, so a peer can make us hold at most one
 * frame of `maxFrameBytes`; an empty frame or a longer one is a protocol violation that ends
 * the connection (the decoder throws a PhalanxError and stays failed). Decoding copies every
 * byte once, however the stream is cut into chunks.
 */
import { assert } from "../core/assert.ts";
import { PhalanxError } from "../core/errors.ts";

export const FRAME_HEADER_BYTES = 4;
/** The largest length the 4-byte header can express. */
export const FRAME_PAYLOAD_BYTES_MAX = 0xffff_ffff;

/** Header and payload in one fresh buffer, ready to write. */
export function encodeFrame(payload: Uint8Array): Uint8Array {
  if (payload.byteLength === 0 || payload.byteLength > FRAME_PAYLOAD_BYTES_MAX) {
    throw new PhalanxError(
      "BAD_ARGUMENT",
      `a frame payload must be 1 to ${FRAME_PAYLOAD_BYTES_MAX} bytes, got ${payload.byteLength}`,
    );
  }
  const frame = new Uint8Array(FRAME_HEADER_BYTES + payload.byteLength);
  new DataView(frame.buffer).setUint32(0, payload.byteLength);
  frame.set(payload, FRAME_HEADER_BYTES);
  return frame;
}

/** Incremental decoder for one connection's inbound stream. */
export class FrameDecoder {
  private readonly header = new Uint8Array(FRAME_HEADER_BYTES);
  private headerFilled = 0;
  /** The payload being filled, once its header is complete. */
  private payload: Uint8Array | undefined;
  private payloadFilled = 0;
  private failed: PhalanxError | undefined;

  constructor(readonly maxFrameBytes: number) {
    assert(
      Number.isInteger(maxFrameBytes) && maxFrameBytes >= 1 && maxFrameBytes <= FRAME_PAYLOAD_BYTES_MAX,
      "maxFrameBytes must be an integer from 1 to 2^32-1",
    );
  }

  /** Bytes of an incomplete frame held (header included); nonzero at a disconnect means truncation. */
  get buffered(): number {
    return this.payload === undefined ? this.headerFilled : FRAME_HEADER_BYTES + this.payloadFilled;
  }

  /**
   * Feeds the next chunk of the stream; returns the frames it completed, in order, each in its
   * own buffer. Throws a PhalanxError (DECODE_FAILED for a zero length, LIMIT_EXCEEDED for one
   * above `maxFrameBytes`) on a protocol violation, and again on every later call.
   */
  push(chunk: Uint8Array): Uint8Array[] {
    if (this.failed !== undefined) throw this.failed;
    const frames: Uint8Array[] = [];
    let at = 0;
    while (at < chunk.byteLength) {
      if (this.payload === undefined) {
        const take = Math.min(FRAME_HEADER_BYTES - this.headerFilled, chunk.byteLength - at);
        this.header.set(chunk.subarray(at, at + take), this.headerFilled);
        this.headerFilled += take;
        at += take;
        if (this.headerFilled < FRAME_HEADER_BYTES) break;
        const h = this.header;
        const length =
          (h[0] as number) * 0x100_0000 +
          (h[1] as number) * 0x1_0000 +
          (h[2] as number) * 0x100 +
          (h[3] as number);
        if (length === 0) this.fail("DECODE_FAILED", "a frame of length 0");
        if (length > this.maxFrameBytes) {
          this.fail("LIMIT_EXCEEDED", `a frame of ${length} bytes, above the limit of ${this.maxFrameBytes}`);
        }
        this.payload = new Uint8Array(length);
        this.payloadFilled = 0;
      }
      const payload = this.payload;
      const take = Math.min(payload.byteLength - this.payloadFilled, chunk.byteLength - at);
      payload.set(chunk.subarray(at, at + take), this.payloadFilled);
      this.payloadFilled += take;
      at += take;
      if (this.payloadFilled === payload.byteLength) {
        frames.push(payload);
        this.payload = undefined;
        this.headerFilled = 0;
      }
    }
    return frames;
  }

  private fail(code: "DECODE_FAILED" | "LIMIT_EXCEEDED", what: string): never {
    this.failed = new PhalanxError(code, `protocol violation: ${what}; the connection must be closed`);
    throw this.failed;
  }
}
