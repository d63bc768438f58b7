import { createStrongbox, type Strongbox } from "@strongbox/core";
import { buildOptions } from "./config/build.js";
import { type LoadedConfig, loadConfig } from "./config/load.js";
import type { GlobalOptions, Ui } from "./ui/output.js";

export interface Session {
  box: Strongbox;
  loaded: LoadedConfig;
}

/**
 * Loads the config and opens a manager for one command, closing it (and the connections its
 * adapters opened) afterwards whatever happens. `decrypt` reads identityFile / passphraseEnv.
 */
export async function withBox<T>(
  globals: GlobalOptions,
  ui: Ui,
  options: { decrypt?: boolean },
  fn: (session: Session) => Promise<T>,
): Promise<T> {
  const loaded = await loadConfig(globals.config);
  const strongboxOptions = await buildOptions(loaded, {
    decrypt: options.decrypt ?? false,
    ...(ui.quiet ? { logLevel: "error" as const } : {}),
  });
  const box = createStrongbox(strongboxOptions);
  box.on("warning", (w) => ui.warn(w.component ? `[${w.component}] ${w.message}` : w.message));
  try {
    return await fn({ box, loaded });
  } finally {
    await box.close();
  }
}

/** An AbortSignal fired by Ctrl-C / SIGTERM, so work in flight stops cleanly (streams, child processes). */
export function interruptSignal(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(130); // second Ctrl-C: leave at once
    controller.abort(new Error(`interrupted by ${name}`));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return {
    signal: controller.signal,
    dispose() {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
  };
}
