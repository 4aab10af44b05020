import { formatAmount, formatCents, formatCount } from "./format.js";

/** A virtual text file stored in the `files` table. */
export interface SampleFile {
  path: string;
  content: string;
}

export interface SalesCustomer {
  id: number;
  segment: string;
}

export interface SalesOrder {
  id: number;
  customerId: number;
  regionId: number;
  date: string;
  cents: number;
  status: string;
}

/** The generated rows, in id order (ids start at 1). */
export interface SalesData {
  regionNames: readonly string[];
  customers: readonly SalesCustomer[];
  orders: readonly SalesOrder[];
}

export const SUMMARY_PATH = "/reports/q3-summary.txt";
export const LEDGER_PATH = "/reports/full-ledger.csv";
export const README_PATH = "/notes/readme.md";

const Q3_FROM = "2024-07-01";
const Q3_TO = "2024-09-30";

interface Tally {
  label: string;
  orders: number;
  cents: number;
}

// Computed in JS from the rows just generated rather than queried back: keeps the build fast.
export function buildSampleFiles(data: SalesData): SampleFile[] {
  const q3 = data.orders
    .filter((order) => order.status === "completed" && order.date >= Q3_FROM && order.date <= Q3_TO)
    .sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : a.id - b.id));
  return [
    { path: SUMMARY_PATH, content: buildSummary(data, q3) },
    { path: LEDGER_PATH, content: buildLedger(data, q3) },
    { path: README_PATH, content: README },
  ];
}

function buildSummary(data: SalesData, q3: readonly SalesOrder[]): string {
  const total = q3.reduce((sum, order) => sum + order.cents, 0);
  const byRegion = tally(q3, (order) => data.regionNames[order.regionId - 1] ?? "?").slice(0, 5);
  const bySegment = tally(q3, (order) => data.customers[order.customerId - 1]?.segment ?? "?");
  const row = (item: Tally): string =>
    `  ${item.label.padEnd(16)} ${formatCents(item.cents).padStart(16)}  (${formatCount(item.orders)} orders)`;
  const average = q3.length > 0 ? Math.round(total / q3.length) : 0;
  return [
    "Q3 2024 sales summary",
    "=====================",
    `Period: ${Q3_FROM} to ${Q3_TO} (completed orders only)`,
    `Orders: ${formatCount(q3.length)}`,
    `Revenue: ${formatCents(total)}`,
    `Average order: ${formatCents(average)}`,
    "",
    "Top 5 regions by revenue:",
    ...byRegion.map(row),
    "",
    "Revenue by segment:",
    ...bySegment.map(row),
    "",
    `Every order behind these numbers is listed in ${LEDGER_PATH}.`,
    "",
  ].join("\n");
}

/** Groups by label; largest revenue first, ties in first-seen order. */
function tally(orders: readonly SalesOrder[], labelOf: (order: SalesOrder) => string): Tally[] {
  const groups = new Map<string, Tally>();
  for (const order of orders) {
    const label = labelOf(order);
    const group = groups.get(label) ?? { label, orders: 0, cents: 0 };
    group.orders += 1;
    group.cents += order.cents;
    groups.set(label, group);
  }
  return [...groups.values()].sort((a, b) => b.cents - a.cents);
}

// Every completed Q3 order: about 200 KB, too large to read whole into a model's context.
function buildLedger(data: SalesData, q3: readonly SalesOrder[]): string {
  const lines = ["order_id,order_date,customer_id,segment,region,amount_usd"];
  for (const order of q3) {
    const segment = data.customers[order.customerId - 1]?.segment ?? "";
    const region = data.regionNames[order.regionId - 1] ?? "";
    lines.push(`${order.id},${order.date},${order.customerId},${segment},${region},${formatAmount(order.cents)}`);
  }
  return `${lines.join("\n")}\n`;
}

const README = `# Sample data

Virtual files served by the sample tools (nothing here touches the real filesystem):

- ${SUMMARY_PATH}: one-page Q3 2024 sales summary (small)
- ${LEDGER_PATH}: every completed Q3 2024 order as CSV (large)
- ${README_PATH}: this note
`;
