/**
 * Transport for `HttpToolSource`: `node:http(s)` over keep-alive connections reused per source, one retry
 * before any response, bounded bodies, readable failures. Not `fetch`: on loopback, its Request, Headers,
 * WHATWG streams and AbortController cost more host CPU per call than the tool server itself (see
 * `HttpTransport`).
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type RequestOptions } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";

/** Statuses a proxy or a restarting server sends before the tool ran (or with an idempotency key to dedupe). */
const RETRY_STATUSES: ReadonlySet<number> = new Set([502, 503]);
const RETRY_DELAY_MS = 200;
/** Longer delays overflow Node's timers and fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Why a request stopped without an HTTP answer. */
export type RequestFailure =
  /** `timedOut`: the exchange's own deadline ended it, not one of its signals. */
  | { kind: "aborted"; reason: unknown; timedOut: boolean }
  | { kind: "network"; message: string }
  | { kind: "too_large"; limit: number };

export class RequestFailed extends Error {
  override readonly name = "RequestFailed";
  constructor(readonly failure: RequestFailure) {
    super(failure.kind);
  }
}

/** A connection error's words, with its code when the message lacks it: `connect ECONNREFUSED 127.0.0.1:9`. */
function networkMessage(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as Error & { code?: unknown }).code;
  return typeof code === "string" && !error.message.includes(code) ? `${code} ${error.message}` : error.message;
}

export interface HttpExchange {
  method: "GET" | "POST";
  /**
   * Name/value pairs, flat (`[name, value, name, value, ...]`), sent as they are: Host and any others
   * the source built once; `Content-Length` is added for a body. Node's own header object would be
   * rebuilt and each header re-validated by `setHeader` on every call.
   */
  headers: readonly string[];
  body?: string;
  /** The whole exchange, retry included, ends after this long (`timedOut()` then says so). */
  timeoutMs: number;
  /** Bytes of response body read at most: declared or streamed past it, the request is dropped. */
  maxBytes: number;
  /** The caller's: its aborting ends the exchange with its reason. */
  signal?: AbortSignal | undefined;
}

export interface HttpAnswer {
  status: number;
  statusText: string;
  text: string;
}

/**
 * Ends an exchange at its deadline or when a linked signal aborts, without an AbortController or a
 * timer per attempt: whatever is in flight (a request, the retry's pause) registers how to stop it.
 */
class ExchangeStop {
  reason: unknown;
  stopped = false;
  timedOut = false;
  #onStop: ((reason: unknown) => void) | undefined;
  readonly #timer: NodeJS.Timeout;
  #unlink: (() => void) | undefined;

  constructor(timeoutMs: number, signal: AbortSignal | undefined) {
    this.#timer = setTimeout(
      () => {
        this.timedOut = true;
        this.stop(new Error(`timed out after ${timeoutMs} ms`));
      },
      Math.min(timeoutMs, MAX_TIMER_MS),
    );
    if (signal?.aborted) this.stop(signal.reason);
    else if (signal) {
      const onAbort = () => this.stop(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      this.#unlink = () => signal.removeEventListener("abort", onAbort);
    }
  }

  stop(reason: unknown): void {
    if (this.stopped) return;
    this.stopped = true;
    this.reason = reason;
    this.#onStop?.(reason);
  }

  /** What stops the step in flight; replaced by the next step. */
  onStop(action: ((reason: unknown) => void) | undefined): void {
    this.#onStop = action;
  }

  failure(): RequestFailed {
    return new RequestFailed({ kind: "aborted", reason: this.reason, timedOut: this.timedOut });
  }

  /** Unlinks from the caller's signal, which keeps no reference to this exchange. */
  dispose(): void {
    clearTimeout(this.#timer);
    this.#unlink?.();
  }
}

/** Where a URL's requests go, as `http.request` takes it. */
interface Target {
  secure: boolean;
  host: string;
  port: number;
  path: string;
}

/** One attempt's outcome: an answer, a 502/503 to retry, or a connection that failed before any response. */
type Attempt = { answer: HttpAnswer } | { retry: true } | { failed: unknown; reusedSocket: boolean };

/**
 * One source's connections: keep-alive agents, so that calls after the first skip the TCP (and TLS)
 * handshake. On loopback a call through `fetch` cost ~2 ms of host CPU in all (client, example server and
 * engine in one process; the in-process handler ~0.2 ms); `node:http` on a kept-alive connection is
 * what is left of it, measured in BENCHMARKS.md.
 */
export class HttpTransport {
  readonly #http = new HttpAgent({ keepAlive: true });
  /** Each URL's request options, worked out once (Node's `urlToHttpOptions` ran on every call). */
  readonly #targets = new WeakMap<URL, Target>();
  readonly #https = new HttpsAgent({ keepAlive: true });
  /** Exchanges in flight, stopped by `close`: a set, not a listener on a source-wide signal per call. */
  readonly #inFlight = new Set<ExchangeStop>();
  /** Why the transport was closed: later exchanges stop at once with it. */
  #closed: { reason: unknown } | undefined;

  /**
   * Sends with the protocol's retry: once, after a short pause, when the connection failed before any
   * response or the answer was 502/503 (the caller sends an idempotency key, so a request that did reach
   * the server is deduped there). A kept-alive connection the server had closed meanwhile is retried at
   * once on a new one, without using that retry: the request never reached the server. Redirects are
   * returned, not followed (they would drop or leak the token).
   */
  async send(url: URL, exchange: HttpExchange): Promise<HttpAnswer> {
    const stop = new ExchangeStop(exchange.timeoutMs, exchange.signal);
    if (this.#closed) stop.stop(this.#closed.reason);
    this.#inFlight.add(stop);
    try {
      for (let attempt = 0; ; ) {
        if (stop.stopped) throw stop.failure();
        const outcome = await this.#attempt(url, exchange, stop, attempt === 0);
        if ("answer" in outcome) return outcome.answer;
        if ("failed" in outcome) {
          if (stop.stopped) throw stop.failure();
          if (outcome.reusedSocket && isReset(outcome.failed)) continue;
          if (attempt > 0) throw new RequestFailed({ kind: "network", message: networkMessage(outcome.failed) });
        }
        attempt++;
        await pause(stop);
      }
    } finally {
      stop.dispose();
      this.#inFlight.delete(stop);
    }
  }

  /** Stops the exchanges in flight and any later one with `reason`, and closes the connections. */
  close(reason: unknown): void {
    this.#closed ??= { reason };
    for (const stop of this.#inFlight) stop.stop(reason);
    this.#http.destroy();
    this.#https.destroy();
  }

  #target(url: URL): Target | undefined {
    let target = this.#targets.get(url);
    if (target === undefined) {
      const secure = url.protocol === "https:";
      if (!secure && url.protocol !== "http:") return undefined;
      target = {
        secure,
        // Without brackets: Node's `net.connect` takes an IPv6 address bare.
        host: url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname,
        port: url.port === "" ? (secure ? 443 : 80) : Number(url.port),
        path: `${url.pathname}${url.search}`,
      };
      this.#targets.set(url, target);
    }
    return target;
  }

  #attempt(url: URL, exchange: HttpExchange, stop: ExchangeStop, retryable: boolean): Promise<Attempt> {
    return new Promise<Attempt>((resolve, reject) => {
      const target = this.#target(url);
      if (target === undefined) {
        resolve({ failed: new Error(`unsupported protocol ${url.protocol}`), reusedSocket: false });
        return;
      }
      const headers =
        exchange.body === undefined
          ? exchange.headers
          : [...exchange.headers, "Content-Length", String(Buffer.byteLength(exchange.body))];
      const options: RequestOptions = {
        method: exchange.method,
        host: target.host,
        port: target.port,
        path: target.path,
        // Node takes a flat array as raw headers: sent as given, no Host of its own added.
        headers,
        agent: target.secure ? this.#https : this.#http,
      };
      let request: ReturnType<typeof httpRequest>;
      try {
        request = (target.secure ? httpsRequest : httpRequest)(options);
      } catch (error) {
        // An invalid header value, for instance: nothing was sent.
        resolve({ failed: error, reusedSocket: false });
        return;
      }
      let responded = false;
      request.on("error", (error) => {
        if (stop.stopped) reject(stop.failure());
        else if (!responded) resolve({ failed: error, reusedSocket: request.reusedSocket });
        else reject(brokeOff(error));
      });
      stop.onStop(() => request.destroy());
      request.on("response", (response) => {
        responded = true;
        const status = response.statusCode ?? 0;
        if (retryable && RETRY_STATUSES.has(status)) {
          // Its body is not read: drained, so that the connection can carry the retry.
          response.resume();
          response.on("end", () => resolve({ retry: true }));
          response.on("error", () => resolve({ retry: true }));
          return;
        }
        readBody(response, exchange.maxBytes, stop).then(
          (text) => resolve({ answer: { status, statusText: response.statusMessage ?? "", text } }),
          (error: unknown) => {
            request.destroy();
            reject(error);
          },
        );
      });
      request.end(exchange.body);
    });
  }
}

function brokeOff(error: unknown): RequestFailed {
  return new RequestFailed({ kind: "network", message: `the response broke off: ${networkMessage(error)}` });
}

function isReset(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "ECONNRESET" || code === "EPIPE";
}

/** The body as text, refusing more than `limit` bytes (declared or streamed) before buffering it. */
function readBody(response: IncomingMessage, limit: number, stop: ExchangeStop): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const declared = Number(response.headers["content-length"] ?? Number.NaN);
    if (declared > limit) {
      response.destroy();
      reject(new RequestFailed({ kind: "too_large", limit }));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    response.on("data", (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > limit) {
        reject(new RequestFailed({ kind: "too_large", limit }));
        response.destroy();
        return;
      }
      chunks.push(chunk);
    });
    response.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    response.on("error", (error) => reject(stop.stopped ? stop.failure() : brokeOff(error)));
    // A connection that closed before the end of the body, without an error of its own.
    response.on("close", () => {
      if (!response.complete) reject(stop.stopped ? stop.failure() : brokeOff(new Error("the connection closed")));
    });
  });
}

/** The retry's pause, cut short (as a failure) when the exchange stops. */
function pause(stop: ExchangeStop): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      stop.onStop(undefined);
      resolve();
    }, RETRY_DELAY_MS);
    stop.onStop(() => {
      clearTimeout(timer);
      reject(stop.failure());
    });
  });
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
