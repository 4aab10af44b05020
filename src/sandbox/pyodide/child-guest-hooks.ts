// The guest runtime's entry points the child calls with tool results and replies (guest_calls.py's, or a
// JavaScript run's own), as the current instance connects them. Part of the child (see bridge.ts): erasable
// syntax, sibling modules only.
import type { DeliverReply } from "./child-replay.ts";

/** guest_calls.py's `_ptc_receive`: hands live call `callId` its result and runs the tasks it woke. */
export type ReceiveResult = (callId: number, reply: string) => unknown;
/** guest_calls.py's `_ptc_receive_all`: the same for several results, as lines of `<callId> <reply>`. */
export type ReceiveResults = (batch: string) => unknown;

export interface GuestHooks {
  /** guest_calls.py's `_ptc_deliver`: a journaled call's reply (child-replay.ts). */
  deliver: DeliverReply;
  /** Both through JSPI's promising wrapper where the Node has it: the tasks they run may suspend (asyncio.run). */
  receive: ReceiveResult;
  receiveAll: ReceiveResults;
}

/** Before an instance is built, and while a reset replaces it: nothing to hand over. */
export const NO_GUEST: GuestHooks = { deliver: () => {}, receive: () => {}, receiveAll: () => {} };
/** The connected guest's hooks: read by child-calls.ts for each host chunk's results. */
export let guest: GuestHooks = NO_GUEST;
/** Taken from each instance once guest.py has defined them (child-instance.ts). */
export function connectGuest(hooks: GuestHooks): void {
  guest = hooks;
}
