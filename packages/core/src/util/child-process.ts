import { type ChildProcess, spawn } from "node:child_process";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { redactSecrets, StrongboxError } from "../errors.js";

/**
 * Child processes for dump/restore tools (pg_dump, pg_restore, redis-cli, zstd).
 *
 * Secrets go through `env`, never `args` — argv is visible to every user of the machine in `ps`.
 * On abort the child gets SIGTERM, then SIGKILL after `killGraceMs`.
 */
export interface SpawnOptions {
  /** Adapter name for error messages. */
  adapter: string;
  /** Extra environment; merged over `process.env` unless `inheritEnv` is false. */
  env?: Record<string, string | undefined>;
  inheritEnv?: boolean;
  signal?: AbortSignal;
  cwd?: string;
  /** @default 2000 */
  killGraceMs?: number;
  /** How much stderr to keep for error messages. @default 16384 */
  stderrLimit?: number;
}

export interface ChildRun {
  child: ChildProcess;
  /** Resolves with (redacted) stderr when the child exits 0; rejects E_SOURCE / E_ABORTED otherwise. */
  exited: Promise<{ stderr: string }>;
}

function startChild(
  command: string[],
  stdio: ["pipe" | "ignore", "pipe" | "ignore", "pipe"],
  opts: SpawnOptions,
): ChildRun {
  const [cmd, ...args] = command;
  if (!cmd) throw new StrongboxError("E_CONFIG", "empty command", { adapter: opts.adapter });
  const env = opts.inheritEnv === false ? { ...opts.env } : { ...process.env, ...opts.env };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  const child = spawn(cmd, args, { stdio, env: env as NodeJS.ProcessEnv, cwd: opts.cwd });
  const limit = opts.stderrLimit ?? 16384;
  let stderr = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (d: string) => {
    stderr = (stderr + d).slice(-limit);
  });
  let killTimer: NodeJS.Timeout | undefined;
  const onAbort = () => {
    child.kill("SIGTERM");
    killTimer = setTimeout(() => child.kill("SIGKILL"), opts.killGraceMs ?? 2000);
    killTimer.unref();
  };
  if (opts.signal?.aborted) onAbort();
  else opts.signal?.addEventListener("abort", onAbort, { once: true });

  const exited = new Promise<{ stderr: string }>((resolve, reject) => {
    child.once("error", (err: NodeJS.ErrnoException) => {
      opts.signal?.removeEventListener("abort", onAbort);
      const hint = err.code === "ENOENT" ? ` (is "${cmd}" installed and on PATH?)` : "";
      reject(
        new StrongboxError("E_SOURCE", `could not start ${cmd}: ${err.message}${hint}`, {
          adapter: opts.adapter,
          cause: err,
        }),
      );
    });
    child.once("close", (code, sig) => {
      opts.signal?.removeEventListener("abort", onAbort);
      if (killTimer) clearTimeout(killTimer);
      const text = redactSecrets(stderr.trim());
      if (opts.signal?.aborted) {
        reject(
          new StrongboxError("E_ABORTED", `${cmd} stopped: aborted`, {
            adapter: opts.adapter,
            cause: opts.signal.reason,
          }),
        );
      } else if (code === 0) {
        resolve({ stderr: text });
      } else {
        const how = sig ? `was killed by ${sig}` : `exited with code ${code}`;
        reject(
          new StrongboxError("E_SOURCE", `${cmd} ${how}${text ? `: ${text}` : ""}`, {
            adapter: opts.adapter,
            details: { exitCode: code, signal: sig },
          }),
        );
      }
    });
  });
  // Nobody may be awaiting yet; avoid an unhandled rejection before they do.
  exited.catch(() => {});
  return { child, exited };
}

/**
 * Runs a producer (pg_dump, redis-cli --rdb) and returns its stdout as the artifact stream.
 * If the child fails while stdout is still open, the stream is destroyed with the error; if it
 * fails after stdout ended, `done()` rejects — wire it into `SourceArtifact.done`.
 */
export function spawnProducer(
  command: string[],
  opts: SpawnOptions,
): { stream: Readable; done: () => Promise<{ stderr: string }>; child: ChildProcess } {
  const { child, exited } = startChild(command, ["ignore", "pipe", "pipe"], opts);
  const stream = child.stdout as Readable;
  exited.catch((err: unknown) => {
    if (!stream.readableEnded) stream.destroy(err as Error);
  });
  // If the consumer goes away (pipeline failed elsewhere), stop the child too.
  stream.once("close", () => {
    if (child.exitCode === null && child.signalCode === null && !stream.readableEnded) child.kill("SIGTERM");
  });
  return { stream, done: () => exited, child };
}

/**
 * Runs a consumer (pg_restore, zstd -d) fed from `input`. Rejects with the input's own error
 * (e.g. E_INTEGRITY from a corrupt artifact) when the input fails — the child is killed first so
 * it never sees a clean end of input — or with E_SOURCE when the child fails.
 */
export async function runConsumer(
  command: string[],
  input: Readable,
  opts: SpawnOptions & { captureStdout?: boolean },
): Promise<{ stdout: string; stderr: string }> {
  const { child, exited } = startChild(command, ["pipe", opts.captureStdout ? "pipe" : "ignore", "pipe"], opts);
  let stdout = "";
  child.stdout?.setEncoding("utf8");
  child.stdout?.on("data", (d: string) => {
    stdout += d;
  });
  let inputError: unknown;
  const feeding = pipeline(input, child.stdin!).catch((err: unknown) => {
    // EPIPE and friends mean the child stopped reading: its own exit status tells why.
    const code = (err as { code?: string }).code;
    if (
      err instanceof StrongboxError ||
      !["EPIPE", "ERR_STREAM_PREMATURE_CLOSE", "ERR_STREAM_DESTROYED"].includes(code ?? "")
    )
      inputError = err;
    // Kill before stdin closes cleanly so the tool cannot mistake a cut stream for the end.
    child.kill("SIGKILL");
  });
  try {
    const [, result] = await Promise.all([feeding, exited]);
    if (inputError) throw inputError;
    return { stdout, stderr: result.stderr };
  } catch (err) {
    await feeding;
    throw inputError ?? err;
  }
}
