/**
 * The cluster configuration of a real deployment, and each node's private key file.
 *
 * `cluster.json` is public and identical on every host: the replicas (id, where each listens
 * for peers and for HTTP, its Ed25519 identity key and its X25519 key), the clients allowed to
 * connect (same keys, no address), and PBFT options. A node's private keys live in their own
 * file (`keys/replica-<id>.json`, `keys/client-<k>.json`, mode 0600) that never leaves its host.
 *
 * Identities and ids:
 * - replica i has NodeId i (0..n-1): the PBFT group is `replicas` in id order;
 * - client k (its key, listed under `clients`) owns a range of PBFT client ids,
 *   `clientIdBase + k * clientSessionsMax + s` for sessions s: each session is one PBFT client
 *   (one outstanding request, its own timestamps), so one process can run many requests at
 *   once under one key. The transport authenticates the key; the driver checks that every
 *   message names a client id of that key.
 *
 * Keys: the Ed25519 key signs protocol evidence and is the key of the node's TLS certificate;
 * the X25519 key gives each pair of nodes a shared MAC secret (X25519, then HKDF-SHA256), the
 * key of PBFT's MAC authenticators. Both public halves are in the configuration, so a node that
 * is not listed cannot connect, sign or MAC.
 */
import {
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
} from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { z } from "zod";
import { PhalanxError } from "../core/errors.ts";
import type { NodeId } from "../core/ids.ts";
import { defaultPbftOptions, type PbftOptions } from "../smr/pbft/config.ts";

export const clientIdBase = 1_000_000;
export const clientSessionsMax = 1024;

/** The identity (key holder) a NodeId belongs to: itself for a replica, its client key's base id. */
export function identityOf(id: number): number {
  if (id < clientIdBase) return id;
  return clientIdBase + Math.floor((id - clientIdBase) / clientSessionsMax) * clientSessionsMax;
}

export const clientIdentity = (k: number) => clientIdBase + k * clientSessionsMax;

const b64key = z
  .string()
  .regex(/^[A-Za-z0-9+/]{43}=$/, "a 32-byte key in base64")
  .transform((s) => new Uint8Array(Buffer.from(s, "base64")));

const replicaSchema = z.object({
  id: z
    .number()
    .int()
    .min(0)
    .max(clientIdBase - 1),
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535),
  httpPort: z.number().int().min(1).max(65535),
  publicKey: b64key,
  dhPublicKey: b64key,
});

const clientSchema = z.object({
  name: z.string().min(1).max(64),
  publicKey: b64key,
  dhPublicKey: b64key,
});

const pbftOptionsSchema = z
  .object({
    checkpointInterval: z.number().int().positive(),
    logWindow: z.number().int().positive(),
    batchMax: z.number().int().positive(),
    batchDelayMs: z.number().nonnegative(),
    inflightMax: z.number().int().positive(),
    requestTimeoutMs: z.number().positive(),
    viewChangeTimeoutMs: z.number().positive(),
    catchUpMs: z.number().positive(),
  })
  .partial()
  .strict();

const clusterSchema = z
  .object({
    format: z.literal(1),
    replicas: z.array(replicaSchema).min(1).max(1000),
    clients: z.array(clientSchema).max(clientIdBase / clientSessionsMax),
    pbft: pbftOptionsSchema.default({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    c.replicas.forEach((r, i) => {
      if (r.id !== i) ctx.addIssue({ code: "custom", message: `replicas[${i}] must have id ${i}` });
    });
    const names = new Set<string>();
    for (const cl of c.clients) {
      if (names.has(cl.name)) ctx.addIssue({ code: "custom", message: `client name ${cl.name} repeated` });
      names.add(cl.name);
    }
  });

export type ReplicaEntry = z.output<typeof replicaSchema>;
export type ClientEntry = z.output<typeof clientSchema>;

export interface ClusterConfig {
  path: string;
  replicas: ReplicaEntry[];
  clients: ClientEntry[];
  pbft: PbftOptions;
  /** Raw Ed25519 public key (base64) → identity id. */
  byPublicKey: Map<string, number>;
}

export function parseCluster(text: string, path: string): ClusterConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new PhalanxError("BAD_CONFIG", `${path} is not valid JSON: ${(e as Error).message}`);
  }
  const parsed = clusterSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(top)"}: ${i.message}`);
    throw new PhalanxError(
      "BAD_CONFIG",
      `${path} is not a valid cluster configuration: ${issues.join("; ")}`,
    );
  }
  const c = parsed.data;
  const byPublicKey = new Map<string, number>();
  for (const r of c.replicas) byPublicKey.set(b64(r.publicKey), r.id);
  c.clients.forEach((cl, k) => {
    byPublicKey.set(b64(cl.publicKey), clientIdentity(k));
  });
  if (byPublicKey.size !== c.replicas.length + c.clients.length) {
    throw new PhalanxError("BAD_CONFIG", `${path}: two nodes have the same public key`);
  }
  return {
    path,
    replicas: c.replicas,
    clients: c.clients,
    pbft: { ...defaultPbftOptions, ...c.pbft },
    byPublicKey,
  };
}

export function loadCluster(path: string): ClusterConfig {
  if (!existsSync(path)) {
    throw new PhalanxError(
      "BAD_CONFIG",
      `no cluster configuration at ${path}: run \`phalanx init\` (or \`phalanx up\`, which runs it) first, or pass --config`,
    );
  }
  return parseCluster(readFileSync(path, "utf8"), path);
}

export const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");

// ------------------------------------------------------------------ keys

export interface NodeKeys {
  /** Identity id (replica id, or a client's base id). */
  id: number;
  signPrivate: KeyObject;
  signPublic: KeyObject;
  dhPrivate: KeyObject;
  dhPublic: KeyObject;
}

interface KeyFile {
  format: 1;
  kind: "replica" | "client";
  /** Replica id, or client index k. */
  index: number;
  signPrivateKey: string;
  dhPrivateKey: string;
}

export function rawPublic(key: KeyObject): Uint8Array {
  const jwk = key.export({ format: "jwk" });
  return new Uint8Array(Buffer.from(jwk.x as string, "base64url"));
}

export function generateNodeKeys(id: number): NodeKeys {
  const s = generateKeyPairSync("ed25519");
  const d = generateKeyPairSync("x25519");
  return {
    id,
    signPrivate: s.privateKey,
    signPublic: s.publicKey,
    dhPrivate: d.privateKey,
    dhPublic: d.publicKey,
  };
}

export function writeKeyFile(path: string, kind: "replica" | "client", index: number, keys: NodeKeys): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const file: KeyFile = {
    format: 1,
    kind,
    index,
    signPrivateKey: keys.signPrivate.export({ format: "pem", type: "pkcs8" }) as string,
    dhPrivateKey: keys.dhPrivate.export({ format: "pem", type: "pkcs8" }) as string,
  };
  writeFileSync(path, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
}

export function readKeyFile(path: string, cluster: ClusterConfig): NodeKeys {
  if (!existsSync(path)) {
    throw new PhalanxError("BAD_CONFIG", `no key file at ${path}: it is written by \`phalanx init\``);
  }
  let file: KeyFile;
  let keys: NodeKeys;
  try {
    file = JSON.parse(readFileSync(path, "utf8")) as KeyFile;
    const signPrivate = createPrivateKey(file.signPrivateKey);
    const dhPrivate = createPrivateKey(file.dhPrivateKey);
    const id = file.kind === "replica" ? file.index : clientIdentity(file.index);
    keys = {
      id,
      signPrivate,
      signPublic: createPublicKey(signPrivate),
      dhPrivate,
      dhPublic: createPublicKey(dhPrivate),
    };
  } catch (e) {
    throw new PhalanxError("BAD_CONFIG", `${path} is not a valid key file: ${(e as Error).message}`);
  }
  const listed = cluster.byPublicKey.get(b64(rawPublic(keys.signPublic)));
  if (listed !== keys.id) {
    throw new PhalanxError(
      "BAD_CONFIG",
      `the key in ${path} is not the one ${cluster.path} lists for ${file.kind} ${file.index}: the key file and the configuration come from different \`phalanx init\` runs`,
    );
  }
  return keys;
}

// ------------------------------------------------------------------ pairwise MAC keys

/** The MAC secret of this node and identity `peer`: HKDF-SHA256 over their X25519 shared secret. */
export function pairMacSecret(keys: NodeKeys, cluster: ClusterConfig, peer: number): Uint8Array | undefined {
  const dh = dhPublicOf(cluster, peer);
  if (dh === undefined) return undefined;
  const shared = diffieHellman({ privateKey: keys.dhPrivate, publicKey: publicKeyObject(dh, "X25519") });
  const lo = Math.min(keys.id, peer);
  const hi = Math.max(keys.id, peer);
  return new Uint8Array(hkdfSync("sha256", shared, "phalanx-mac-v1", `${lo}/${hi}`, 32));
}

export function dhPublicOf(cluster: ClusterConfig, identity: number): Uint8Array | undefined {
  if (identity < clientIdBase) return cluster.replicas[identity]?.dhPublicKey;
  const k = (identity - clientIdBase) / clientSessionsMax;
  return Number.isInteger(k) ? cluster.clients[k]?.dhPublicKey : undefined;
}

export function signPublicOf(cluster: ClusterConfig, identity: number): Uint8Array | undefined {
  if (identity < clientIdBase) return cluster.replicas[identity]?.publicKey;
  const k = (identity - clientIdBase) / clientSessionsMax;
  return Number.isInteger(k) ? cluster.clients[k]?.publicKey : undefined;
}

// ------------------------------------------------------------------ init

export interface InitOptions {
  dir: string;
  replicas: number;
  clients: number;
  host: string;
  basePort: number;
  force: boolean;
}

export const clusterPath = (dir: string) => join(dir, "cluster.json");
export const replicaKeyPath = (dir: string, id: number) => join(dir, "keys", `replica-${id}.json`);
export const clientKeyPath = (dir: string, k: number) => join(dir, "keys", `client-${k}.json`);
export const replicaDataPath = (dir: string, id: number) => join(dir, `replica-${id}`);

/**
 * Writes a fresh configuration and key files for `replicas` replicas and `clients` clients.
 * Replica i listens for peers on basePort + 2i and for HTTP on basePort + 2i + 1.
 */
export function initCluster(o: InitOptions): string {
  const path = clusterPath(o.dir);
  if (existsSync(path) && !o.force) {
    throw new PhalanxError(
      "BAD_ARGUMENT",
      `${resolve(path)} exists: pass --force to replace it (the old keys and data stop working)`,
    );
  }
  if (o.replicas < 1 || o.replicas > 100) throw new PhalanxError("BAD_ARGUMENT", "--replicas must be 1..100");
  if (o.clients < 1 || o.clients > 900) throw new PhalanxError("BAD_ARGUMENT", "--clients must be 1..900");
  if (o.basePort < 1 || o.basePort + 2 * o.replicas > 65535) {
    throw new PhalanxError("BAD_ARGUMENT", `--port ${o.basePort} leaves no room for ${o.replicas} replicas`);
  }
  mkdirSync(o.dir, { recursive: true });
  const replicas = [];
  for (let i = 0; i < o.replicas; i++) {
    const keys = generateNodeKeys(i);
    writeKeyFile(replicaKeyPath(o.dir, i), "replica", i, keys);
    replicas.push({
      id: i,
      host: o.host,
      port: o.basePort + 2 * i,
      httpPort: o.basePort + 2 * i + 1,
      publicKey: b64(rawPublic(keys.signPublic)),
      dhPublicKey: b64(rawPublic(keys.dhPublic)),
    });
  }
  const clients = [];
  for (let k = 0; k < o.clients; k++) {
    const keys = generateNodeKeys(clientIdentity(k));
    writeKeyFile(clientKeyPath(o.dir, k), "client", k, keys);
    clients.push({
      name: `client-${k}`,
      publicKey: b64(rawPublic(keys.signPublic)),
      dhPublicKey: b64(rawPublic(keys.dhPublic)),
    });
  }
  const config = { format: 1, replicas, clients, pbft: {} };
  writeFileSync(path, `${JSON.stringify(config, null, 2)}\n`);
  return path;
}

export function publicKeyObject(raw: Uint8Array, crv: "Ed25519" | "X25519"): KeyObject {
  return createPublicKey({
    key: { kty: "OKP", crv, x: Buffer.from(raw).toString("base64url") },
    format: "jwk",
  });
}

export type { NodeId };
