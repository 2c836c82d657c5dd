/**
 * The simulator's key material, derived from the run's seed and node ids only (so the order in
 * which keys are first used never matters and a seed reproduces every key): each node's Ed25519
 * key pair, and the MAC secret each pair of nodes shares (the runtime derives it from an X25519
 * exchange). In "fast" mode a node's signature is an HMAC-SHA512 tag under a secret only the
 * simulator holds: the same behaviour as Ed25519 (nobody can sign for another node), much cheaper.
 */
import { hashString32, Prng } from "../core/prng.ts";
import { fastSign, fastVerify, MacKey } from "../crypto/mac.ts";
import { sign as edSign, verify as edVerify, type KeyPair, keyPairFromPrng } from "../crypto/sign.ts";

/** Pair ids are packed as lo * 2^21 + hi: node ids are below 2^20, and -1 (the simulator) is allowed. */
const pairKeyOf = (a: number, b: number) => (a < b ? a * 2_097_152 + b : b * 2_097_152 + a);

export class SimKeys {
  private readonly nodeKeys = new Map<number, KeyPair>();
  private readonly secrets = new Map<number, Uint8Array>();
  private readonly macKeys = new Map<number, MacKey>();

  constructor(
    private readonly seed: number,
    readonly fastSignatures: boolean,
  ) {}

  /** Node `id`'s Ed25519 key pair. */
  keyPair(id: number): KeyPair {
    let k = this.nodeKeys.get(id);
    if (k === undefined) {
      k = keyPairFromPrng(new Prng([this.seed >>> 0, hashString32(`key-${id}`), id, 0x2545f491]));
      this.nodeKeys.set(id, k);
    }
    return k;
  }

  /** The MAC secret nodes `a` and `b` share (both derive the same one). */
  pairSecret(a: number, b: number): Uint8Array {
    const k = pairKeyOf(a, b);
    let key = this.secrets.get(k);
    if (key === undefined) {
      const lo = Math.min(a, b);
      const hi = Math.max(a, b);
      const prng = new Prng([this.seed >>> 0, hashString32(`mac-${lo}/${hi}`), lo, hi ^ 0x9e3779b9]);
      key = new Uint8Array(32);
      const view = new DataView(key.buffer);
      for (let i = 0; i < 8; i++) view.setUint32(i * 4, prng.nextU32());
      this.secrets.set(k, key);
    }
    return key;
  }

  /** `pairSecret(a, b)` prepared for MACs (its HMAC midstates computed once). */
  pairMacKey(a: number, b: number): MacKey {
    const k = pairKeyOf(a, b);
    let m = this.macKeys.get(k);
    if (m === undefined) {
      m = new MacKey(this.pairSecret(a, b));
      this.macKeys.set(k, m);
    }
    return m;
  }

  sign(id: number, data: Uint8Array): Uint8Array {
    if (this.fastSignatures) return fastSign(this.pairSecret(id, -1), data);
    return edSign(this.keyPair(id).privateKey, data);
  }

  verify(id: number, data: Uint8Array, signature: Uint8Array): boolean {
    if (this.fastSignatures) return fastVerify(this.pairSecret(id, -1), data, signature);
    return edVerify(this.keyPair(id).publicKey, data, signature);
  }
}
