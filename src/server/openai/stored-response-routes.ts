import { createHash } from "node:crypto";
import { ErrorCode, PtcError } from "../../protocol/errors.js";
import { isJsonObject, type JsonValue } from "../../protocol/json-schema.js";
import type { StoredResponse } from "../store/store.js";
import { invalidValue } from "./input-items.js";
import { openaiErrorResponse, openaiInvalid } from "./openai-errors.js";
import { type ResponseRecords, whyNotFound } from "./stored-responses.js";

/** `input_items`' page size when the client names none, and the most it may ask for: OpenAI's. */
export const DEFAULT_INPUT_ITEMS_LIMIT = 20;
export const MAX_INPUT_ITEMS_LIMIT = 100;

/** A request naming a stored response: `GET`/`DELETE /v1/responses/{id}`, `GET …/input_items`. */
export interface StoredResponseCall {
  id: string;
  /** `ownerOf(apiKey)` of the authenticated client: another key's response is not found. */
  owner: string;
  query: URLSearchParams;
}

/** The three endpoints on stored (`store: true`) responses, as OpenAI's API defines them. */
export interface StoredResponseRoutes {
  retrieve(call: StoredResponseCall): Promise<Response>;
  delete(call: StoredResponseCall): Promise<Response>;
  inputItems(call: StoredResponseCall): Promise<Response>;
}

export function storedResponseRoutes(records: ResponseRecords): StoredResponseRoutes {
  const notFound = (id: string) =>
    new PtcError(ErrorCode.NotFound, `Response with id '${id}' not found. ${whyNotFound(records.bounds)}`, {
      param: null,
      openaiCode: "response_not_found",
    });
  const answer =
    (work: (call: StoredResponseCall) => Promise<unknown>) =>
    async (call: StoredResponseCall): Promise<Response> => {
      try {
        return Response.json(await work(call));
      } catch (error) {
        return openaiErrorResponse(error);
      }
    };
  const stored = async ({ id, owner }: StoredResponseCall): Promise<StoredResponse> => {
    const found = await records.get(id, owner);
    if (!found) throw notFound(id);
    return found;
  };
  return {
    retrieve: answer(async (call) => {
      if (call.query.get("stream") === "true") {
        throw openaiInvalid(
          "stream: true replays a background response's events; ptc runs no background responses, so a stored response is retrieved whole.",
          "stream",
          "unsupported_value",
        );
      }
      return (await stored(call)).response;
    }),
    delete: answer(async ({ id, owner }) => {
      if (!(await records.delete(id, owner))) throw notFound(id);
      return { id, object: "response.deleted", deleted: true };
    }),
    inputItems: answer(async (call) => {
      const { limit, order, after } = listParams(call.query);
      const items = (await stored(call)).conversation.map((item, index) => listedItem(item, call.id, index));
      if (order === "desc") items.reverse();
      let start = 0;
      if (after !== undefined) {
        const at = items.findIndex((item) => item.id === after);
        if (at < 0)
          throw openaiInvalid(`No input item with id '${after}' in response '${call.id}'.`, "after", "invalid_value");
        start = at + 1;
      }
      const data = items.slice(start, start + limit);
      return {
        object: "list",
        data,
        first_id: data[0]?.id ?? null,
        last_id: data.at(-1)?.id ?? null,
        has_more: start + limit < items.length,
      };
    }),
  };
}

function listParams(query: URLSearchParams): { limit: number; order: "asc" | "desc"; after: string | undefined } {
  const rawLimit = query.get("limit");
  let limit = DEFAULT_INPUT_ITEMS_LIMIT;
  if (rawLimit !== null) {
    if (!/^-?\d+$/.test(rawLimit)) {
      throw openaiInvalid(
        `Invalid type for 'limit': expected an integer, but got '${rawLimit}' instead.`,
        "limit",
        "invalid_type",
      );
    }
    limit = Number(rawLimit);
    if (limit < 1) {
      throw openaiInvalid(
        `Invalid 'limit': integer below minimum value. Expected a value >= 1, but got ${limit} instead.`,
        "limit",
        "integer_below_min_value",
      );
    }
    if (limit > MAX_INPUT_ITEMS_LIMIT) {
      throw openaiInvalid(
        `Invalid 'limit': integer above maximum value. Expected a value <= ${MAX_INPUT_ITEMS_LIMIT}, but got ${limit} instead.`,
        "limit",
        "integer_above_max_value",
      );
    }
  }
  const order = query.get("order") ?? "desc";
  if (order !== "asc" && order !== "desc") invalidValue("order", order, ["asc", "desc"]);
  return { limit, order, after: query.get("after") ?? undefined };
}

const ID_PREFIXES: Readonly<Record<string, string>> = {
  message: "msg",
  function_call: "fc",
  function_call_output: "fco",
  program_output: "cmo",
  reasoning: "rs",
};

/**
 * A conversation item as `input_items` lists it: OpenAI's item shape, with an id. An item the client sent
 * without one gets an id derived from the response and its position, the same on every read (pagination
 * names it in `after`); `item_reference` finds only the ids the items had.
 */
function listedItem(item: JsonValue, responseId: string, index: number): Record<string, JsonValue> & { id: string } {
  const value: Record<string, JsonValue> = isJsonObject(item) ? (item as Record<string, JsonValue>) : {};
  const type = typeof value.type === "string" ? value.type : "message";
  const given = typeof value.id === "string" ? value.id : undefined;
  const id =
    given ??
    `${ID_PREFIXES[type] ?? "item"}_${createHash("sha256").update(`${responseId}:${index}`).digest("hex").slice(0, 48)}`;
  switch (type) {
    case "message": {
      const assistant = value.role === "assistant";
      const content: JsonValue =
        typeof value.content === "string"
          ? [
              assistant
                ? { type: "output_text", text: value.content, annotations: [] }
                : { type: "input_text", text: value.content },
            ]
          : (value.content ?? []);
      return { id, type: "message", role: value.role ?? "user", status: "completed", content };
    }
    case "reasoning":
      return { id, type: "reasoning", summary: [] };
    case "function_call":
    case "function_call_output":
      return { ...value, id, status: "completed" };
    default:
      return { ...value, id };
  }
}
