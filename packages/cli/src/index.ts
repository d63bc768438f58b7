/**
 * @strongbox/cli — the `strongbox` command. This entry point exports what config files use:
 *
 *   // strongbox.config.ts
 *   import { defineConfig } from "@strongbox/cli";
 *   export default defineConfig({ sources: [...], storage: { type: "local", directory: "./backups" } });
 */
export type {
  HealthConfig,
  NotifierSpec,
  ScheduleConfig,
  SourceSpec,
  StorageSpec,
  StrongboxConfig,
  TransformSpec,
} from "./config/types.js";
export { defineConfig } from "./config/types.js";
export { EXIT } from "./exit-codes.js";
