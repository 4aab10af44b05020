import { after } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { Engine } from "../../src/engine/engine.js";
import type { ToolDefinition } from "../../src/protocol/tool.js";
import { createMcpServer } from "../../src/server/mcp/create-mcp-server.js";

/** The official SDK client connected in memory to ptc's MCP server over `tools`; closed after the file's tests. */
export async function connectMcpServer(engine: Engine, tools: readonly ToolDefinition[]): Promise<Client> {
  const server = createMcpServer({ engine, tools, log: () => {} });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: "test", version: "1.0.0" });
  await client.connect(clientSide);
  after(() => client.close());
  return client;
}

/** The text parts of a tool result, joined. */
export function resultText(result: unknown): string {
  const content = (result as CallToolResult).content;
  return content.map((part) => (part.type === "text" ? part.text : "")).join("");
}
