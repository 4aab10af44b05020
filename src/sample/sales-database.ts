import type Database from "better-sqlite3";
import { openDatabase } from "./better-sqlite3.js";
import { createPrng, type Prng } from "./prng.js";
import type { SalesDatabaseOptions } from "./sales-database-type.js";
import { generateLogs } from "./sample-logs.js";
import { buildSampleFiles, type SalesCustomer, type SalesOrder } from "./sample-reports.js";

export type { SalesDatabaseOptions };

export interface SampleEndpoint {
  url: string;
  healthy: boolean;
  latency_ms: number;
}

/** Checked in this order by the early-termination example: the third is the first healthy one. */
export const SAMPLE_ENDPOINTS: readonly SampleEndpoint[] = Object.freeze([
  { url: "https://api-1.internal/health", healthy: false, latency_ms: 3000 },
  { url: "https://api-2.internal/health", healthy: false, latency_ms: 512 },
  { url: "https://api-3.internal/health", healthy: true, latency_ms: 38 },
  { url: "https://api-4.internal/health", healthy: true, latency_ms: 41 },
  { url: "https://api-5.internal/health", healthy: false, latency_ms: 3000 },
]);

export const CORE_REGIONS = ["North", "South", "East", "West", "Central"] as const;
// biome-ignore format: word list, one entry per name would be hard to read
const OTHER_REGIONS = [
  "Northeast", "Northwest", "Southeast", "Southwest", "Midwest", "Pacific Coast", "Atlantic Coast", "Gulf Coast",
  "Great Lakes", "Rocky Mountains", "Great Plains", "New England", "Appalachia", "Mid-Atlantic", "Sun Belt",
  "Bay Area", "Inland Empire", "Hudson Valley", "Ozarks", "Piedmont", "Tidewater", "High Desert", "Cascadia",
  "Front Range", "Lowcountry", "Panhandle", "Permian Basin", "Rio Grande", "Twin Cities", "Upstate", "Delta",
  "Bluegrass", "Big Sky", "Black Hills", "Chesapeake", "Coastal Plain", "Finger Lakes", "Golden Triangle",
  "Hill Country", "Iron Range", "Mojave", "Outer Banks", "Palouse", "Red River", "Wasatch",
] as const;
export const REGION_NAMES: readonly string[] = Object.freeze([...CORE_REGIONS, ...OTHER_REGIONS]);

export const SEGMENTS = ["Consumer", "SMB", "Enterprise"] as const;
export const ORDER_STATUSES = ["completed", "pending", "refunded", "cancelled"] as const;
export const CUSTOMER_COUNT = 2_000;
export const ORDER_COUNT = 20_000;

type Segment = (typeof SEGMENTS)[number];
const SEGMENT_WEIGHTS = [60, 30, 10];
const STATUS_WEIGHTS = [85, 6, 5, 4];
/** Order amount range in cents, per customer segment. */
const AMOUNT_CENTS: Record<Segment, readonly [number, number]> = {
  Consumer: [1_500, 30_000],
  SMB: [10_000, 250_000],
  Enterprise: [100_000, 2_500_000],
};
// biome-ignore format: word list, one entry per name would be hard to read
const FIRST_NAMES = [
  "Ava", "Ben", "Chloe", "Daniel", "Elena", "Farid", "Grace", "Hiro", "Isla", "Jonas", "Kira", "Liam", "Maya",
  "Noah", "Olivia", "Priya", "Quinn", "Rosa", "Sam", "Tariq", "Uma", "Victor", "Wen", "Yusuf", "Zoe",
] as const;
// biome-ignore format: word list, one entry per name would be hard to read
const LAST_NAMES = [
  "Abbott", "Becker", "Castillo", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ito", "Jensen", "Kowalski",
  "Larsen", "Moreau", "Nakamura", "Okafor", "Patel", "Quispe", "Rossi", "Schmidt", "Tanaka", "Usman", "Varga",
  "Weber", "Xu", "Yilmaz", "Zhang",
] as const;
const COMPANY_SUFFIXES = ["Inc", "LLC", "Group", "Labs", "Partners", "Holdings", "Logistics", "Trading"] as const;

const YEAR_START_MS = Date.UTC(2024, 0, 1);
const DAYS_IN_2024 = 366;
const DAY_MS = 86_400_000;
// Separate seeds per table, so changing how one table is generated leaves the others unchanged.
const SEED = { customers: 0x5eed_0002, orders: 0x5eed_0003, logs: 0x5eed_0004 } as const;

const SCHEMA = `
DROP TABLE IF EXISTS orders; DROP TABLE IF EXISTS customers; DROP TABLE IF EXISTS regions;
DROP TABLE IF EXISTS files; DROP TABLE IF EXISTS logs; DROP TABLE IF EXISTS endpoints;
CREATE TABLE regions (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE customers (
  id INTEGER PRIMARY KEY, name TEXT NOT NULL, region_id INTEGER NOT NULL REFERENCES regions(id), segment TEXT NOT NULL);
CREATE TABLE orders (
  id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id),
  region_id INTEGER NOT NULL REFERENCES regions(id), order_date TEXT NOT NULL,
  amount_cents INTEGER NOT NULL, status TEXT NOT NULL);
CREATE TABLE files (path TEXT PRIMARY KEY, size_bytes INTEGER NOT NULL, content TEXT NOT NULL);
CREATE TABLE logs (
  id INTEGER PRIMARY KEY, timestamp TEXT NOT NULL, level TEXT NOT NULL, service TEXT NOT NULL, message TEXT NOT NULL);
CREATE TABLE endpoints (
  position INTEGER PRIMARY KEY, url TEXT NOT NULL UNIQUE, healthy INTEGER NOT NULL, latency_ms INTEGER NOT NULL);
`;

interface Customer extends SalesCustomer {
  regionId: number;
  segment: Segment;
}

/**
 * Builds the sample sales database: the same data on every run (seeded PRNG, fixed dates), in about
 * 130 ms. The returned connection is writable; the sample tools query it read-only.
 */
export function createSalesDatabase(options: SalesDatabaseOptions = {}): Database.Database {
  if (options.path !== undefined) return build(options.path);
  // The data never changes, so later in-memory copies load the first build's image (a few ms each).
  if (!memoryImage) {
    const first = build(":memory:");
    memoryImage = first.serialize();
    first.close();
  }
  return openDatabase(memoryImage);
}

let memoryImage: Buffer | undefined;

function build(filename: string): Database.Database {
  const db = openDatabase(filename);
  db.exec(SCHEMA);
  db.transaction(() => populate(db))();
  return db;
}

function populate(db: Database.Database): void {
  const regionIds = insertRegions(db);
  const customers = insertCustomers(db, regionIds, createPrng(SEED.customers));
  const orders = insertOrders(db, customers, createPrng(SEED.orders));

  const insertLog = db.prepare("INSERT INTO logs (timestamp, level, service, message) VALUES (?, ?, ?, ?)");
  for (const entry of generateLogs(createPrng(SEED.logs))) {
    insertLog.run(entry.timestamp, entry.level, entry.service, entry.message);
  }
  const insertEndpoint = db.prepare("INSERT INTO endpoints (position, url, healthy, latency_ms) VALUES (?, ?, ?, ?)");
  for (const [index, endpoint] of SAMPLE_ENDPOINTS.entries()) {
    insertEndpoint.run(index + 1, endpoint.url, endpoint.healthy ? 1 : 0, endpoint.latency_ms);
  }
  // The reports are computed from the generated orders, so the files agree with the tables.
  const insertFile = db.prepare("INSERT INTO files (path, size_bytes, content) VALUES (?, ?, ?)");
  for (const file of buildSampleFiles({ regionNames: REGION_NAMES, customers, orders })) {
    insertFile.run(file.path, Buffer.byteLength(file.content, "utf8"), file.content);
  }
}

function insertRegions(db: Database.Database): number[] {
  const insert = db.prepare("INSERT INTO regions (id, name) VALUES (?, ?)");
  return REGION_NAMES.map((name, index) => {
    insert.run(index + 1, name);
    return index + 1;
  });
}

function insertCustomers(db: Database.Database, regionIds: readonly number[], prng: Prng): Customer[] {
  // The five core regions are the big markets; the other 45 are smaller and uneven.
  const weights = regionIds.map((_, index) => (index < CORE_REGIONS.length ? prng.int(40, 80) : prng.int(5, 25)));
  const insert = db.prepare("INSERT INTO customers (id, name, region_id, segment) VALUES (?, ?, ?, ?)");
  const customers: Customer[] = [];
  for (let id = 1; id <= CUSTOMER_COUNT; id++) {
    const regionId = prng.weighted(regionIds, weights);
    const segment = prng.weighted(SEGMENTS, SEGMENT_WEIGHTS);
    insert.run(id, customerName(segment, prng), regionId, segment);
    customers.push({ id, regionId, segment });
  }
  return customers;
}

function customerName(segment: Segment, prng: Prng): string {
  if (segment === "Consumer") return `${prng.pick(FIRST_NAMES)} ${prng.pick(LAST_NAMES)}`;
  return `${prng.pick(LAST_NAMES)} ${prng.pick(COMPANY_SUFFIXES)}`;
}

function insertOrders(db: Database.Database, customers: readonly Customer[], prng: Prng): SalesOrder[] {
  const insert = db.prepare(
    "INSERT INTO orders (id, customer_id, region_id, order_date, amount_cents, status) VALUES (?, ?, ?, ?, ?, ?)",
  );
  const dates = Array.from({ length: DAYS_IN_2024 }, (_, day) =>
    new Date(YEAR_START_MS + day * DAY_MS).toISOString().slice(0, 10),
  );
  const orders: SalesOrder[] = [];
  for (let id = 1; id <= ORDER_COUNT; id++) {
    const customer = prng.pick(customers);
    const date = prng.pick(dates);
    const [low, high] = AMOUNT_CENTS[customer.segment];
    const status = prng.weighted(ORDER_STATUSES, STATUS_WEIGHTS);
    const cents = prng.int(low, high);
    insert.run(id, customer.id, customer.regionId, date, cents, status);
    orders.push({ id, customerId: customer.id, regionId: customer.regionId, date, cents, status });
  }
  return orders;
}
