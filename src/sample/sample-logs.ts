import type { Prng } from "./prng.js";

/** One application log line, as `fetch_logs` returns it. */
export interface LogEntry {
  timestamp: string;
  level: LogLevel;
  service: LogService;
  message: string;
}

export const LOG_LEVELS = ["DEBUG", "INFO", "WARN", "ERROR"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_SERVICES = ["api", "auth", "billing", "search", "worker"] as const;
export type LogService = (typeof LOG_SERVICES)[number];
export const LOG_COUNT = 10_000;

// About 4% errors: enough to be worth filtering, few enough that filtering visibly shrinks the output.
const LEVEL_WEIGHTS: Record<LogLevel, number> = { DEBUG: 15, INFO: 72, WARN: 9, ERROR: 4 };
const LOG_START_MS = Date.UTC(2024, 10, 4, 0, 0, 0);

type MessageTemplate = (prng: Prng) => string;

const INFO: Record<LogService, readonly MessageTemplate[]> = {
  api: [
    (r) => `GET /v1/orders/${r.int(1, 20_000)} 200 in ${r.int(4, 180)}ms`,
    (r) => `POST /v1/orders 201 in ${r.int(12, 240)}ms`,
    (r) => `GET /v1/customers/${r.int(1, 2_000)} 200 in ${r.int(3, 90)}ms`,
  ],
  auth: [(r) => `user ${r.int(1, 2_000)} signed in`, (r) => `token refreshed for user ${r.int(1, 2_000)}`],
  billing: [
    (r) => `invoice INV-${r.int(100_000, 999_999)} issued`,
    (r) => `payment captured for order ${r.int(1, 20_000)}`,
  ],
  search: [(r) => `query served in ${r.int(2, 120)}ms (${r.int(0, 500)} hits)`],
  worker: [(r) => `job ${r.int(10_000, 99_999)} completed in ${r.int(20, 9_000)}ms`],
};

const DEBUG: readonly MessageTemplate[] = [
  (r) => `cache hit for key order:${r.int(1, 20_000)}`,
  (r) => `pool stats: ${r.int(1, 20)}/20 connections in use`,
  (r) => `config reloaded (revision ${r.int(100, 999)})`,
];

const WARN: readonly MessageTemplate[] = [
  (r) => `slow response: ${r.int(800, 2_900)}ms for GET /v1/orders/${r.int(1, 20_000)}`,
  (r) => `retrying ${r.pick(["payments", "inventory", "search-index"])} (attempt 2/3)`,
  (r) => `rate limit at ${r.int(80, 99)}% for client ${r.int(1, 2_000)}`,
];

const ERROR: Record<LogService, readonly MessageTemplate[]> = {
  api: [(r) => `500 on GET /v1/orders/${r.int(1, 20_000)}: upstream timeout after 3000ms`],
  auth: [(r) => `token signature verification failed for user ${r.int(1, 2_000)}`],
  billing: [
    (r) => `charge declined for order ${r.int(1, 20_000)}: card_declined`,
    (r) => `payment provider timeout after 3000ms (order ${r.int(1, 20_000)})`,
  ],
  search: [(r) => `index shard ${r.int(0, 15)} unavailable`],
  worker: [(r) => `job ${r.int(10_000, 99_999)} failed: database connection reset`],
};

function messageFor(level: LogLevel, service: LogService, prng: Prng): string {
  const templates =
    level === "INFO" ? INFO[service] : level === "ERROR" ? ERROR[service] : level === "WARN" ? WARN : DEBUG;
  return prng.pick(templates)(prng);
}

/** Chronological application logs, a few seconds apart, spanning about a day. */
export function generateLogs(prng: Prng, count = LOG_COUNT): LogEntry[] {
  const levels = [...LOG_LEVELS];
  const weights = levels.map((level) => LEVEL_WEIGHTS[level]);
  const entries: LogEntry[] = [];
  let atMs = LOG_START_MS;
  for (let index = 0; index < count; index++) {
    atMs += prng.int(1, 17) * 1_000;
    const level = prng.weighted(levels, weights);
    const service = prng.pick(LOG_SERVICES);
    const timestamp = new Date(atMs).toISOString().replace(".000Z", "Z");
    entries.push({ timestamp, level, service, message: messageFor(level, service, prng) });
  }
  return entries;
}
