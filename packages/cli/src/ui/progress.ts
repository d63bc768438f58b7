import type { ProgressUpdate, Strongbox } from "@strongbox/core";
import cliProgress from "cli-progress";
import { formatBytes, formatDuration } from "./format.js";
import type { Ui } from "./output.js";

interface ComponentState {
  phase: string;
  artifacts: Map<string, { bytes: number; total?: number }>;
  startedAt: number;
  lastLine: number;
  lastText?: string;
  bar?: cliProgress.SingleBar;
}

/** How often a plain (non-TTY) progress line is written per component. */
const LINE_INTERVAL_MS = 2000;

/**
 * Renders the manager's `progress` events: one bar per component with bytes, rate and ETA when
 * stderr is a terminal; timestamped lines (at most one per component every 2 s) when it is not;
 * nothing with --quiet or --json.
 */
export class ProgressView {
  readonly #ui: Ui;
  readonly #components = new Map<string, ComponentState>();
  #multibar: cliProgress.MultiBar | undefined;
  #detach: (() => void) | undefined;

  constructor(ui: Ui) {
    this.#ui = ui;
  }

  /** Starts listening to a manager's progress events. */
  attach(box: Strongbox): this {
    if (!this.#ui.chatty) return this;
    const listener = (u: ProgressUpdate) => this.update(u);
    box.on("progress", listener);
    this.#detach = () => box.off("progress", listener);
    return this;
  }

  update(u: ProgressUpdate): void {
    if (!this.#ui.chatty) return;
    const now = Date.now();
    let state = this.#components.get(u.component);
    if (!state) {
      state = { phase: u.phase, artifacts: new Map(), startedAt: now, lastLine: 0 };
      this.#components.set(u.component, state);
    }
    state.phase = u.phase;
    state.artifacts.set(u.artifact ?? "", {
      bytes: u.bytes,
      ...(u.totalBytes !== undefined ? { total: u.totalBytes } : {}),
    });
    const { bytes, total } = totals(state);
    const elapsed = Math.max(1, now - state.startedAt);
    const rate = (bytes / elapsed) * 1000;
    if (this.#ui.interactive) this.#draw(u.component, state, bytes, total, rate);
    else if (now - state.lastLine >= LINE_INTERVAL_MS || (total !== undefined && bytes >= total)) {
      state.lastLine = now;
      state.lastText = describe(u.phase, u.component, bytes, total, rate);
      this.#ui.streams.stderr.write(`${new Date(now).toISOString()} ${state.lastText}\n`);
    }
  }

  #draw(component: string, state: ComponentState, bytes: number, total: number | undefined, rate: number): void {
    if (!this.#multibar) {
      this.#multibar = new cliProgress.MultiBar(
        {
          stream: this.#ui.streams.stderr as NodeJS.WriteStream,
          hideCursor: true,
          clearOnComplete: false,
          stopOnComplete: false,
          forceRedraw: true,
          fps: 8,
          barsize: 24,
          format: (options, params, payload: { text: string; known: boolean }) => {
            const bar = payload.known
              ? cliProgress.Format.BarFormat(params.progress, options)
              : " ".repeat(options.barsize ?? 24);
            return `${bar} ${payload.text}`;
          },
        },
        cliProgress.Presets.shades_classic,
      );
    }
    const text = describe(state.phase, component, bytes, total, rate);
    const payload = { text, known: total !== undefined && total > 0 };
    if (!state.bar) state.bar = this.#multibar.create(total ?? 1, Math.min(bytes, total ?? 0), payload);
    else {
      if (total !== undefined) state.bar.setTotal(Math.max(total, 1));
      state.bar.update(total !== undefined ? Math.min(bytes, total) : 0, payload);
    }
  }

  /**
   * Marks every component finished (the operation succeeded): bars with a known total are drawn
   * full, and plain output gets each component's final line. Core throttles progress events, so
   * the last one seen may be short of the end.
   */
  done(): void {
    if (!this.#ui.chatty) return;
    const now = Date.now();
    for (const [component, state] of this.#components) {
      const { bytes, total } = totals(state);
      const final = total ?? bytes;
      const rate = (final / Math.max(1, now - state.startedAt)) * 1000;
      const text = describe(state.phase, component, final, total, rate);
      if (state.bar)
        state.bar.update(total !== undefined ? final : 0, { text, known: total !== undefined && total > 0 });
      else if (!this.#ui.interactive && state.lastText !== text)
        this.#ui.streams.stderr.write(`${new Date(now).toISOString()} ${text}\n`);
    }
    this.stop();
  }

  /** Stops drawing (bars stay on screen) and detaches from the manager. */
  stop(): void {
    this.#detach?.();
    this.#detach = undefined;
    this.#multibar?.stop();
    this.#multibar = undefined;
  }
}

function totals(state: ComponentState): { bytes: number; total: number | undefined } {
  let bytes = 0;
  let total: number | undefined = 0;
  for (const a of state.artifacts.values()) {
    bytes += a.bytes;
    total = total === undefined || a.total === undefined ? undefined : total + a.total;
  }
  return { bytes, total };
}

/** `backup postgres: 12.3 MiB of 40 MiB (31%), 4.1 MiB/s, ETA 7s` */
export function describe(phase: string, component: string, bytes: number, total: number | undefined, rate: number) {
  const parts = [`${phase} ${component}: ${formatBytes(bytes)}`];
  if (total !== undefined && total > 0) {
    parts[0] += ` of ${formatBytes(total)} (${Math.min(100, Math.floor((bytes / total) * 100))}%)`;
  }
  parts.push(`${formatBytes(rate)}/s`);
  if (total !== undefined && rate > 0 && bytes < total)
    parts.push(`ETA ${formatDuration(((total - bytes) / rate) * 1000)}`);
  return parts.join(", ");
}
