// Keeps one delivery loop per enabled endpoint in this process: started when an endpoint is
// registered or enabled, stopped when it is disabled or deleted, started again when its loop
// ended. It looks when the gateway says something changed (core NATS `webhooks.changed`) and
// every few seconds anyway, since a notice can be missed. It also deletes the consumers of
// endpoints that no longer exist (a process with a stale view may have made one again), and what
// was queued for them after the gateway purged their queue.
import type { Subscription } from "@nats-io/transport-node";
import { subjects, WEBHOOK_DELIVERIES, webhookConsumer } from "../../shared/nats/topology.ts";
import type { WebhookEndpoints } from "../../shared/redis/webhooks.ts";
import { EndpointDelivery, type DeliveryDeps } from "./endpointDelivery.ts";

export interface SupervisorDeps extends DeliveryDeps {
  readonly endpoints: WebhookEndpoints;
  /** How often to look without being told. */
  readonly refreshMs?: number;
}

const CONSUMER_PREFIX = webhookConsumer("");

export class DeliverySupervisor {
  private readonly workers = new Map<string, EndpointDelivery>();
  private subscription: Subscription | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(private readonly deps: SupervisorDeps) {}

  async start(): Promise<void> {
    await this.reconcile();
    this.subscription = this.deps.nats.nc.subscribe(subjects.webhooksChanged, {
      callback: () => void this.requestReconcile(),
    });
    this.timer = setInterval(() => void this.requestReconcile(), this.deps.refreshMs ?? 5000);
  }

  /** The endpoints this process delivers to now (tests). */
  endpointIds(): string[] {
    return [...this.workers.keys()];
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.subscription?.unsubscribe();
    await this.running;
    await Promise.all([...this.workers.values()].map((w) => w.stop()));
    this.workers.clear();
  }

  /** Runs a reconcile, or one more after the one running: never two at once, none lost. */
  private requestReconcile(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.reconcile().catch((err: unknown) =>
          this.deps.log.warn({ err }, "webhook endpoints not reconciled"),
        );
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async reconcile(): Promise<void> {
    if (this.stopped) return;
    // Consumers and queues are listed before endpoints are read: an endpoint is stored before anyone
    // makes its consumer or queues for it, so one listed here whose endpoint the later read lacks
    // was deleted.
    const consumers = await this.consumerNames();
    const queues = await this.queuedEndpointIds();
    const endpoints = await this.deps.endpoints.list();
    const known = new Set(endpoints.map((e) => e.webhookId));
    const wanted = new Set(endpoints.filter((e) => e.enabled).map((e) => e.webhookId));
    for (const [id, worker] of this.workers) {
      if (wanted.has(id) && !worker.finished) continue;
      this.workers.delete(id);
      await worker.stop();
    }
    for (const id of wanted) {
      if (this.workers.has(id) || this.stopped) continue;
      const worker = new EndpointDelivery(id, this.deps);
      try {
        await worker.start();
        this.workers.set(id, worker);
      } catch (err) {
        this.deps.log.warn({ err, webhookId: id }, "webhook delivery not started; trying again soon");
      }
    }
    for (const name of consumers) {
      const id = name.slice(CONSUMER_PREFIX.length);
      if (known.has(id)) continue;
      await this.deps.nats.jsm.consumers.delete(WEBHOOK_DELIVERIES, name).catch(() => undefined);
    }
    // A fact fanned out while its endpoint was being deleted lands after the gateway's purge.
    for (const id of queues) {
      if (known.has(id)) continue;
      await this.deps.nats.jsm.streams.purge(WEBHOOK_DELIVERIES, { filter: subjects.webhookEndpoint(id) });
    }
  }

  private async queuedEndpointIds(): Promise<string[]> {
    const info = await this.deps.nats.jsm.streams.info(WEBHOOK_DELIVERIES, {
      subjects_filter: subjects.webhookDelivery("*"),
    });
    return Object.keys(info.state.subjects ?? {}).flatMap((subject) => subject.split(".")[1] ?? []);
  }

  private async consumerNames(): Promise<string[]> {
    const names: string[] = [];
    for await (const info of this.deps.nats.jsm.consumers.list(WEBHOOK_DELIVERIES)) {
      if (info.name.startsWith(CONSUMER_PREFIX)) names.push(info.name);
    }
    return names;
  }
}
