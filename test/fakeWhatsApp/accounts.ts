// The server's memory of linked devices: which companion devices each account (phone number) has
// paired, so that a restarted client logs in with its noise key instead of showing a new QR.
import { lidOf, type DeviceBundle } from "./fakePhones.ts";

export interface LinkedDevice {
  readonly account: string;
  readonly device: number;
  readonly jid: string;
  /** The same device under the account's LID, as `success` and `pair-success` announce it. */
  readonly lidJid: string;
  /** The client's static noise key; a login from another key is refused like a revoked device. */
  readonly noiseKey: Buffer;
  readonly identityKey: Buffer;
  readonly registrationId: number;
  /** The signed prekey from the registration payload: with the identity, enough for a session. */
  readonly signedPreKey: DeviceBundle["signedPreKey"];
  /** One-time prekeys the device uploaded and nobody has spent yet. */
  readonly preKeys: { keyId: number; publicKey: Uint8Array }[];
  /** One-time prekeys the device uploaded, so `iq encrypt <count/>` answers truthfully. */
  preKeyCount: number;
  /** The phone pushes its history once, to a newly linked device. */
  historyPushed: boolean;
}

/** What a phone fetches to message a linked device: one unspent one-time prekey each time. */
export function bundleOf(device: LinkedDevice): DeviceBundle {
  const preKey = device.preKeys.shift();
  return {
    registrationId: device.registrationId,
    identityKey: device.identityKey,
    signedPreKey: device.signedPreKey,
    ...(preKey ? { preKey } : {}),
  };
}

export class AccountRegistry {
  private readonly accounts = new Map<string, Map<number, LinkedDevice>>();
  private readonly lastDevice = new Map<string, number>();

  link(
    account: string,
    keys: Pick<LinkedDevice, "noiseKey" | "identityKey" | "registrationId" | "signedPreKey">,
  ): LinkedDevice {
    const device = (this.lastDevice.get(account) ?? 0) + 1;
    this.lastDevice.set(account, device);
    const linked: LinkedDevice = {
      account,
      device,
      jid: `${account}:${device}@s.whatsapp.net`,
      lidJid: `${lidOf(account)}:${device}@lid`,
      ...keys,
      preKeys: [],
      preKeyCount: 0,
      historyPushed: false,
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
