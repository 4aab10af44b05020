/** Number formatting shared by the report files and the example expectations (mirrors Python's `:,` and `:,.2f`). */

/** `1234567` → `"1,234,567"`, like Python's `f"{n:,}"` for non-negative integers. */
export function formatCount(value: number): string {
  return String(value).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** Integer cents → `"$1,234.50"`, like Python's `f"${cents / 100:,.2f}"`; exact, no float rounding. */
export function formatCents(cents: number): string {
  const sign = cents < 0 ? "-" : "";
  const absolute = Math.abs(cents);
  return `${sign}$${formatCount(Math.floor(absolute / 100))}.${String(absolute % 100).padStart(2, "0")}`;
}

/** Integer cents → `"1234.50"` for CSV: no currency sign, no grouping. */
export function formatAmount(cents: number): string {
  return `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, "0")}`;
}
