import type { JsonValue } from "../../../src/protocol/json-schema.js";
import type { Store, StoredResponse, StoredResponseBounds } from "../../../src/server/store/store.js";

export const DAY = 86_400_000;
/** Bounds no case reaches unless it means to. */
export const ROOMY: StoredResponseBounds = {
  maxResponsesPerKey: 1_000,
  maxResponseBytesPerKey: 1_048_576,
  responseRetentionMs: 30 * DAY,
};

let counter = 0;
export function id(prefix: string): string {
  return `${prefix}_${process.pid}_${++counter}`;
}

/** A response of `owner` created `ageMs` ago, carrying `items` (with ids) in its output. */
export function response(owner: string, ageMs: number, items: JsonValue[] = [], filler = ""): StoredResponse {
  const respId = id("resp");
  return {
    id: respId,
    owner,
    createdAt: Date.now() - ageMs,
    conversation: filler === "" ? [] : [filler],
    response: { id: respId, object: "response", output: items },
  };
}

export function message(text: string): { [key: string]: JsonValue; id: string } {
  return { id: id("msg"), type: "message", role: "assistant", content: [{ type: "output_text", text }] };
}

/** Whether each response is still kept. */
export async function kept(store: Store, responses: readonly StoredResponse[]): Promise<boolean[]> {
  return Promise.all(responses.map(async (r) => (await store.getResponse(r.id)) !== undefined));
}
