import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";

export interface RunningEmulator {
  /** `http://127.0.0.1:PORT`, for `apiEndpoint`. */
  endpoint: string;
  stop(): Promise<void>;
}

/**
 * Starts firebase-tools' storage emulator in a child process (gcs-emulator.mjs) on a free
 * loopback port. A child rather than this process so that the emulator, which buffers whole
 * upload bodies, does not count in the memory the large-upload test measures.
 */
export async function startGcsEmulator(): Promise<RunningEmulator> {
  const script = fileURLToPath(new URL("./gcs-emulator.mjs", import.meta.url));
  const child: ChildProcess = spawn(process.execPath, [script], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr = (stderr + String(d)).slice(-4000);
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`GCS emulator did not start in 30 s: ${stderr}`)), 30_000);
    child.stdout?.on("data", (d: Buffer) => {
      out += String(d);
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (line) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { port: number }).port);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`GCS emulator exited with ${code}: ${stderr}`));
    });
  });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
