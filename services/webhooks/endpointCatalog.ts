// The endpoints as the fan-out sees them: read again from Redis only when their version moved,
// and the version is checked before each fact, so an endpoint registered before a fact was stored
// is never missed because a cache was stale.
import type { WebhookEndpoint, WebhookEndpoints } from "../../shared/redis/webhooks.ts";

export class EndpointCatalog {
  private version = -1;
  private endpoints: readonly WebhookEndpoint[] = [];

  constructor(private readonly store: WebhookEndpoints) {}

  async current(): Promise<readonly WebhookEndpoint[]> {
    // Read before the list: a change landing in between only makes the next call read again.
    const version = await this.store.version();
    if (version !== this.version) {
      this.endpoints = await this.store.list();
      this.version = version;
    }
    return this.endpoints;
  }
}
