/**
 * Upstream calls one `/v1/messages` or `/v1/responses` request may make before it returns what it has
 * (`pause_turn`, or an incomplete response): the client sends the turn back to go on. Bounds the time and
 * upstream tokens one request can spend on a model that keeps calling tools whose results it ignores.
 */
export const DEFAULT_MAX_UPSTREAM_TURNS = 20;
