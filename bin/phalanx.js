#!/usr/bin/env node
// Entry point of the `phalanx` command. Sources are TypeScript; tsx compiles them on load
// (and caches the result), so a fresh `npm ci` is enough to run the CLI.
import { register } from "tsx/esm/api";

register();
await import("../src/cli/main.ts");
