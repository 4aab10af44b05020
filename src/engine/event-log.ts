/**
 * An append-only list of events that any number of readers iterate from the start, each at its own
 * pace: a late subscriber (an SSE client reconnecting, a test) still sees every event in order.
 */
export class EventLog<T> {
  #items: T[] = [];
  #closed = false;
  #wakeups: Array<() => void> = [];

  push(item: T): void {
    if (this.#closed) return;
    this.#items.push(item);
    this.#wake();
  }

  close(): void {
    this.#closed = true;
    this.#wake();
  }

  get items(): readonly T[] {
    return this.#items;
  }

  async *iterate(): AsyncGenerator<T, void, undefined> {
    let index = 0;
    while (true) {
      while (index < this.#items.length) yield this.#items[index++] as T;
      if (this.#closed) return;
      await new Promise<void>((resolve) => this.#wakeups.push(resolve));
    }
  }

  #wake(): void {
    // Most pushes find no reader waiting: no new array for them (two events per tool call).
    if (this.#wakeups.length === 0) return;
    const wakeups = this.#wakeups;
    this.#wakeups = [];
    for (const wake of wakeups) wake();
  }
}
