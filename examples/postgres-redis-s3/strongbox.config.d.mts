// Types of strongbox.config.mjs, for src/backup.ts (the config itself stays plain JavaScript so the
// CLI and Node read it without a build step).
import type { HealthOptions, StrongboxOptions } from "@strongbox/core";

declare const config: StrongboxOptions & { health?: HealthOptions };
export default config;
