// Three nodes on one PostgreSQL, 200 simultaneous executions spread over them round robin (issue 13). Three
// `ptc serve --store postgres://… --node-id …` processes; named containers are made on each node first, then
// the burst: one-off executions, executions continuing a named container through whichever node the round
// robin picks (forwarded when that is not the container's node), and executions that pause on a client tool
// whose answer goes through the next node. Every result is checked, and afterwards every container's
// counter must equal the executions it ran: none lost, none run twice.
import {
  type DurableServe,
  isFinal,
  logLines,
  readHealth,
  requestRetrying,
  startDurableServe,
  waitForHealth,
} from "./durability-serve.js";
import type { BenchStores } from "./durability-stores.js";
import { elapsedMs, type Measurement, percentile, sleep, summarize } from "./stats.js";

export interface NodesSettings {
  nodes: number;
  executions: number;
  /** Named containers made before the burst, spread over the nodes. */
  containers: number;
}

type Kind = "oneOff" | "continued" | "clientTool";

const APPROVE = {
  name: "approve",
  description: "asks the client to approve n",
  input_schema: { type: "object", properties: { n: { type: "integer" } }, required: ["n"] },
};

/** Every tenth a one-off, three in ten pause on a client tool, the rest continue a named container. */
function kindOf(index: number): Kind {
  const slot = index % 10;
  return slot === 0 ? "oneOff" : slot <= 3 ? "clientTool" : "continued";
}

function seedOf(container: number): number {
  return container * 7 + 1;
}

interface Outcome {
  index: number;
  kind: Kind;
  container?: number;
  /** The counter value this execution printed (named containers). */
  count?: number;
  latencyMs: number;
  /** Requests sent (retries included), and those of them sent to a node that does not hold the container. */
  requests: number;
  forwardedRequests: number;
  retries: number;
  unavailable: number;
}

class Burst {
  requests = 0;
  constructor(
    readonly nodes: DurableServe[],
    readonly ids: string[],
    readonly holder: number[],
  ) {}

  /** One request, counted; `node` and `container` decide whether it is one a node must forward. */
  async send(node: number, method: string, path: string, body: unknown, container: number | undefined) {
    const answered = await requestRetrying(method, `${this.nodes[node]?.url}${path}`, body);
    const attempts = answered.retries + 1;
    this.requests += attempts;
    const forwarded = container !== undefined && this.holder[container] !== node ? attempts : 0;
    return { ...answered, attempts, forwarded };
  }

  async run(index: number): Promise<Outcome> {
    const kind = kindOf(index);
    const entry = index % this.nodes.length;
    // Not index % containers: with a multiple of the node count that would always be the entry node's own.
    const container = kind === "oneOff" ? undefined : Math.floor(index / this.nodes.length) % this.ids.length;
    const started = performance.now();
    const code =
      kind === "oneOff"
        ? `print("one-off", ${index}, sum(range(${index})))`
        : kind === "continued"
          ? `count += 1\nprint(seed, count)`
          : `answer = await approve(n=${index})\ncount += 1\nprint(seed, count, answer["token"])`;
    const body = {
      code,
      wait: 60,
      ...(container !== undefined ? { container: this.ids[container] } : {}),
      ...(kind === "clientTool" ? { tools: [APPROVE] } : {}),
    };
    let sent = await this.send(entry, "POST", "/v1/executions", body, container);
    let requests = sent.attempts;
    let forwardedRequests = sent.forwarded;
    let retries = sent.retries;
    let unavailable = sent.unavailable;
    // Where the execution lives: polls and the answer's retries go there, so they are never forwarded.
    const home = container === undefined ? entry : (this.holder[container] as number);
    const step = async (node: number, method: string, path: string, payload: unknown) => {
      sent = await this.send(node, method, path, payload, container);
      requests += sent.attempts;
      forwardedRequests += sent.forwarded;
      retries += sent.retries;
      unavailable += sent.unavailable;
    };
    if (kind === "clientTool") {
      while (sent.answer.status === 200 && !isFinal(sent.state) && sent.state.status !== "paused") {
        await step(home, "GET", `/v1/executions/${sent.state.id}?wait=60`, undefined);
      }
      const call = sent.state.pending_tool_calls?.[0];
      if (sent.state.status !== "paused" || call?.name !== "approve" || call.input.n !== index) {
        throw new Error(`execution ${index}: not paused on approve(n=${index}): ${sent.answer.text.slice(0, 1500)}`);
      }
      // Answered through the next node in the round robin, not the one that took the POST.
      const through = (entry + 1) % this.nodes.length;
      await step(through, "POST", `/v1/executions/${sent.state.id}/tool_results`, {
        results: [{ call_id: call.id, content: { token: `t${index}` } }],
        wait: 60,
      });
    }
    while (sent.answer.status === 200 && sent.state.id && !isFinal(sent.state)) {
      await step(home, "GET", `/v1/executions/${sent.state.id}?wait=60`, undefined);
    }
    const latencyMs = elapsedMs(started);
    const stdout = sent.state.result?.stdout;
    if (sent.answer.status !== 200 || sent.state.status !== "completed" || stdout === undefined) {
      throw new Error(`execution ${index} (${kind}): ${sent.answer.status} ${sent.answer.text.slice(0, 400)}`);
    }
    const outcome = { index, kind, latencyMs, requests, forwardedRequests, retries, unavailable };
    if (container === undefined) {
      const expected = `one-off ${index} ${(index * (index - 1)) / 2}\n`;
      if (stdout !== expected) throw new Error(`execution ${index}: printed ${JSON.stringify(stdout)}`);
      return outcome;
    }
    const suffix = kind === "clientTool" ? ` t${index}` : "";
    const match = new RegExp(`^${seedOf(container)} (\\d+)${suffix}\\n$`).exec(stdout);
    if (!match)
      throw new Error(`execution ${index} (${kind}, container ${container}): printed ${JSON.stringify(stdout)}`);
    return { ...outcome, container, count: Number(match[1]) };
  }
}

export interface NodesResult {
  measurements: Measurement[];
  wallS: number;
  perSecond: number;
  forwarded: number;
}

async function makeContainers(nodes: DurableServe[], count: number): Promise<{ ids: string[]; holder: number[] }> {
  const ids: string[] = [];
  const holder: number[] = [];
  // Each node makes its share two at a time (its pool starts two sandboxes at once); the nodes in parallel.
  await Promise.all(
    nodes.map(async (node, n) => {
      const mine = Array.from({ length: count }, (_, c) => c).filter((c) => c % nodes.length === n);
      for (let k = 0; k < mine.length; k += 2) {
        await Promise.all(
          mine.slice(k, k + 2).map(async (c) => {
            const { answer, state } = await requestRetrying("POST", `${node.url}/v1/executions`, {
              code: `seed = ${seedOf(c)}\ncount = 0\nprint(seed)`,
              wait: 60,
            });
            if (state.status !== "completed" || state.result?.stdout !== `${seedOf(c)}\n` || !state.container_id) {
              throw new Error(`container ${c} on ${node.nodeId}: ${answer.status} ${answer.text.slice(0, 300)}`);
            }
            ids[c] = state.container_id;
            holder[c] = n;
          }),
        );
      }
    }),
  );
  for (const [n, node] of nodes.entries()) {
    const held = new Set(((await readHealth(node.url)).leases ?? []).map((lease) => lease.container_id));
    for (const [c, id] of ids.entries()) {
      if ((holder[c] === n) !== held.has(id)) throw new Error(`container ${c}: ${node.nodeId}'s leases disagree`);
    }
  }
  return { ids, holder };
}

/** Requests each node logged for /v1/ (a forwarded request is logged by the node that forwards it and by its owner). */
function loggedApiRequests(nodes: readonly DurableServe[]): number {
  return nodes.reduce(
    (sum, node) => sum + logLines(node, "request").filter((line) => String(line.path).startsWith("/v1/")).length,
    0,
  );
}

export async function threeNodes(stores: BenchStores, settings: NodesSettings): Promise<NodesResult> {
  const store = await stores.url("postgres", "nodes");
  const names = Array.from({ length: settings.nodes }, (_, n) => `node-${String.fromCharCode(97 + n)}`);
  const started = await Promise.allSettled(
    names.map((nodeId) => startDurableServe({ store, nodeId, server: { maxContainers: 32, maxContainersPerKey: 32 } })),
  );
  const nodes = started.flatMap((each) => (each.status === "fulfilled" ? [each.value] : []));
  let result: NodesResult;
  let exitCodes: Array<number | null> = [];
  try {
    const failed = started.find((each) => each.status === "rejected");
    if (failed) throw failed.reason;
    await Promise.all(nodes.map((node) => waitForHealth(node.url, (h) => h.pool.warm >= 2, 60_000, "warm pool")));
    const { ids, holder } = await makeContainers(nodes, settings.containers);
    await sleep(300);
    const loggedBefore = loggedApiRequests(nodes);
    const burst = new Burst(nodes, ids, holder);
    const burstStarted = performance.now();
    const outcomes = await Promise.all(Array.from({ length: settings.executions }, (_, index) => burst.run(index)));
    const wallMs = elapsedMs(burstStarted);
    await sleep(500);
    const forwarded = loggedApiRequests(nodes) - loggedBefore - burst.requests;
    const predicted = outcomes.reduce((sum, each) => sum + each.forwardedRequests, 0);
    if (forwarded !== predicted) {
      throw new Error(
        `${forwarded} requests forwarded by the logs, ${predicted} sent to a node not holding the container`,
      );
    }
    // None lost, none run twice: each container's counter took every value 1..k once, and reads k now.
    for (const [c, id] of ids.entries()) {
      const counts = outcomes
        .filter((each) => each.container === c)
        .map((each) => each.count as number)
        .sort((a, b) => a - b);
      if (counts.some((count, k) => count !== k + 1)) throw new Error(`container ${c}: counts ${counts.join(",")}`);
      const { state } = await requestRetrying("POST", `${nodes[(c + 1) % nodes.length]?.url}/v1/executions`, {
        code: "print(seed, count)",
        container: id,
        wait: 60,
      });
      if (state.result?.stdout !== `${seedOf(c)} ${counts.length}\n`) {
        throw new Error(`container ${c}: ${JSON.stringify(state.result?.stdout)} after ${counts.length} executions`);
      }
    }
    const retries = outcomes.reduce((sum, each) => sum + each.retries, 0);
    const unavailable = outcomes.reduce((sum, each) => sum + each.unavailable, 0);
    const latencies = (kind?: Kind) =>
      outcomes.filter((each) => kind === undefined || each.kind === kind).map((each) => each.latencyMs);
    const count = (kind: Kind) => outcomes.filter((each) => each.kind === kind).length;
    const perSecond = (settings.executions * 1000) / wallMs;
    const all = latencies();
    const measurements: Measurement[] = [
      summarize(
        "nodes_wall",
        `${settings.executions} simultaneous executions over ${settings.nodes} nodes (first POST to last result)`,
        "s",
        [wallMs / 1000],
        `${settings.executions}/${settings.executions} completed, stdout checked; every container's counter = its executions`,
      ),
      summarize("nodes_rate", "  executions per second", "exec/s", [perSecond]),
      summarize(
        "nodes_latency",
        "  latency per execution, all",
        "ms",
        all,
        `${burst.requests} requests, ${retries} of them retries (${retries - unavailable} after a 429, ${unavailable} after a 503)`,
      ),
      summarize(
        "nodes_latency_oneOff",
        `  one-off, on the node that got it (${count("oneOff")})`,
        "ms",
        latencies("oneOff"),
      ),
      summarize(
        "nodes_latency_continued",
        `  continuing a named container, any node (${count("continued")})`,
        "ms",
        latencies("continued"),
      ),
      summarize(
        "nodes_latency_clientTool",
        `  paused on a client tool, answered via the next node (${count("clientTool")})`,
        "ms",
        latencies("clientTool"),
        "from the POST to the result, the client's turn-around included",
      ),
      summarize(
        "nodes_forwarded",
        "  requests forwarded to the container's node",
        "count",
        [forwarded],
        `= /v1 request log lines of all nodes − requests sent; equals those sent to a non-holder (${predicted})`,
      ),
    ];
    if (percentile(all, 1) > 90_000) process.stderr.write("  (slowest execution took more than 90 s)\n");
    result = { measurements, wallS: wallMs / 1000, perSecond, forwarded };
  } finally {
    exitCodes = await Promise.all(nodes.map((node) => node.stop()));
  }
  if (exitCodes.some((code) => code !== 0)) throw new Error(`a node exited with ${exitCodes.join(", ")}`);
  return result;
}
