// Replay in the sandbox child: a journaled execution runs again and the child answers its calls from the
// journal sent with the run frame (bridge.ts `ReplayFrame`), with no round trip to the host per call. Each
// call is checked against the journal in guest order (tool name and `inputFingerprint`); the recorded
// results are delivered in their recorded completion order, one at a time and only when the script is
// idle (nothing ready to run), as results reach a paused script from the host, so `asyncio.gather`,
// `as_completed` and `wait` see the original order. Part of the child (see bridge.ts): erasable syntax,
// sibling modules only, intrinsics captured before guest code runs.

import * as nodeCrypto from "node:crypto";
import { REPLAY_CANCELLED, type ReplayCall, type ReplayFrame } from "./bridge.ts";
import { inputFingerprint, sha256Hex } from "./canonical-json.ts";

// node:crypto's one-shot hash (Node >= 21.7), captured when the child starts, before guest code runs: 0.3 µs
// for a short input against 1.6 µs for the pure-JS SHA-256, with the same digest. A degraded sandbox on an
// older Node keeps the pure-JS one.
const oneShotHash = (nodeCrypto as { hash?: (algorithm: string, data: string, encoding: string) => string }).hash;
const sha256: (text: string) => string = oneShotHash ? (text) => oneShotHash("sha256", text, "hex") : sha256Hex;

/**
 * What the child does with a call: answer it from the journal (`deliver` hands the reply over later), send it
 * to the host, or stop the run.
 */
export type ReplayAnswer = { kind: "journal" } | { kind: "live" } | { kind: "diverged"; why: string };
const JOURNAL: ReplayAnswer = { kind: "journal" };
const LIVE: ReplayAnswer = { kind: "live" };

/** Hands a journaled reply to the guest's call `callId` (guest_calls.py `_ptc_deliver`). */
export type DeliverReply = (callId: number, reply: string) => void;

export class ChildReplay {
  readonly #calls: ReplayCall[];
  readonly #finished: boolean;
  /** Index of the guest's next call in `#calls`. */
  #next = 0;
  /** The completion order delivered next. */
  #order = 1;
  /** Journal index by completion order. */
  readonly #byOrder = new Map<number, number>();
  /** Calls made and not yet answered: their call ids, by journal index. */
  readonly #waiting = new Map<number, number>();
  readonly #byCallId = new Map<number, number>();
  readonly #cancelled = new Set<number>();
  readonly #deliver: DeliverReply;

  constructor(frame: ReplayFrame, deliver: DeliverReply) {
    this.#deliver = deliver;
    this.#calls = frame.calls;
    this.#finished = frame.finished;
    for (let index = 0; index < this.#calls.length; index++) {
      const call = this.#calls[index];
      if (call && call.reply !== null) this.#byOrder.set(call.completedOrder, index);
    }
  }

  /** The guest's next call, checked against the journal. */
  call(callId: number, name: string, inputJson: string): ReplayAnswer {
    const index = this.#next;
    const journaled = this.#calls[index];
    if (!journaled) {
      if (!this.#finished) return LIVE;
      return { kind: "diverged", why: `the script made a call past the ${this.#calls.length} journaled (${name})` };
    }
    this.#next++;
    if (journaled.tool !== name) {
      return { kind: "diverged", why: `call ${index + 1} is to ${name}; the journal has ${journaled.tool}` };
    }
    let fingerprint = "";
    try {
      fingerprint = inputFingerprint(inputJson, sha256);
    } catch {}
    if (fingerprint !== journaled.argsSha256) {
      return { kind: "diverged", why: `call ${index + 1} (${name}) has other arguments than the journaled one` };
    }
    if (journaled.reply === null) return LIVE;
    this.#byCallId.set(callId, index);
    this.#waiting.set(index, callId);
    return JOURNAL;
  }

  /** The script cancelled call `callId`: true when it was a journaled call (the host never saw it). */
  cancel(callId: number): boolean {
    const index = this.#byCallId.get(callId);
    if (index === undefined) return false;
    this.#byCallId.delete(callId);
    this.#waiting.delete(index);
    this.#cancelled.add(index);
    return true;
  }

  /**
   * Called when the script is idle: delivers the next recorded result if the script has made its call
   * (true), skipping calls the script cancelled as it did originally. False: nothing to deliver now.
   */
  deliverNext(): boolean {
    const index = this.#nextDeliverable();
    if (index < 0) return false;
    const callId = this.#take(index);
    this.#deliver(callId, this.#calls[index]?.reply ?? "");
    return true;
  }

  /** As `deliverNext`, for the guest's drain to deliver itself: `<callId> <reply>`, or "". */
  takeNext(): string {
    const index = this.#nextDeliverable();
    if (index < 0) return "";
    return `${this.#take(index)} ${this.#calls[index]?.reply ?? ""}`;
  }

  #take(index: number): number {
    const callId = this.#waiting.get(index) ?? 0;
    this.#waiting.delete(index);
    this.#byCallId.delete(callId);
    this.#order++;
    return callId;
  }

  /** Journal index of the next recorded result if the script has made its call, else -1. */
  #nextDeliverable(): number {
    for (;;) {
      const index = this.#byOrder.get(this.#order);
      if (index === undefined) return -1;
      if (this.#calls[index]?.reply === REPLAY_CANCELLED) {
        // The script cancelled this call originally; it must do so again before later results come.
        if (!this.#cancelled.has(index)) return -1;
        this.#order++;
        continue;
      }
      return this.#waiting.has(index) ? index : -1;
    }
  }

  /** Journaled calls made and not answered yet. */
  get waiting(): number {
    return this.#waiting.size;
  }

  /** At the script's end: why the run diverged (it ended before the journal did), or null. */
  atEnd(): string | null {
    if (this.#next >= this.#calls.length) return null;
    return `the script ended after ${this.#next} of ${this.#calls.length} journaled calls`;
  }
}
