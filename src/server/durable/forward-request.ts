import { ErrorCode, PtcError } from "../../protocol/errors.js";

/** Set on a request one node forwards to another: a forwarded request is never forwarded again. */
export const FORWARDED_BY_HEADER = "ptc-forwarded-by";

/** Hop-by-hop headers (RFC 9110 §7.6.1) and those the body's re-encoding sets anew. */
const DROPPED = ["connection", "keep-alive", "transfer-encoding", "te", "upgrade", "host", "content-length", "expect"];

/**
 * Thrown where a request reaches a container another live node holds: the route that caught it forwards
 * the request there (`forwardRequest`). Not an error the client sees.
 */
export class ContainerElsewhere extends Error {
  constructor(
    readonly containerId: string,
    readonly nodeId: string,
    readonly url: string,
  ) {
    super(`container ${containerId} is held by node ${nodeId}`);
    this.name = "ContainerElsewhere";
  }
}

/**
 * Sends `request` (its body already read as `body`) to the node in `target` and returns that node's
 * response as it streams (SSE included). Authentication travels as the client sent it: nodes share keys.
 * A request that was itself forwarded, or a node that does not answer, is a 503 with `Retry-After`: the
 * container is moving, and the client's retry finds its new node.
 */
export async function forwardRequest(
  request: Request,
  body: string | undefined,
  target: ContainerElsewhere,
  self: string,
  retryAfterSeconds: number,
): Promise<Response> {
  if (request.headers.has(FORWARDED_BY_HEADER)) {
    throw new PtcError(
      ErrorCode.NodeUnreachable,
      `container ${target.containerId} is moving between nodes; retry`,
      { containerId: target.containerId },
      { retryAfterSeconds },
    );
  }
  const incoming = new URL(request.url);
  const url = new URL(incoming.pathname + incoming.search, target.url);
  const headers = new Headers(request.headers);
  for (const name of DROPPED) headers.delete(name);
  headers.set(FORWARDED_BY_HEADER, self);
  let response: Response;
  try {
    response = await fetch(url, {
      method: request.method,
      headers,
      ...(body !== undefined && request.method !== "GET" && request.method !== "HEAD" ? { body } : {}),
      signal: request.signal,
      redirect: "manual",
    });
  } catch (error) {
    if (request.signal.aborted) throw error;
    throw new PtcError(
      ErrorCode.NodeUnreachable,
      `node ${target.nodeId}, which holds container ${target.containerId}, did not answer; retry`,
      { containerId: target.containerId, nodeId: target.nodeId },
      { retryAfterSeconds, cause: error },
    );
  }
  const out = new Headers(response.headers);
  for (const name of [...DROPPED, "content-encoding"]) out.delete(name);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers: out });
}
