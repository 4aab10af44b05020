// Server tools for the load case (`ptc serve --tools bench/load-tools.ts`), and the answer each
// execution must print, so every admitted execution is checked on its own input.
import { setTimeout as sleep } from "node:timers/promises";
import { defineTool, type ToolDefinition } from "../src/protocol/tool.js";

const MODULUS = 1_000_003;

/** A cheap hash, so a wrong, mixed-up or repeated answer shows in the total. */
function mixValue(n: number): number {
  return (n * 7_919 + 104_729) % MODULUS;
}

const mix = defineTool<{ n: number }, { value: number }>({
  name: "mix",
  description: "Hashes an integer.",
  inputSchema: { type: "object", properties: { n: { type: "integer" } }, required: ["n"] },
  allowedCallers: ["code_execution"],
  handler: async ({ n }) => {
    await sleep(2); // a tool does I/O: the sandbox waits on the host, as with a real one
    return { value: mixValue(n) };
  },
});

export const tools: ToolDefinition[] = [mix];

/** Execution `i`'s script: five calls at once, then one depending on their sum. */
export function loadScript(i: number): string {
  return [
    "import asyncio",
    `i = ${i}`,
    "parts = await asyncio.gather(*[mix(n=i * 10 + k) for k in range(5)])",
    "total = sum(p['value'] for p in parts)",
    "total += (await mix(n=total % 1000))['value']",
    "print(i, total)",
  ].join("\n");
}

export function expectedStdout(i: number): string {
  let total = 0;
  for (let k = 0; k < 5; k++) total += mixValue(i * 10 + k);
  total += mixValue(total % 1000);
  return `${i} ${total}\n`;
}
