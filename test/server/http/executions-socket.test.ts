import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { configuredApiKeys } from "../../../src/cli/serve-command.js";
import { EVERYTHING } from "../../helpers/mcp-servers.js";
import { startServingCli } from "../../helpers/server.js";
import { KEY_A, KEY_B, type WireState } from "../../helpers/server-executions.js";

describe("ptc serve over a real socket", () => {
  test("configured keys come from the config and PTC_API_KEYS", () => {
    assert.deepEqual(configuredApiKeys(["a", " b "], { PTC_API_KEYS: "c, ,a,d" }), ["a", "b", "c", "d"]);
    assert.deepEqual(configuredApiKeys(undefined, {}), []);
  });

  test("health, an execution calling a configured MCP server, and SIGTERM → exit 0 with no child left", async () => {
    const directory = await mkdtemp(join(tmpdir(), "ptc-serve-"));
    const config = join(directory, "ptc.config.json");
    // The same project config as the CLI: an MCP server's tools are callable from the server's executions.
    await writeFile(
      config,
      JSON.stringify({
        server: { apiKeys: [KEY_A] },
        mcpServers: { everything: { command: process.execPath, args: [EVERYTHING, "stdio"] } },
      }),
    );
    // The CLI from source (bin/ptc.js runs dist/, which may predate this checkout's changes).
    const served = await startServingCli(["serve", "--config", config, "--port", "0"], {
      fromSource: true,
      env: { ...process.env, PTC_API_KEYS: KEY_B },
    });
    try {
      const { url } = served;
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
      const health = await fetch(`${url}/health`);
      assert.equal(health.status, 200);
      assert.equal(((await health.json()) as { status: string }).status, "ok");
      const keyHeaders: Array<Record<string, string>> = [{ "x-api-key": KEY_A }, { authorization: `Bearer ${KEY_B}` }];
      for (const headers of keyHeaders) {
        const response = await fetch(`${url}/v1/executions`, {
          method: "POST",
          headers: { "content-type": "application/json", ...headers },
          body: JSON.stringify({ code: 'r = await everything__echo(message="hi")\nprint(6 * 7, r)' }),
        });
        assert.equal(response.status, 200);
        assert.ok(response.headers.get("request-id")?.startsWith("req_"));
        const state = (await response.json()) as WireState;
        assert.equal(state.result?.stdout, "42 Echo: hi\n", JSON.stringify(state.result?.error));
      }
      const code = await served.stop();
      const stderr = served.stderr();
      assert.equal(code, 0, stderr);
      const processes = execFileSync("ps", ["-eo", "args"], { encoding: "utf8" });
      assert.ok(!processes.includes(`${EVERYTHING} stdio`), "the MCP server does not outlive ptc serve");
      const lines = stderr
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      const request = lines.find((line) => line.msg === "request" && line.path === "/v1/executions");
      assert.ok(request && typeof request.execution_id === "string" && request.status === 200);
      assert.ok(!stderr.includes(KEY_A) && !stderr.includes(KEY_B), "API keys never reach the logs");
      assert.ok(!stderr.includes("6 * 7"), "code never reaches the logs");
    } finally {
      if (served.child.exitCode === null) served.child.kill("SIGKILL");
    }
  });
});
