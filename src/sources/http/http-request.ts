/** Transport for `HttpToolSource`: one retry before any response, bounded bodies, readable failures. */
import { setTimeout as sleep } from "node:timers/promises";

/** Statuses a proxy or a restarting server sends before the tool ran (or with an idempotency key to dedupe). */
const RETRY_STATUSES: ReadonlySet<number> = new Set([502, 503]);
const RETRY_DELAY_MS = 200;
/** Longer delays overflow Node's timers and fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Why a request stopped without an HTTP answer. */
export type RequestFailure =
  | { kind: "aborted"; reason: unknown }
  | { kind: "network"; message: string }
  | { kind: "too_large"; limit: number };

export class RequestFailed extends Error {
  override readonly name = "RequestFailed";
  constructor(readonly failure: RequestFailure) {
    super(failure.kind);
  }
}

/** The root cause of undici's generic "fetch failed": `ECONNREFUSED 127.0.0.1:9`, `other side closed`. */
function networkMessage(error: unknown): string {
  let current: unknown = error;
  let message = error instanceof Error ? error.message : String(error);
  for (let depth = 0; depth < 4 && current instanceof Error && current.cause !== undefined; depth++) {
    current = current.cause;
    if (current instanceof Error) {
      const code = (current as Error & { code?: unknown }).code;
      message =
        typeof code === "string" && !current.message.includes(code) ? `${code} ${current.message}` : current.message;
    }
  }
  return message;
}

/**
 * `fetch` with the protocol's retry: once, after a short pause, when the connection failed before any
 * response or the answer was 502/503. The caller sends an idempotency key, so a request that did reach
 * the server is deduped there. Redirects are returned, not followed (they would drop or leak the token).
 */
export async function sendWithRetry(url: URL, init: RequestInit, signal: AbortSignal): Promise<Response> {
  for (let attempt = 0; ; attempt++) {
    let response: Response;
    try {
      response = await fetch(url, { ...init, signal, redirect: "manual" });
    } catch (error) {
      if (signal.aborted) throw new RequestFailed({ kind: "aborted", reason: signal.reason });
      if (attempt > 0) throw new RequestFailed({ kind: "network", message: networkMessage(error) });
      await pause(signal);
      continue;
    }
    if (attempt === 0 && RETRY_STATUSES.has(response.status)) {
      await response.body?.cancel().catch(() => undefined);
      await pause(signal);
      continue;
    }
    return response;
  }
}

async function pause(signal: AbortSignal): Promise<void> {
  try {
    await sleep(RETRY_DELAY_MS, undefined, { signal });
  } catch {
    throw new RequestFailed({ kind: "aborted", reason: signal.reason });
  }
}

/** The body as text, refusing more than `limit` bytes (declared or streamed) before buffering it. */
export async function readLimitedText(response: Response, limit: number, signal: AbortSignal): Promise<string> {
  const declared = Number(response.headers.get("content-length") ?? Number.NaN);
  if (declared > limit) {
    await response.body?.cancel().catch(() => undefined);
    throw new RequestFailed({ kind: "too_large", limit });
  }
  if (!response.body) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel().catch(() => undefined);
        throw new RequestFailed({ kind: "too_large", limit });
      }
      chunks.push(value);
    }
  } catch (error) {
    if (error instanceof RequestFailed) throw error;
    if (signal.aborted) throw new RequestFailed({ kind: "aborted", reason: signal.reason });
    throw new RequestFailed({ kind: "network", message: `the response broke off: ${networkMessage(error)}` });
  }
  return Buffer.concat(chunks).toString("utf8");
}

export type ParsedBody = { ok: true; value: unknown } | { ok: false; excerpt: string };

export function parseJsonBody(text: string): ParsedBody {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    // An HTML error page from a proxy: its first line is usually enough to tell what happened.
    const line = text.trim().split("\n", 1)[0] ?? "";
    return { ok: false, excerpt: line.length > 120 ? `${line.slice(0, 120)}…` : line };
  }
}

/** Where a request went, for messages: no query string or credentials. */
export function displayUrl(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

export interface LinkedAbort {
  readonly signal: AbortSignal;
  /** True when the timeout, not one of the linked signals, ended the request. */
  timedOut(): boolean;
  /** Unlinks from the linked signals, so a long-lived one (the source's) keeps no reference to this request. */
  dispose(): void;
}

/** Aborts after `timeoutMs` or when any linked signal aborts (with that signal's reason). */
export function linkAbort(timeoutMs: number, signals: readonly (AbortSignal | undefined)[]): LinkedAbort {
  const controller = new AbortController();
  let expired = false;
  const timer = setTimeout(
    () => {
      expired = true;
      controller.abort(new Error(`timed out after ${timeoutMs} ms`));
    },
    Math.min(timeoutMs, MAX_TIMER_MS),
  );
  const unlinks: Array<() => void> = [];
  for (const signal of signals) {
    if (!signal) continue;
    if (signal.aborted) {
      controller.abort(signal.reason);
      break;
    }
    const onAbort = () => controller.abort(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    unlinks.push(() => signal.removeEventListener("abort", onAbort));
  }
  return {
    signal: controller.signal,
    timedOut: () => expired,
    dispose() {
      clearTimeout(timer);
      for (const unlink of unlinks) unlink();
    },
  };
}
