/**
 * Build of the trace viewer and dashboard (`phalanx ui` serves web/dist). Relative asset paths,
 * so the built files work from any mount point and need no internet at run time.
 */
import { defineConfig } from "vite";

export default defineConfig({
  root: import.meta.dirname,
  base: "./",
  logLevel: "warn",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    chunkSizeWarningLimit: 1000,
  },
});
