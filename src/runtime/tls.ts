/**
 * TLS identity helpers. Each node's certificate is self-signed and merely carries its Ed25519
 * key through the TLS 1.3 handshake (which proves possession of the private key); trust comes
 * from the cluster configuration listing that raw public key, never from a CA, a name or a
 * validity period. Hence the long validity and the transport's `rejectUnauthorized: false`
 * followed by its own key check (see transport.ts).
 */
import { createPublicKey, type KeyObject, randomBytes, webcrypto } from "node:crypto";
import type { TLSSocket } from "node:tls";
import type * as X509 from "@peculiar/x509";
import { PhalanxError } from "../core/errors.ts";

// SPKI DER prefix of an Ed25519 public key; the 32-byte key follows it (RFC 8410).
const SPKI_ED25519_PREFIX = Buffer.from("302a300506032b6570032100", "hex");
const ED25519_RAW_BYTES = 32;
const VALIDITY_YEARS = 100;

type SelfSignedParams = Parameters<typeof X509.X509CertificateGenerator.createSelfSigned>[0];

let x509Loaded: Promise<typeof X509> | undefined;

/**
 * @peculiar/x509 (through tsyringe) needs the Reflect metadata API: the `reflect-metadata`
 * polyfill is loaded first, then the library, lazily (only nodes that make a certificate pay).
 */
function loadX509(): Promise<typeof X509> {
  x509Loaded ??= (async () => {
    await import("reflect-metadata");
    const x509 = await import("@peculiar/x509");
    // Node's webcrypto is the Web Crypto API x509 expects; the two type packages spell it differently.
    x509.cryptoProvider.set(webcrypto as never);
    return x509;
  })();
  return x509Loaded;
}

/** PEM X.509 certificate for `keys`, self-signed, valid for a century from an hour ago. */
export async function selfSignedCertificate(
  keys: { privateKey: KeyObject; publicKey: KeyObject },
  commonName: string,
): Promise<string> {
  if (keys.privateKey.asymmetricKeyType !== "ed25519" || keys.publicKey.asymmetricKeyType !== "ed25519") {
    throw new PhalanxError("BAD_ARGUMENT", "a node certificate needs an Ed25519 key pair");
  }
  const x509 = await loadX509();
  const subtle = webcrypto.subtle;
  const privateKey = await subtle.importKey(
    "pkcs8",
    keys.privateKey.export({ format: "der", type: "pkcs8" }),
    { name: "Ed25519" },
    false,
    ["sign"],
  );
  const publicKey = await subtle.importKey(
    "spki",
    keys.publicKey.export({ format: "der", type: "spki" }),
    { name: "Ed25519" },
    true,
    ["verify"],
  );
  const notBefore = new Date(Date.now() - 60 * 60 * 1000);
  const notAfter = new Date(notBefore);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + VALIDITY_YEARS);
  // Positive 16-byte serial (top bit cleared so DER does not read it as negative).
  const serial = randomBytes(16);
  serial[0] = (serial[0] as number) & 0x7f;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial.toString("hex"),
    name: [{ CN: [commonName] }],
    notBefore,
    notAfter,
    signingAlgorithm: { name: "Ed25519" },
    keys: { privateKey, publicKey } as unknown as SelfSignedParams["keys"],
    extensions: [new x509.BasicConstraintsExtension(false, undefined, true)],
  });
  return cert.toString("pem");
}

/**
 * The raw 32-byte public key of an Ed25519 KeyObject (the form a cluster configuration lists);
 * a private key gives its public half.
 */
export function rawEd25519PublicKey(key: KeyObject): Uint8Array {
  if (key.asymmetricKeyType !== "ed25519") {
    throw new PhalanxError(
      "BAD_ARGUMENT",
      `expected an Ed25519 key, got ${key.asymmetricKeyType ?? key.type}`,
    );
  }
  const publicKey = key.type === "private" ? createPublicKey(key) : key;
  const spki = publicKey.export({ format: "der", type: "spki" });
  return new Uint8Array(spki.subarray(SPKI_ED25519_PREFIX.length));
}

/**
 * The raw Ed25519 public key of the certificate `socket`'s peer presented; undefined if it
 * presented none or its key is not Ed25519. Never throws.
 */
export function peerPublicKey(socket: TLSSocket): Uint8Array | undefined {
  try {
    const key = socket.getPeerX509Certificate()?.publicKey;
    if (key === undefined || key.asymmetricKeyType !== "ed25519") return undefined;
    const spki = key.export({ format: "der", type: "spki" });
    if (
      spki.byteLength !== SPKI_ED25519_PREFIX.length + ED25519_RAW_BYTES ||
      !spki.subarray(0, SPKI_ED25519_PREFIX.length).equals(SPKI_ED25519_PREFIX)
    ) {
      return undefined;
    }
    return new Uint8Array(spki.subarray(SPKI_ED25519_PREFIX.length));
  } catch {
    return undefined;
  }
}
