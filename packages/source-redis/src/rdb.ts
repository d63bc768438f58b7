import { Transform, type TransformCallback } from "node:stream";
import { StrongboxError } from "@strongbox/core";
import type { RedisOptions as IORedisOptions } from "ioredis";

const ADAPTER = "redis";
const MARKER = 40;
/** RDB ends with opcode 0xFF and an 8-byte CRC64; the marker, when present, comes after. */
const TAIL = MARKER + 9;

/**
 * Removes the 40-byte EOF marker that `redis-cli --rdb -` (7.0) copies to stdout after the RDB
 * when the server streams it diskless (`$EOF:<40 hex chars>` framing), and checks the RDB magic.
 *
 * Streaming: everything is passed through except the last 49 bytes, held back until the end. The
 * marker is recognised without ambiguity: a real RDB's last 9 bytes are 0xFF + checksum, so its last
 * 40 bytes contain the 0xFF and can never all be hex digits, while a marker is 40 hex digits preceded
 * by the RDB's own 0xFF + checksum.
 */
export class RdbEofStripper extends Transform {
  private held: Buffer = Buffer.alloc(0);
  private seen = 0;
  private magicChecked = false;
  /** True once the marker was found and dropped (for the artifact's meta). */
  stripped = false;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.seen += chunk.length;
    const all = this.held.length ? Buffer.concat([this.held, chunk]) : chunk;
    if (!this.magicChecked && all.length >= 5) {
      this.magicChecked = true;
      if (all.subarray(0, 5).toString("latin1") !== "REDIS") {
        cb(
          new StrongboxError("E_SOURCE", "redis-cli --rdb did not produce an RDB file (no REDIS magic)", {
            adapter: ADAPTER,
          }),
        );
        return;
      }
    }
    if (all.length <= TAIL) {
      this.held = all;
      cb();
      return;
    }
    this.held = Buffer.from(all.subarray(all.length - TAIL));
    cb(null, all.subarray(0, all.length - TAIL));
  }

  override _flush(cb: TransformCallback): void {
    const t = this.held;
    if (!this.magicChecked || this.seen < 9 + 9) {
      cb(
        new StrongboxError("E_SOURCE", `redis-cli --rdb produced ${this.seen} bytes, too short to be an RDB file`, {
          adapter: ADAPTER,
        }),
      );
      return;
    }
    if (t.length === TAIL && t[0] === 0xff && /^[0-9a-f]{40}$/i.test(t.subarray(9).toString("latin1"))) {
      this.stripped = true;
      cb(null, t.subarray(0, 9));
      return;
    }
    cb(null, t);
  }
}

export interface CliTarget {
  args: string[];
  env: Record<string, string>;
}

/** redis-cli connection arguments; the password goes through REDISCLI_AUTH, never argv. */
export function cliConnection(url: string | undefined, options: IORedisOptions | undefined): CliTarget {
  const args: string[] = [];
  const env: Record<string, string> = {};
  if (options?.sentinels?.length) {
    throw new StrongboxError(
      "E_CONFIG",
      'mode "rdb" needs a direct connection: Sentinel is not supported, give the master\'s url',
      { adapter: ADAPTER },
    );
  }
  if (url) {
    const u = new URL(url);
    args.push("-h", u.hostname.replace(/^\[|\]$/g, ""), "-p", u.port || "6379");
    if (u.username) args.push("--user", decodeURIComponent(u.username));
    if (u.password) env.REDISCLI_AUTH = decodeURIComponent(u.password);
    if (u.protocol === "rediss:") args.push("--tls");
  }
  if (options) {
    if (options.path) args.push("-s", options.path);
    else if (!url) args.push("-h", options.host ?? "127.0.0.1", "-p", String(options.port ?? 6379));
    if (options.username) args.push("--user", options.username);
    if (options.password) env.REDISCLI_AUTH = options.password;
    if (options.tls && !args.includes("--tls")) args.push("--tls");
  }
  if (!url && !options) args.push("-h", "127.0.0.1", "-p", "6379");
  return { args, env };
}
