export * from "./strategies.ts";
export type { Adversary, AdversaryApi } from "./types.ts";
