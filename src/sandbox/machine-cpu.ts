import { cpus } from "node:os";

/**
 * The machine's CPU times are read at most this often (`os.cpus()` reads /proc/stat, ~50 µs): a window of
 * at least this long, at the 10 ms resolution of those times.
 */
const MIN_WINDOW_MS = 250;

/** Summed over every core: ms spent running anything (user, nice, system, interrupts) and in all. */
function cpuTimes(): { busy: number; total: number; cores: number } {
  let busy = 0;
  let total = 0;
  const each = cpus();
  for (const { times } of each) {
    const running = times.user + times.nice + times.sys + times.irq;
    busy += running;
    total += running + times.idle;
  }
  return { busy, total, cores: each.length };
}

/**
 * How many of the machine's cores were busy (any process's work, sandboxes' and others') over the latest
 * window of at least `MIN_WINDOW_MS` that ended at a call: read when asked, never by a timer.
 */
export class MachineCpu {
  #at: number;
  #times: { busy: number; total: number; cores: number };
  #busyCores: number | undefined;

  constructor(now = performance.now()) {
    this.#at = now;
    this.#times = cpuTimes();
  }

  /** Busy cores over the latest window (0 up to the core count); undefined until one has passed. */
  busyCores(now = performance.now()): number | undefined {
    if (now - this.#at < MIN_WINDOW_MS) return this.#busyCores;
    const times = cpuTimes();
    const total = times.total - this.#times.total;
    // The times' share of the window, not the window's wall: cores that went offline count as idle.
    if (total > 0) this.#busyCores = ((times.busy - this.#times.busy) / total) * times.cores;
    this.#at = now;
    this.#times = times;
    return this.#busyCores;
  }
}
