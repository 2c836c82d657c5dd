/**
 * SHA-256 (FIPS 180-4) in JavaScript: the compression function and the final padding, shared by
 * HMAC (mac.ts, which starts from cached key midstates) and by the digest of short inputs
 * (digest.ts), where a call into node:crypto costs more than the hashing itself. Checked against
 * node:crypto in test/crypto/mac.test.ts and test/crypto/digest.test.ts.
 */

export const BLOCK = 64;

// biome-ignore format: a table of round constants
const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
export const IV = new Int32Array([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);
const W = new Int32Array(64);

/** The SHA-256 compression function (FIPS 180-4, 6.2.2) of one block of `b` at `off`. */
export function compress(st: Int32Array, b: Uint8Array, off: number): void {
  for (let i = 0; i < 16; i++) {
    const j = off + i * 4;
    W[i] =
      ((b[j] as number) << 24) |
      ((b[j + 1] as number) << 16) |
      ((b[j + 2] as number) << 8) |
      (b[j + 3] as number);
  }
  for (let i = 16; i < 64; i++) {
    const w15 = W[i - 15] as number;
    const w2 = W[i - 2] as number;
    const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
    const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
    W[i] = ((W[i - 16] as number) + s0 + (W[i - 7] as number) + s1) | 0;
  }
  let a = st[0] as number;
  let bb = st[1] as number;
  let c = st[2] as number;
  let d = st[3] as number;
  let e = st[4] as number;
  let f = st[5] as number;
  let g = st[6] as number;
  let h = st[7] as number;
  for (let i = 0; i < 64; i++) {
    const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const ch = (e & f) ^ (~e & g);
    const t1 = (h + s1 + ch + (K[i] as number) + (W[i] as number)) | 0;
    const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const maj = (a & bb) ^ (a & c) ^ (bb & c);
    const t2 = (s0 + maj) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = bb;
    bb = a;
    a = (t1 + t2) | 0;
  }
  st[0] = ((st[0] as number) + a) | 0;
  st[1] = ((st[1] as number) + bb) | 0;
  st[2] = ((st[2] as number) + c) | 0;
  st[3] = ((st[3] as number) + d) | 0;
  st[4] = ((st[4] as number) + e) | 0;
  st[5] = ((st[5] as number) + f) | 0;
  st[6] = ((st[6] as number) + g) | 0;
  st[7] = ((st[7] as number) + h) | 0;
}

const tail = new Uint8Array(2 * BLOCK);

/**
 * Absorb the first `len` bytes of `data` into `st`, which has already absorbed `prefixBytes` (a
 * multiple of 64), and apply the final padding (0x80, zeros, the 64-bit big-endian length in
 * bits of everything hashed).
 */
export function finish(st: Int32Array, data: Uint8Array, len: number, prefixBytes: number): void {
  const full = len - (len % BLOCK);
  for (let off = 0; off < full; off += BLOCK) compress(st, data, off);
  const rest = len - full;
  const padded = rest + 9 <= BLOCK ? BLOCK : 2 * BLOCK;
  // Byte by byte: the tail is under 64 bytes, and a subarray would allocate on every MAC.
  for (let i = 0; i < rest; i++) tail[i] = data[full + i] as number;
  tail[rest] = 0x80;
  tail.fill(0, rest + 1, padded);
  const bits = (prefixBytes + len) * 8;
  const hi = Math.floor(bits / 0x100000000);
  const lo = bits >>> 0;
  tail[padded - 8] = hi >>> 24;
  tail[padded - 7] = hi >>> 16;
  tail[padded - 6] = hi >>> 8;
  tail[padded - 5] = hi;
  tail[padded - 4] = lo >>> 24;
  tail[padded - 3] = lo >>> 16;
  tail[padded - 2] = lo >>> 8;
  tail[padded - 1] = lo;
  compress(st, tail, 0);
  if (padded > BLOCK) compress(st, tail, BLOCK);
}

export function writeState(st: Int32Array, out: Uint8Array): void {
  for (let i = 0; i < 8; i++) {
    const v = st[i] as number;
    out[i * 4] = v >>> 24;
    out[i * 4 + 1] = v >>> 16;
    out[i * 4 + 2] = v >>> 8;
    out[i * 4 + 3] = v;
  }
}

const shortState = new Int32Array(8);

/**
 * SHA-256 of the first `length` bytes of `data`, computed here and written to `out`; meant for
 * inputs of a block or two. The length and output let a caller hash a scratch buffer into
 * another without allocating.
 */
export function sha256Js(
  data: Uint8Array,
  length: number = data.byteLength,
  out: Uint8Array = new Uint8Array(32),
): Uint8Array {
  shortState.set(IV);
  finish(shortState, data, length, 0);
  writeState(shortState, out);
  return out;
}
