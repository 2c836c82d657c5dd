import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { describe, it } from "node:test";
import fc from "fast-check";
import { sha256 } from "../../src/crypto/digest.ts";
import { checkHmac, hmac } from "../../src/crypto/mac.ts";

const reference = (key: Uint8Array, data: Uint8Array) =>
  new Uint8Array(createHmac("sha256", key).update(data).digest());

describe("hmac (precomputed pads, one-shot hash)", () => {
  it("equals createHmac for random keys and messages, including keys longer than a block", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 200 }),
        fc.uint8Array({ minLength: 0, maxLength: 3000 }),
        (key, data) => {
          assert.deepEqual(hmac(key, data), reference(key, data));
          // Second call goes through the cached pads.
          assert.deepEqual(hmac(key, data), reference(key, data));
          assert.equal(checkHmac(key, data, reference(key, data)), true);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("equals createHmac at every message length around the block and padding boundaries", () => {
    const key = new Uint8Array(32).map((_, i) => i * 7 + 1);
    for (let len = 0; len <= 300; len++) {
      const data = new Uint8Array(len).map((_, i) => (i * 31 + len) & 0xff);
      assert.deepEqual(hmac(key, data), reference(key, data), `length ${len}`);
    }
  });

  it("keeps earlier tags intact when the scratch buffers are reused", () => {
    const key = new Uint8Array(32).fill(7);
    const a = hmac(key, new Uint8Array([1, 2, 3]));
    const b = hmac(key, new Uint8Array(5000).fill(9));
    assert.deepEqual(a, reference(key, new Uint8Array([1, 2, 3])));
    assert.deepEqual(b, reference(key, new Uint8Array(5000).fill(9)));
  });

  it("rejects a wrong tag, a tag of the wrong length and a non-byte tag", () => {
    const key = new Uint8Array(32).fill(1);
    const data = new Uint8Array([4, 5, 6]);
    const tag = hmac(key, data);
    const bad = tag.slice();
    bad[0] = (bad[0] as number) ^ 1;
    assert.equal(checkHmac(key, data, bad), false);
    assert.equal(checkHmac(key, data, tag.subarray(0, 31)), false);
    assert.equal(checkHmac(key, data, "x"), false);
  });
});

describe("sha256 (JavaScript for short inputs, one-shot hash otherwise)", () => {
  it("equals createHash", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (data) => {
        assert.deepEqual(sha256(data), new Uint8Array(createHash("sha256").update(data).digest()));
      }),
    );
    assert.deepEqual(sha256("abc"), new Uint8Array(createHash("sha256").update("abc").digest()));
  });

  it("equals createHash at every length around the JavaScript path's block boundaries", () => {
    for (let len = 0; len <= 200; len++) {
      const data = new Uint8Array(len).map((_, i) => (i * 13 + len) & 0xff);
      assert.deepEqual(
        sha256(data),
        new Uint8Array(createHash("sha256").update(data).digest()),
        `length ${len}`,
      );
      // A second call must not see state left by the first.
      assert.deepEqual(
        sha256(data),
        new Uint8Array(createHash("sha256").update(data).digest()),
        `length ${len}`,
      );
    }
  });
});
