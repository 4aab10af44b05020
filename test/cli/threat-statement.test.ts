import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { threatStatement } from "../../src/cli/threat-statement.js";
import type { IsolationReport } from "../../src/protocol/execution.js";

const isolation = (overrides: Partial<IsolationReport>): IsolationReport => ({
  level: "namespaces",
  runtime: "pyodide in a child process",
  nodeVersion: "v26.10.0",
  bubblewrap: true,
  networkBlocked: true,
  filesystem: "pyodide-read-only",
  codeGenerationFromStrings: false,
  stackSwitching: true,
  notes: [],
  ...overrides,
});

describe("ptc doctor's threat statement", () => {
  test("with bubblewrap and Node 26: every layer in force, only the general caveats left", () => {
    const statement = threatStatement(isolation({}));
    assert.ok(statement.layers.every((layer) => layer.inForce));
    assert.ok(!statement.notProtected.some((item) => /NETWORK|without bubblewrap/.test(item)));
  });

  test("without bubblewrap on Node 26: the namespaces layer is out, the network still blocked by permissions", () => {
    const statement = threatStatement(isolation({ bubblewrap: false, level: "permission-model" }));
    const namespaces = statement.layers.find((layer) => layer.name === "bubblewrap namespaces");
    assert.equal(namespaces?.inForce, false);
    assert.match(statement.notProtected[0] ?? "", /without bubblewrap/);
    assert.ok(!statement.notProtected.some((item) => /NETWORK/.test(item)));
  });

  test("without bubblewrap on Node 20: says the network is reachable, first", () => {
    const statement = threatStatement(
      isolation({ bubblewrap: false, networkBlocked: false, nodeVersion: "v20.20.2", level: "permission-model" }),
    );
    assert.match(statement.notProtected[0] ?? "", /NETWORK is reachable/);
    const permission = statement.layers.find((layer) => layer.name.includes("permission model"));
    assert.match(permission?.detail ?? "", /NOT the network/);
  });
});
