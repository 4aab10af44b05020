// What may wake a script other than a journaled reply, as the child sees it: Python callbacks scheduled and
// not finished, and whether guest code reached the JS that makes promises. A replay hands a recorded reply
// over inside the guest's drain only when none of these can come first (child-calls.ts `takeReply`). Part of the
// child (see bridge.ts): erasable syntax, sibling modules only, intrinsics captured before guest code runs.
import { promiseThen, reflectApply, reflectConstruct, reflectGet } from "./child-intrinsics.ts";

export class Wakeups {
  /**
   * Python callbacks of this run scheduled (steps, timers) and not finished, the one running now included.
   * Pyodide starts a callback that may suspend (JSPI) after a setImmediate of its own and returns a promise
   * of its end, so the child's count of queued steps cannot tell that one is still to run.
   */
  #pythonPending = 0;
  #run = 0;
  #guestMadePromises = false;

  get pythonPending(): number {
    return this.#pythonPending;
  }

  /**
   * Set for the life of the sandbox once guest code reaches `js.Promise` or `js.Array` (`fromAsync`): a
   * callback it attaches to a promise (`.then`) runs from a microtask nothing here counts.
   */
  get guestMadePromises(): boolean {
    return this.#guestMadePromises;
  }

  /** A new run (or a stopped one): callbacks scheduled before it no longer count. */
  newRun(): void {
    this.#run++;
    this.#pythonPending = 0;
  }

  /** The child's own warm-up reached them, not guest code. */
  forgetPromises(): void {
    this.#guestMadePromises = false;
  }

  /** `callback` (a Python callable), counted from now until it has run to its end. */
  counted(callback: () => unknown): () => unknown {
    const scheduledIn = this.#run;
    this.#pythonPending++;
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      if (scheduledIn === this.#run) this.#pythonPending--;
    };
    return () => {
      let result: unknown;
      try {
        result = callback();
      } catch (error) {
        finish();
        throw error;
      }
      if (typeof result !== "object" || result === null) finish();
      else {
        // A rejection stays unhandled, as it was without this count: a fatal Pyodide error must still end
        // the child (the host reports the sandbox's death), not leave the run hanging.
        const rethrow = (error: unknown) => {
          finish();
          throw error;
        };
        try {
          promiseThen(result, finish, rethrow);
        } catch {
          finish();
        }
      }
      return result;
    };
  }

  /** `target` as guest code sees it: reaching it marks that guest code may make promises. */
  watched<T extends object>(target: T): T {
    const mark = () => {
      this.#guestMadePromises = true;
    };
    return new Proxy(target, {
      get(object, key) {
        mark();
        return reflectGet(object, key);
      },
      apply(object, self, args) {
        mark();
        return reflectApply(object as (...args: unknown[]) => unknown, self, args);
      },
      construct(object, args, newTarget) {
        mark();
        return reflectConstruct(object as new (...args: unknown[]) => object, args, newTarget);
      },
    });
  }
}
