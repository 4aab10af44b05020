import type { CallToolResult, ContentBlock } from "@modelcontextprotocol/sdk/types.js";
import { ErrorCode, PtcError } from "../../protocol/errors.js";

/**
 * What an MCP tool result becomes in the script (see docs/mcp-sources.md):
 *
 * - `isError: true` → `PtcError` `tool_error` with the error's text: the script gets `ToolError`.
 * - `structuredContent` → that object (a dict in Python).
 * - only text blocks → their text, joined with "\n" (a str); no content at all → `None`.
 * - anything else (images, audio, resources, resource links, a mix) → a list of plain objects, one
 *   per block, in order, with snake_case keys:
 *     `{"type": "text", "text": ...}`
 *     `{"type": "image" | "audio", "mime_type": ..., "data": <base64>}`
 *     `{"type": "resource", "uri": ..., "mime_type": ... | None, "text": ...}` (or `"blob": <base64>`)
 *     `{"type": "resource_link", "uri": ..., "name": ..., "mime_type": ... | None, "title"?, "description"?, "size"?}`
 *   `annotations` are kept when the server sends them; protocol `_meta` is dropped.
 */
export type McpContentItem = Record<string, unknown>;

/** A result as the SDK returns it: the current shape, or the 2024-10-07 protocol's `toolResult`. */
export type McpCallResult = CallToolResult | { toolResult: unknown };

export interface McpResultOrigin {
  readonly server: string;
  /** The tool's name on the server. */
  readonly tool: string;
}

export function convertMcpResult(result: McpCallResult, origin: McpResultOrigin): unknown {
  if ("toolResult" in result) return result.toolResult;
  const content: readonly ContentBlock[] = result.content ?? [];
  if (result.isError === true) throw toolError(content, origin);
  if (result.structuredContent !== undefined) return result.structuredContent;
  if (content.length === 0) return null;
  if (content.every((block) => block.type === "text")) return content.map((block) => block.text).join("\n");
  return content.map(contentItem);
}

/** One content block as a plain JSON object (see `McpContentItem`). */
export function contentItem(block: ContentBlock): McpContentItem {
  const item: McpContentItem = toItem(block);
  if ("annotations" in block && block.annotations !== undefined) item.annotations = block.annotations;
  return item;
}

function toItem(block: ContentBlock): McpContentItem {
  switch (block.type) {
    case "text":
      return { type: "text", text: block.text };
    case "image":
    case "audio":
      return { type: block.type, mime_type: block.mimeType, data: block.data };
    case "resource": {
      const { resource } = block;
      const base = { type: "resource", uri: resource.uri, mime_type: resource.mimeType ?? null };
      return "text" in resource ? { ...base, text: resource.text } : { ...base, blob: resource.blob };
    }
    case "resource_link": {
      const item: McpContentItem = {
        type: "resource_link",
        uri: block.uri,
        name: block.name,
        mime_type: block.mimeType ?? null,
      };
      if (block.title !== undefined) item.title = block.title;
      if (block.description !== undefined) item.description = block.description;
      if (block.size !== undefined) item.size = block.size;
      if (block.icons !== undefined) item.icons = block.icons;
      return item;
    }
    default: {
      // A block type newer than this SDK: pass it through rather than lose it.
      const { _meta, ...rest } = block as Record<string, unknown>;
      return rest;
    }
  }
}

function toolError(content: readonly ContentBlock[], origin: McpResultOrigin): PtcError {
  const text = content
    .filter((block) => block.type === "text")
    .map((block) => block.text)
    .join("\n")
    .trim();
  const message = text !== "" ? text : `MCP tool "${origin.tool}" of server "${origin.server}" reported an error`;
  return new PtcError(ErrorCode.ToolError, message, { server: origin.server, tool: origin.tool });
}
