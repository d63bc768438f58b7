import { defineConfig } from "tsup";

export default defineConfig([
  {
    // The library part: defineConfig() and the config types, for strongbox.config.ts files.
    entry: ["src/index.ts"],
    format: ["esm", "cjs"],
    dts: true,
    clean: true,
    sourcemap: true,
    target: "node22",
  },
  {
    // The `strongbox` binary. Adapters are imported lazily by name at run time, never bundled.
    entry: ["src/bin.ts"],
    format: ["esm"],
    dts: false,
    clean: false,
    sourcemap: true,
    target: "node22",
    banner: { js: "#!/usr/bin/env node" },
  },
]);
