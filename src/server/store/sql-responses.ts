import type { JsonValue } from "../../protocol/json-schema.js";
import type { SqlDriver } from "./sql-rows.js";
import type { StoredResponse } from "./store.js";
import { conflict, recordable, responseItems } from "./store-values.js";

/** `/v1/responses`' kept responses on a SQL database (schema version 2), the same statements on SQLite and PostgreSQL. */
export async function saveResponse(db: SqlDriver, maxBytes: number, response: StoredResponse): Promise<void> {
  const conversation = recordable(`the conversation of response ${response.id}`, [...response.conversation], maxBytes);
  const body = recordable(`response ${response.id}`, response.response, maxBytes);
  const items = [...responseItems(response)].map(([id, item]) => [id, JSON.stringify(item)] as const);
  await db.transaction(async (tx) => {
    const rows = await tx.query(
      `INSERT INTO ptc_responses (id, owner, created_at, conversation, response) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (id) DO NOTHING RETURNING id`,
      [response.id, response.owner, response.createdAt, conversation, body],
    );
    if (rows.length === 0) throw conflict(`response ${response.id} already exists`);
    for (const [id, item] of items) {
      await tx.query(
        "INSERT INTO ptc_response_items (id, response_id, item) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
        [id, response.id, item],
      );
    }
  });
}

export async function getResponse(db: SqlDriver, id: string): Promise<StoredResponse | undefined> {
  const row = (await db.query("SELECT * FROM ptc_responses WHERE id = $1", [id]))[0];
  if (!row) return undefined;
  return {
    id: String(row.id),
    owner: String(row.owner),
    createdAt: Number(row.created_at),
    conversation: JSON.parse(String(row.conversation)) as JsonValue[],
    response: JSON.parse(String(row.response)) as JsonValue,
  };
}

export async function getResponseItem(
  db: SqlDriver,
  id: string,
): Promise<{ owner: string; item: JsonValue } | undefined> {
  const rows = await db.query(
    `SELECT r.owner, i.item FROM ptc_response_items i JOIN ptc_responses r ON r.id = i.response_id WHERE i.id = $1`,
    [id],
  );
  const row = rows[0];
  return row && { owner: String(row.owner), item: JSON.parse(String(row.item)) as JsonValue };
}
