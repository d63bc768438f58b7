import { setTimeout as sleep } from "node:timers/promises";
import { redactSecrets, StrongboxError, type StrongboxErrorCode } from "@strongbox/core";
import { Agent, type Dispatcher, request } from "undici";
import type { QdrantOptions } from "./options.js";

export const ADAPTER = "qdrant";

/** Statuses worth another attempt: the server or a proxy in front of it is momentarily unwell. */
const TRANSIENT_STATUS = new Set([500, 502, 503, 504]);
/** Network failures worth another attempt (undici codes and Node socket errors). */
const TRANSIENT_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_CLOSED",
]);

export interface CallOptions {
  method: "GET" | "POST" | "PUT" | "DELETE";
  path: string;
  query?: Record<string, string | undefined>;
  json?: unknown;
  signal: AbortSignal;
  /** Use the long snapshot timeout instead of the ordinary one. */
  long?: boolean;
  /** Statuses that are answers, not failures (e.g. 404 when probing a collection). */
  accept?: number[];
  /** Return the whole JSON body instead of its `result` (`GET /` has no envelope). */
  raw?: boolean;
}

export interface StreamRequest {
  path: string;
  query?: Record<string, string | undefined>;
  signal: AbortSignal;
}

/**
 * The REST transport: undici with the API key, TLS, timeouts and bounded retries. JSON calls are
 * buffered (they are small); snapshot bodies are streamed both ways and never retried once a
 * byte has been handed on.
 */
export class QdrantHttp {
  readonly base: URL;
  /** Host and port, for messages (no credentials, no path). */
  readonly where: string;
  readonly #headers: Record<string, string>;
  readonly #dispatcher: Dispatcher;
  readonly #ownDispatcher: boolean;
  readonly #timeoutMs: number;
  readonly #longTimeoutMs: number;
  readonly #retries: number;
  readonly #retryDelayMs: number;

  constructor(options: QdrantOptions) {
    let base: URL;
    try {
      base = new URL(options.url);
    } catch {
      throw new StrongboxError("E_CONFIG", `qdrant() "url" is not a URL: ${redactSecrets(String(options.url))}`, {
        adapter: ADAPTER,
      });
    }
    if (base.protocol !== "http:" && base.protocol !== "https:")
      throw new StrongboxError("E_CONFIG", `qdrant() "url" must start with http:// or https://`, { adapter: ADAPTER });
    if (!base.pathname.endsWith("/")) base.pathname += "/";
    base.username = "";
    base.password = "";
    this.base = base;
    this.where = base.host;
    this.#headers = { ...options.headers, ...(options.apiKey ? { "api-key": options.apiKey } : {}) };
    this.#timeoutMs = options.timeoutMs ?? 60_000;
    this.#longTimeoutMs = options.snapshotTimeoutMs ?? 3_600_000;
    this.#retries = Math.max(0, options.retries ?? 3);
    this.#retryDelayMs = Math.max(0, options.retryDelayMs ?? 500);
    this.#ownDispatcher = options.dispatcher === undefined;
    this.#dispatcher =
      options.dispatcher ??
      new Agent({
        ...(options.tls ? { connect: { ...options.tls } } : {}),
        keepAliveTimeout: 4_000,
      });
  }

  url(path: string, query?: Record<string, string | undefined>): URL {
    const u = new URL(path.replace(/^\//, ""), this.base);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) u.searchParams.set(k, v);
    return u;
  }

  /** A JSON call; resolves with Qdrant's `result` (or `undefined` for an accepted status). */
  async call<T>(opts: CallOptions): Promise<{ status: number; result: T | undefined }> {
    const what = `${opts.method} ${opts.path}`;
    return this.#withRetries(what, opts.signal, async () => {
      const timeout = opts.long ? this.#longTimeoutMs : this.#timeoutMs;
      const res = await request(this.url(opts.path, opts.query), {
        method: opts.method,
        headers: {
          ...this.#headers,
          accept: "application/json",
          ...(opts.json !== undefined ? { "content-type": "application/json" } : {}),
        },
        ...(opts.json !== undefined ? { body: JSON.stringify(opts.json) } : {}),
        signal: opts.signal,
        dispatcher: this.#dispatcher,
        headersTimeout: timeout,
        bodyTimeout: this.#timeoutMs,
      });
      const text = await res.body.text();
      if (res.statusCode >= 200 && res.statusCode < 300) {
        const parsed = text ? (JSON.parse(text) as { result?: T }) : {};
        return { status: res.statusCode, result: opts.raw ? (parsed as T) : parsed.result };
      }
      if (opts.accept?.includes(res.statusCode)) return { status: res.statusCode, result: undefined };
      throw httpError(res.statusCode, text, what, this.where);
    });
  }

  /** Starts a streamed download; resolves once the status is 2xx (retrying before any byte was read). */
  async download(req: StreamRequest): Promise<{ body: Dispatcher.ResponseData["body"]; length?: number }> {
    const what = `GET ${req.path}`;
    return this.#withRetries(what, req.signal, async () => {
      const res = await request(this.url(req.path, req.query), {
        method: "GET",
        headers: { ...this.#headers, accept: "application/octet-stream" },
        signal: req.signal,
        dispatcher: this.#dispatcher,
        headersTimeout: this.#longTimeoutMs,
        bodyTimeout: this.#longTimeoutMs,
      });
      if (res.statusCode !== 200) {
        const text = await res.body.text().catch(() => "");
        throw httpError(res.statusCode, text, what, this.where);
      }
      const len = Number(res.headers["content-length"]);
      return { body: res.body, ...(Number.isFinite(len) ? { length: len } : {}) };
    });
  }

  /**
   * Sends a streamed body once (no retry: the stream cannot be replayed) and returns Qdrant's
   * `result`. The caller's stream errors abort the request, so the server never sees a whole file.
   */
  async upload<T>(
    req: StreamRequest & { body: NodeJS.ReadableStream; headers: Record<string, string> },
  ): Promise<T | undefined> {
    const what = `POST ${req.path}`;
    try {
      const res = await request(this.url(req.path, req.query), {
        method: "POST",
        headers: { ...this.#headers, accept: "application/json", ...req.headers },
        body: req.body as import("node:stream").Readable,
        signal: req.signal,
        dispatcher: this.#dispatcher,
        headersTimeout: this.#longTimeoutMs,
        bodyTimeout: this.#timeoutMs,
      });
      const text = await res.body.text();
      if (res.statusCode >= 200 && res.statusCode < 300) {
        return text ? (JSON.parse(text) as { result?: T }).result : undefined;
      }
      throw httpError(res.statusCode, text, what, this.where);
    } catch (err) {
      throw toStrongbox(err, what, this.where, req.signal);
    }
  }

  async close(): Promise<void> {
    if (this.#ownDispatcher) await this.#dispatcher.close();
  }

  async #withRetries<T>(what: string, signal: AbortSignal, attempt: () => Promise<T>): Promise<T> {
    for (let n = 0; ; n++) {
      try {
        return await attempt();
      } catch (err) {
        const e = toStrongbox(err, what, this.where, signal);
        if (n >= this.#retries || !isTransient(err) || signal.aborted) throw e;
        // Exponential backoff with jitter, so many clients do not retry in lockstep.
        const delay = this.#retryDelayMs * 2 ** n * (0.5 + Math.random() / 2);
        await sleep(delay, undefined, { signal }).catch(() => undefined);
        if (signal.aborted) throw toStrongbox(signal.reason, what, this.where, signal);
      }
    }
  }
}

/** Qdrant's error bodies are `{ status: { error } }`; the API-key guard answers in plain text. */
function errorText(body: string): string {
  try {
    const parsed = JSON.parse(body) as { status?: { error?: string } | string };
    if (typeof parsed.status === "object" && parsed.status?.error) return parsed.status.error;
  } catch {
    // not JSON: use the text as it is
  }
  return body.trim().slice(0, 500);
}

export class HttpStatusError extends Error {
  constructor(
    readonly statusCode: number,
    readonly serverText: string,
    message: string,
  ) {
    super(message);
  }
}

function httpError(status: number, body: string, what: string, where: string): Error {
  const text = errorText(body);
  return new HttpStatusError(status, text, `${what} on ${where} answered HTTP ${status}${text ? `: ${text}` : ""}`);
}

function isTransient(err: unknown): boolean {
  if (err instanceof HttpStatusError) return TRANSIENT_STATUS.has(err.statusCode);
  const code = (err as { code?: string } | undefined)?.code;
  const causeCode = (err as { cause?: { code?: string } } | undefined)?.cause?.code;
  return TRANSIENT_CODES.has(code ?? "") || TRANSIENT_CODES.has(causeCode ?? "");
}

/** Maps any transport failure to a StrongboxError with a hint; messages are redacted by StrongboxError. */
export function toStrongbox(err: unknown, what: string, where: string, signal?: AbortSignal): StrongboxError {
  if (err instanceof StrongboxError) return err;
  if (signal?.aborted)
    return new StrongboxError("E_ABORTED", `${what}: aborted`, { adapter: ADAPTER, cause: signal.reason });
  if (err instanceof HttpStatusError) {
    const details = { status: err.statusCode };
    if (err.statusCode === 401 || err.statusCode === 403)
      return new StrongboxError(
        "E_SOURCE",
        `Qdrant on ${where} refused the request (HTTP ${err.statusCode}): check apiKey${err.serverText ? ` (${err.serverText})` : ""}`,
        { adapter: ADAPTER, details },
      );
    const code: StrongboxErrorCode = err.statusCode === 404 ? "E_NOT_FOUND" : "E_SOURCE";
    return new StrongboxError(code, err.message, { adapter: ADAPTER, details });
  }
  const e = err as { message?: string; code?: string; cause?: { message?: string; code?: string } };
  const code = e?.code ?? e?.cause?.code;
  const message = e?.cause?.message && e.message === "fetch failed" ? e.cause.message : e?.message;
  return new StrongboxError(
    "E_SOURCE",
    `${what} on ${where} failed${code ? ` (${code})` : ""}: ${message ?? String(err)}; is Qdrant reachable at that address?`,
    { adapter: ADAPTER, cause: err },
  );
}
