/** The example's domain: a small in-memory warehouse with three tools (look up, quote, reserve). */
import type { WireToolDefinition } from "../../src/sources/http/http-tool-protocol.js";

export interface ServerCallContext {
  readonly callId: string;
  readonly executionId: string;
  /** Aborted when the client gives up (its timeout) or disconnects: stop working. */
  readonly signal: AbortSignal;
  readonly idempotencyKey: string | undefined;
}

export interface ServerTool {
  readonly definition: WireToolDefinition;
  run(input: Record<string, unknown>, context: ServerCallContext): unknown;
}

/** A failure the script should see as `ToolError` with this message (answered as 200 `{"error": ...}`). */
export class ToolFailure extends Error {
  override readonly name = "ToolFailure";
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

interface Item {
  sku: string;
  name: string;
  category: string;
  unitPrice: number;
  onHand: number;
}

const CATALOG: readonly Item[] = [
  { sku: "WID-100", name: "Widget, small", category: "widgets", unitPrice: 2.5, onHand: 1200 },
  { sku: "WID-200", name: "Widget, large", category: "widgets", unitPrice: 4.75, onHand: 310 },
  { sku: "GAD-300", name: "Gadget", category: "gadgets", unitPrice: 19.9, onHand: 42 },
  { sku: "GAD-310", name: "Gadget Pro", category: "gadgets", unitPrice: 49, onHand: 0 },
  { sku: "BOL-010", name: "Bolt M10 (box of 100)", category: "hardware", unitPrice: 8.2, onHand: 95 },
];

/** Volume discounts: the first tier whose minimum the quantity reaches. */
const DISCOUNTS = [
  { minQuantity: 1000, percent: 15 },
  { minQuantity: 100, percent: 8 },
  { minQuantity: 10, percent: 3 },
] as const;

function text(input: Record<string, unknown>, key: string): string {
  const value = input[key];
  if (typeof value !== "string" || value === "")
    throw new ToolFailure(`${key} must be a non-empty string`, "invalid_input");
  return value;
}

function count(input: Record<string, unknown>, key: string): number {
  const value = input[key];
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw new ToolFailure(`${key} must be a positive integer`, "invalid_input");
  }
  return value;
}

const skuSchema = { type: "string", description: 'Stock-keeping unit, e.g. "WID-100".' };

/** A fresh warehouse per call, so each app (and each test) has its own stock. */
export function createInventoryTools(): ServerTool[] {
  const stock = new Map(CATALOG.map((item) => [item.sku, { ...item }]));
  let reservations = 0;
  const find = (sku: string): Item => {
    const item = stock.get(sku);
    if (!item) throw new ToolFailure(`unknown SKU ${JSON.stringify(sku)}`, "unknown_sku");
    return item;
  };

  const getStock: ServerTool = {
    definition: {
      name: "get_stock",
      description: "Stock level and list price of one SKU.",
      input_schema: { type: "object", properties: { sku: skuSchema }, required: ["sku"], additionalProperties: false },
      output_schema: {
        type: "object",
        properties: {
          sku: { type: "string" },
          name: { type: "string" },
          category: { type: "string" },
          unit_price: { type: "number" },
          on_hand: { type: "integer" },
        },
        required: ["sku", "name", "category", "unit_price", "on_hand"],
      },
    },
    run(input) {
      const item = find(text(input, "sku"));
      return {
        sku: item.sku,
        name: item.name,
        category: item.category,
        unit_price: item.unitPrice,
        on_hand: item.onHand,
      };
    },
  };

  const quotePrice: ServerTool = {
    definition: {
      name: "quote_price",
      description: "Price of a quantity of one SKU, with the volume discount. Fails if stock is short.",
      input_schema: {
        type: "object",
        properties: { sku: skuSchema, quantity: { type: "integer", minimum: 1 } },
        required: ["sku", "quantity"],
        additionalProperties: false,
      },
      output_schema: {
        type: "object",
        properties: {
          sku: { type: "string" },
          quantity: { type: "integer" },
          discount_percent: { type: "number" },
          total: { type: "number" },
          currency: { type: "string" },
        },
        required: ["sku", "quantity", "discount_percent", "total", "currency"],
      },
    },
    run(input) {
      const item = find(text(input, "sku"));
      const quantity = count(input, "quantity");
      if (quantity > item.onHand) {
        throw new ToolFailure(`only ${item.onHand} of ${item.sku} in stock, ${quantity} requested`, "out_of_stock");
      }
      const percent = DISCOUNTS.find((tier) => quantity >= tier.minQuantity)?.percent ?? 0;
      const total = Math.round(item.unitPrice * quantity * (100 - percent)) / 100;
      return { sku: item.sku, quantity, discount_percent: percent, total, currency: "EUR" };
    },
  };

  // The tool with a side effect: what the idempotency key protects when a call is retried.
  const reserveStock: ServerTool = {
    definition: {
      name: "reserve_stock",
      description: "Reserves a quantity of one SKU and returns the reservation id and the stock left.",
      input_schema: {
        type: "object",
        properties: { sku: skuSchema, quantity: { type: "integer", minimum: 1 } },
        required: ["sku", "quantity"],
        additionalProperties: false,
      },
    },
    run(input) {
      const item = find(text(input, "sku"));
      const quantity = count(input, "quantity");
      if (quantity > item.onHand) {
        throw new ToolFailure(`only ${item.onHand} of ${item.sku} in stock, ${quantity} requested`, "out_of_stock");
      }
      item.onHand -= quantity;
      return { reservation: `R-${String(++reservations).padStart(5, "0")}`, sku: item.sku, remaining: item.onHand };
    },
  };

  return [getStock, quotePrice, reserveStock];
}
