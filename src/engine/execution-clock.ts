/** CPU time is read in ticks of 10 ms: re-reading it sooner than this finds little new. */
const MIN_CPU_RECHECK_MS = 50;

/**
 * One execution's clocks: active time against `activeTimeoutMs`, and time spent waiting on tools.
 *
 * Active time is the sandbox's CPU time where the host can read it (Linux): a script asleep
 * (time.sleep, asyncio.sleep) or waiting on tools uses none and is bounded by the wall timeout alone,
 * and one computing beside an outstanding call is charged for it. Elsewhere it is the wall time the
 * script runs with no tool call outstanding. CPU time is read only once the wall clock says the limit
 * could have been reached, then as often as the remainder requires.
 */
export class ExecutionClock {
  #activeMs = 0;
  #activeSince: number | null = null;
  #activeTimer: NodeJS.Timeout | undefined;
  /** Reads the sandbox's CPU time, and what it was when the script started (where the host can read it). */
  #readCpuTime: () => number | undefined = () => undefined;
  #cpuAtStart: number | undefined;
  #cpuUsed: number | undefined;
  #toolWaitMs = 0;
  #toolWaitSince: number | null = null;
  #started = false;
  /** The run is over: no clock starts again (a timer armed after the end would keep it on the event loop). */
  #ended = false;

  constructor(
    private readonly activeTimeoutMs: number,
    /** Called once the script has used its active time; the message says which clock measured it. */
    private readonly onActiveTimeout: (message: string) => void,
  ) {}

  get activeMs(): number {
    return this.#activeMs;
  }

  get toolWaitMs(): number {
    return this.#toolWaitMs;
  }

  /** The script starts running now, in a sandbox whose CPU time `readCpuTime` reads. */
  start(readCpuTime: () => number | undefined): void {
    this.#readCpuTime = readCpuTime;
    this.#cpuAtStart = readCpuTime();
    this.#started = true;
    this.#startActive();
  }

  /** The number of unanswered tool calls changed; `mayResume` is false once the execution is stopping. */
  outstandingChanged(outstanding: number, mayResume = true): void {
    const now = performance.now();
    // Where the sandbox's CPU time is readable, it is charged whatever is outstanding: a script that
    // computes beside an unanswered call is computing, not waiting.
    const byCpu = this.#cpuAtStart !== undefined;
    if (outstanding > 0 && this.#toolWaitSince === null) {
      this.#toolWaitSince = now;
      if (!byCpu) this.#pauseActive();
    } else if (outstanding === 0 && this.#toolWaitSince !== null) {
      this.#toolWaitMs += now - this.#toolWaitSince;
      this.#toolWaitSince = null;
      if (!byCpu && mayResume && this.#started && !this.#ended) this.#startActive();
    }
  }

  /** The run is over: tool waits end first, then the active clock stops for good, at the CPU time where read. */
  end(): void {
    this.#ended = true;
    this.outstandingChanged(0, false);
    this.#pauseActive();
    clearTimeout(this.#activeTimer);
    this.#readCpu();
    if (this.#cpuUsed !== undefined) this.#activeMs = this.#cpuUsed;
  }

  #startActive(): void {
    if (this.#activeSince !== null) return;
    this.#activeSince = performance.now();
    const remaining = this.activeTimeoutMs - this.#activeMs;
    this.#activeTimer = setTimeout(() => this.#checkActive(), Math.max(0, remaining));
  }

  #checkActive(): void {
    const limit = this.activeTimeoutMs;
    this.#readCpu();
    if (this.#cpuUsed !== undefined && this.#cpuUsed < limit) {
      this.#activeTimer = setTimeout(() => this.#checkActive(), Math.max(MIN_CPU_RECHECK_MS, limit - this.#cpuUsed));
      return;
    }
    this.onActiveTimeout(
      this.#cpuUsed === undefined
        ? `script ran for more than ${limit} ms (excluding tool waits)`
        : `script used more than ${limit} ms of CPU time`,
    );
  }

  #readCpu(): void {
    const now = this.#cpuAtStart === undefined ? undefined : this.#readCpuTime();
    if (now !== undefined && this.#cpuAtStart !== undefined) this.#cpuUsed = now - this.#cpuAtStart;
  }

  #pauseActive(): void {
    if (this.#activeSince === null) return;
    this.#activeMs += performance.now() - this.#activeSince;
    this.#activeSince = null;
    clearTimeout(this.#activeTimer);
  }
}
