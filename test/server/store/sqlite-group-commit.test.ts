import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import Database from "better-sqlite3";
import type { SqlExecutor, SqlParam, SqlRow } from "../../../src/server/store/sql-rows.js";
import { GroupCommitDriver } from "../../../src/server/store/sqlite-group-commit.js";

// Group commit on a real SQLite file (src/server/store/sqlite-group-commit.ts): what callers issue in one turn
// shares one commit, each in a savepoint of its own; nothing is answered before the commit.
const dir = mkdtempSync(join(tmpdir(), "ptc-group-commit-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

function open() {
  const path = join(dir, `g-${++files}.sqlite`);
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)");
  const commits: string[] = [];
  const run = (sql: string, params: readonly SqlParam[]): SqlRow[] => {
    if (sql === "COMMIT") commits.push(sql);
    const statement = db.prepare(sql.replace(/\$\d+/g, "?"));
    if (statement.reader) return statement.all(...params) as SqlRow[];
    statement.run(...params);
    return [];
  };
  const driver = new GroupCommitDriver(db, run, (error) => error);
  // Another connection to the file, as another process would read it: it sees only what was committed.
  const reader = new Database(path, { readonly: true });
  const committed = () => reader.prepare("SELECT id, v FROM t ORDER BY id").all();
  return { driver, commits, committed, close: () => reader.close() };
}

const insert = (on: SqlExecutor, id: number, v: string) => on.query("INSERT INTO t (id, v) VALUES ($1, $2)", [id, v]);

describe("SQLite group commit", () => {
  it("statements and transactions issued in one turn share one commit, in issue order, answered after it", async () => {
    const { driver, commits, committed, close } = open();
    const seen: unknown[] = [];
    const all = [
      insert(driver, 1, "a").then(() => seen.push(committed())),
      driver.transaction(async (tx) => {
        await insert(tx, 2, "b");
        return tx.query("SELECT count(*) AS n FROM t");
      }),
      driver.query("SELECT v FROM t WHERE id = $1", [2]),
    ];
    const [, counted, read] = await Promise.all(all);
    assert.equal(commits.length, 1, "one commit for the turn");
    assert.deepEqual(counted, [{ n: 2 }], "the transaction sees the statement issued before it");
    assert.deepEqual(read, [{ v: "b" }], "a read issued after the transaction sees its write");
    // The first caller heard back only once all three were committed (another connection saw both rows).
    assert.deepEqual(seen, [
      [
        { id: 1, v: "a" },
        { id: 2, v: "b" },
      ],
    ]);
    // A later turn is another commit.
    await insert(driver, 3, "c");
    assert.equal(commits.length, 2);
    await driver.close();
    close();
  });

  it("a failing statement or transaction fails alone: rolled back to its savepoint, the rest committed", async () => {
    const { driver, committed, close } = open();
    const outcomes = await Promise.allSettled([
      insert(driver, 1, "kept"),
      insert(driver, 1, "duplicate key"),
      driver.transaction(async (tx) => {
        await insert(tx, 2, "rolled back");
        throw new Error("the work failed");
      }),
      insert(driver, 3, "kept too"),
    ]);
    assert.deepEqual(
      outcomes.map((outcome) => outcome.status),
      ["fulfilled", "rejected", "rejected", "fulfilled"],
    );
    assert.match(String((outcomes[1] as PromiseRejectedResult).reason), /UNIQUE/);
    assert.equal((outcomes[2] as PromiseRejectedResult).reason.message, "the work failed");
    assert.deepEqual(committed(), [
      { id: 1, v: "kept" },
      { id: 3, v: "kept too" },
    ]);
    await driver.close();
    close();
  });

  it("when the batch's transaction is lost, every unit of it fails, those that ran before too", async () => {
    const { driver, committed, close } = open();
    const outcomes = await Promise.allSettled([
      insert(driver, 1, "lost"),
      // Ends the batch's transaction under it, as SQLite does on a full disk or an I/O error.
      driver.transaction(async (tx) => tx.query("ROLLBACK")),
      insert(driver, 2, "never run"),
    ]);
    assert.deepEqual(
      outcomes.map((outcome) => outcome.status),
      ["rejected", "rejected", "rejected"],
    );
    assert.deepEqual(committed(), []);
    // The driver goes on: the next turn commits.
    await insert(driver, 4, "next");
    assert.deepEqual(committed(), [{ id: 4, v: "next" }]);
    await driver.close();
    close();
  });

  it("close waits for what was issued, and what comes after fails", async () => {
    const { driver, committed, close } = open();
    const write = insert(driver, 1, "before close");
    await driver.close();
    await write;
    assert.deepEqual(committed(), [{ id: 1, v: "before close" }]);
    await assert.rejects(driver.query("SELECT 1"), /not open/);
    close();
  });
});
