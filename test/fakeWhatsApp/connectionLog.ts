// Every client connection the fake saw, so a test can prove an account never had two open
// sockets at once (the cause of 440 conflicts and diverging Signal state in production).
export interface ConnectionRecord {
  readonly id: number;
  readonly connectedAt: number;
  /** "registration" shows a QR or pairing code; "login" is a linked device coming back. */
  kind: "registration" | "login" | undefined;
  /** The account phone, once the client logged in or paired. */
  account: string | undefined;
  device: number | undefined;
  /** When the server sent `success`: from here the account is open on this socket. */
  openedAt: number | undefined;
  closedAt: number | undefined;
  /** What the server did to end it (e.g. "stream:error 515"), or "client" when the client left. */
  closeReason: string | undefined;
}

export class ConnectionLog {
  private readonly records: ConnectionRecord[] = [];
  private readonly peaks = new Map<string, number>();

  start(): ConnectionRecord {
    const record: ConnectionRecord = {
      id: this.records.length + 1,
      connectedAt: Date.now(),
      kind: undefined,
      account: undefined,
      device: undefined,
      openedAt: undefined,
      closedAt: undefined,
      closeReason: undefined,
    };
    this.records.push(record);
    return record;
  }

  /** Counting at each open is exact: concurrency only grows when a socket opens. */
  opened(record: ConnectionRecord, account: string): void {
    record.account = account;
    record.openedAt = Date.now();
    const open = this.open(account).length;
    this.peaks.set(account, Math.max(this.peaks.get(account) ?? 0, open));
  }

  closed(record: ConnectionRecord, reason: string): void {
    if (record.closedAt !== undefined) return;
    record.closedAt = Date.now();
    record.closeReason ??= reason;
  }

  open(account: string): ConnectionRecord[] {
    return this.records.filter(
      (r) => r.account === account && r.openedAt !== undefined && r.closedAt === undefined,
    );
  }

  maxConcurrent(account: string): number {
    return this.peaks.get(account) ?? 0;
  }

  all(): ConnectionRecord[] {
    return this.records.map((r) => ({ ...r }));
  }
}
