// "Is this number on WhatsApp?" asked once per number and remembered for a week, so a list with
// dead numbers fails them with a clear reason instead of sending into the void, without asking
// WhatsApp again for every blast.
import type { Redis } from "ioredis";
import type { SessionConnection } from "./transports/transport.ts";

const TTL_SECONDS = 7 * 24 * 3600;

export class NumberCheck {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(phone: string): string {
    return `${this.prefix}onwa:${phone}`;
  }

  async isOnWhatsApp(connection: SessionConnection, phone: string): Promise<boolean> {
    const cached = await this.redis.get(this.key(phone));
    if (cached !== null) return cached === "1";
    const found = (await connection.onWhatsApp([phone])).has(phone);
    await this.redis.set(this.key(phone), found ? "1" : "0", "EX", TTL_SECONDS);
    return found;
  }
}
