// Durable consumers made on demand by whichever process gets there first, and brought in line
// when a setting that may change (an ack wait that follows WEBHOOK_TIMEOUT_MS) differs from what
// the server has.
import type { Consumer, ConsumerConfig } from "@nats-io/jetstream";
import type { WebhookSource } from "../domain/webhookEvents.ts";
import { isNotFound, type Nats } from "./connection.ts";
import { webhookFanoutConsumerConfig, webhookSourceStream } from "./topology.ts";

type DurableConfig = Partial<ConsumerConfig> & {
  durable_name: string;
  ack_wait: number;
  max_ack_pending: number;
};

export async function ensureDurableConsumer(
  nats: Nats,
  stream: string,
  config: DurableConfig,
): Promise<Consumer> {
  const { jsm, js } = nats;
  const name = config.durable_name;
  try {
    const info = await jsm.consumers.info(stream, name);
    if (info.config.ack_wait !== config.ack_wait || info.config.max_ack_pending !== config.max_ack_pending) {
      await jsm.consumers.update(stream, name, {
        ack_wait: config.ack_wait,
        max_ack_pending: config.max_ack_pending,
      });
    }
  } catch (err) {
    if (!isNotFound(err)) throw err;
    await jsm.consumers.add(stream, config).catch((addErr: unknown) => {
      // Another process made it first.
      if (!String(addErr).includes("already in use")) throw addErr;
    });
  }
  return js.consumers.get(stream, name);
}

export const WEBHOOK_SOURCES: readonly WebhookSource[] = ["blast", "inbound", "consent"];

/**
 * The fan-out's consumers, which read only facts stored after they were made: the gateway makes
 * them when it registers an endpoint, so an endpoint gets its events even when no webhooks
 * service has run yet; the service makes them at start in case they were deleted.
 */
export async function ensureWebhookFanoutConsumers(nats: Nats): Promise<Map<WebhookSource, Consumer>> {
  const consumers = new Map<WebhookSource, Consumer>();
  for (const source of WEBHOOK_SOURCES) {
    consumers.set(
      source,
      await ensureDurableConsumer(nats, webhookSourceStream(source), webhookFanoutConsumerConfig(source)),
    );
  }
  return consumers;
}
