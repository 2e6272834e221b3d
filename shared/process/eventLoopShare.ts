// Long loops over data that is already in memory (parsed rows, acks already received) run on
// resolved promises, which never let timers or sockets in: an import of a million rows would hold
// every other request. A share hands the loop back when a turn has run long enough.
import { setImmediate } from "node:timers/promises";

export class EventLoopShare {
  private turnStarted = performance.now();

  /** `turnMs`: the longest the caller works before others get the loop. */
  constructor(private readonly turnMs = 10) {}

  /** Resolves at once within a turn; after it, on the next pass of the event loop. */
  async yieldIfDue(): Promise<void> {
    if (performance.now() - this.turnStarted < this.turnMs) return;
    await setImmediate();
    this.turnStarted = performance.now();
  }
}
