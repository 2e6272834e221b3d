// The server's memory of linked devices: which companion devices each account (phone number) has
// paired, so that a restarted client logs in with its noise key instead of showing a new QR.
export interface LinkedDevice {
  readonly account: string;
  readonly device: number;
  readonly jid: string;
  /** The client's static noise key; a login from another key is refused like a revoked device. */
  readonly noiseKey: Buffer;
  readonly identityKey: Buffer;
  readonly registrationId: number;
  /** One-time prekeys the device uploaded, so `iq encrypt <count/>` answers truthfully. */
  preKeyCount: number;
}

export class AccountRegistry {
  private readonly accounts = new Map<string, Map<number, LinkedDevice>>();
  private readonly lastDevice = new Map<string, number>();

  link(
    account: string,
    keys: Pick<LinkedDevice, "noiseKey" | "identityKey" | "registrationId">,
  ): LinkedDevice {
    const device = (this.lastDevice.get(account) ?? 0) + 1;
    this.lastDevice.set(account, device);
    const linked: LinkedDevice = {
      account,
      device,
      jid: `${account}:${device}@s.whatsapp.net`,
      ...keys,
      preKeyCount: 0,
    };
    let devices = this.accounts.get(account);
    if (!devices) {
      devices = new Map();
      this.accounts.set(account, devices);
    }
    devices.set(device, linked);
    return linked;
  }

  find(account: string, device: number): LinkedDevice | undefined {
    return this.accounts.get(account)?.get(device);
  }

  devices(account: string): LinkedDevice[] {
    return [...(this.accounts.get(account)?.values() ?? [])];
  }

  /** Forgets one device, or all devices of the account when `device` is omitted. */
  unlink(account: string, device?: number): LinkedDevice[] {
    const devices = this.accounts.get(account);
    if (!devices) return [];
    const removed = [...devices.values()].filter((d) => device === undefined || d.device === device);
    for (const d of removed) devices.delete(d.device);
    return removed;
  }
}
