import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, describe, test } from "node:test";
import { HttpToolSource } from "../../../src/sources/http/http-tool-source.js";
import { callContext } from "../../helpers/engine.js";

const servers: Server[] = [];
after(() => {
  for (const server of servers) server.closeAllConnections();
  return Promise.all(servers.map((server) => new Promise((done) => server.close(done))));
});

/** A bare node:http server (a ptc-tools/1 server as seen on the wire), counting its connections. */
async function serve(handle: (request: IncomingMessage, response: ServerResponse, body: string) => void) {
  const seen = {
    connections: 0,
    requests: [] as Array<{ url: string; headers: IncomingMessage["headers"]; rawHeaders: string[] }>,
  };
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      seen.requests.push({ url: request.url ?? "", headers: request.headers, rawHeaders: request.rawHeaders });
      handle(request, response, Buffer.concat(chunks).toString("utf8"));
    });
  });
  server.on("connection", () => seen.connections++);
  servers.push(server);
  await new Promise<void>((ready) => server.listen(0, "127.0.0.1", ready));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

function answer(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  response.end(text);
}

describe("HTTP tool source transport", () => {
  test("calls reuse one kept-alive connection and send the source's headers, the protocol's winning", async () => {
    const { url, seen } = await serve((_request, response, body) => {
      const { input } = JSON.parse(body) as { input: { n: number } };
      answer(response, 200, { content: input.n * 2 });
    });
    const source = new HttpToolSource("wire", {
      url: `${url}/base`,
      token: "t0k",
      headers: { "X-Team": "ptc", accept: "text/html" },
    });
    try {
      const contexts = Array.from({ length: 10 }, () => callContext());
      for (const [n, context] of contexts.entries())
        assert.equal(await source.callTool("double", { n }, context), n * 2);
      assert.equal(seen.connections, 1);
      assert.equal(seen.requests.length, 10);
      const [first] = seen.requests;
      assert.equal(first?.url, "/base/tools/double/call");
      assert.equal(first?.headers.accept, "application/json");
      assert.equal(first?.headers["x-team"], "ptc");
      assert.equal(first?.headers.authorization, "Bearer t0k");
      assert.equal(first?.headers["ptc-protocol"], "ptc-tools/1");
      assert.equal(first?.headers["content-type"], "application/json");
      assert.deepEqual(
        seen.requests.map((request) => request.headers["idempotency-key"]),
        contexts.map((context) => context.callId),
      );
    } finally {
      await source.close();
    }
  });

  test("each header goes once: Host the URL's unless configured, length the body's, idempotency key the call's", async () => {
    const bodies: string[] = [];
    const { url, seen } = await serve((_request, response, body) => {
      bodies.push(body);
      answer(response, 200, { content: "ok" });
    });
    const names = (request: { rawHeaders: string[] } | undefined) =>
      (request?.rawHeaders ?? []).filter((_, index) => index % 2 === 0).map((name) => name.toLowerCase());
    const plain = new HttpToolSource("wire", { url: `${url.replace("//", "//us%20er:p%3Ass@")}/base?tenant=7` });
    const overriding = new HttpToolSource("wire", {
      url,
      headers: {
        HOST: "tools.internal",
        "content-length": "999",
        "idempotency-key": "fixed",
        "content-type": "text/x",
      },
    });
    try {
      await plain.callTool("t", {}, callContext());
      const context = callContext();
      await overriding.callTool("t", {}, context);
      const [first, second] = seen.requests;
      assert.equal(first?.url, "/base/tools/t/call?tenant=7");
      assert.equal(first?.headers.host, new URL(url).host);
      assert.equal(first?.headers.authorization, `Basic ${Buffer.from("us er:p:ss").toString("base64")}`);
      assert.equal(second?.headers.host, "tools.internal");
      assert.equal(second?.headers["idempotency-key"], context.callId);
      assert.equal(second?.headers["content-type"], "application/json");
      assert.equal(Number(second?.headers["content-length"]), Buffer.byteLength(bodies[1] ?? ""));
      for (const request of [first, second]) {
        const seenNames = names(request);
        assert.deepEqual(seenNames, [...new Set(seenNames)], "no header twice");
      }
    } finally {
      await plain.close();
      await overriding.close();
    }
  });

  test("a kept-alive connection the server dropped is replaced without using the call's one retry", async () => {
    let requests = 0;
    const { url, seen } = await serve((request, response) => {
      requests++;
      // The 2nd request arrives on the kept-alive connection, which the server drops unanswered (as one
      // closing an idle connection at that moment); the 3rd, on a new connection, is a 503; the 4th succeeds.
      if (requests === 2) request.socket.destroy();
      else if (requests === 3) answer(response, 503, { error: { message: "restarting" } });
      else answer(response, 200, { content: requests });
    });
    const source = new HttpToolSource("wire", { url });
    try {
      assert.equal(await source.callTool("count", {}, callContext()), 1);
      const context = callContext();
      assert.equal(await source.callTool("count", {}, context), 4);
      assert.deepEqual(
        seen.requests.slice(1).map((each) => each.headers["idempotency-key"]),
        [context.callId, context.callId, context.callId],
      );
    } finally {
      await source.close();
    }
  });
});
