// At most one progress message per blast per interval, the latest one winning, and a change of
// status (paused, completed...) sent at once so nobody waits to see the final state.
import type { BlastProgress } from "../../shared/domain/blast.ts";

export class ProgressThrottle {
  private readonly last = new Map<string, { at: number; status: string }>();
  private readonly pending = new Map<string, { progress: BlastProgress; timer: NodeJS.Timeout }>();

  constructor(
    private readonly intervalMs: number,
    private readonly emit: (progress: BlastProgress) => void,
    private readonly now: () => number = Date.now,
  ) {}

  offer(progress: BlastProgress): void {
    const { blastId } = progress;
    const previous = this.last.get(blastId);
    const waiting = this.pending.get(blastId);
    const statusChanged = previous !== undefined && previous.status !== progress.status;
    const due = previous === undefined || this.now() - previous.at >= this.intervalMs;
    if (statusChanged || due) {
      if (waiting) clearTimeout(waiting.timer);
      this.pending.delete(blastId);
      this.send(progress);
      return;
    }
    if (waiting) {
      waiting.progress = progress;
      return;
    }
    const timer = setTimeout(
      () => {
        const latest = this.pending.get(blastId);
        this.pending.delete(blastId);
        if (latest) this.send(latest.progress);
      },
      this.intervalMs - (this.now() - previous.at),
    );
    this.pending.set(blastId, { progress, timer });
  }

  private send(progress: BlastProgress): void {
    this.last.set(progress.blastId, { at: this.now(), status: progress.status });
    if (progress.status === "completed" || progress.status === "cancelled")
      this.last.delete(progress.blastId);
    this.emit(progress);
  }

  close(): void {
    for (const { timer } of this.pending.values()) clearTimeout(timer);
    this.pending.clear();
  }
}
