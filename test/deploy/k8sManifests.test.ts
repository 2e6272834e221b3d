// The Kubernetes manifests (deploy/k8s) against the Kubernetes API schemas and against the code:
// no cluster runs here, so a wrong field, an env var the config never reads, a probe on a path or
// port nothing serves, or a KEDA trigger on a consumer that does not exist would only show up in
// production. kustomization.yaml uses only `namespace` and `images`, which this test applies
// itself, so what it checks is what `kubectl apply -k deploy/k8s` would send.
import assert from "node:assert/strict";
import { sentinelsOf } from "../../shared/redis/connection.ts";
import { execFile } from "node:child_process";
import { readFileSync, existsSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Registry } from "prom-client";
import { Type, type Static } from "typebox";
import { Value } from "typebox/value";
import { parse, parseAllDocuments } from "yaml";
import { Deployment, type IDeployment } from "kubernetes-models/apps/v1";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2";
import { PodDisruptionBudget, type IPodDisruptionBudget } from "kubernetes-models/policy/v1";
import {
  ConfigMap,
  Secret,
  Service,
  type IConfigMap,
  type IContainer,
  type IProbe,
  type ISecret,
  type IService,
} from "kubernetes-models/v1";
import { ApiKeys } from "../../shared/auth/apiKeys.ts";
import { apiKeysOf, ConfigSchema, loadConfig } from "../../shared/config/config.ts";
import { serveMetrics } from "../../shared/metrics/metricsServer.ts";
import { INBOUND_MESSAGES, INBOUND_PROCESSOR, SEND_WORK } from "../../shared/nats/topology.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const k8sDir = join(root, "deploy", "k8s");
const read = (path: string) => readFileSync(join(root, path), "utf8");

// ---- Loading: kustomization.yaml, its resources, and the two transformers it may use ----

const Kustomization = Type.Object(
  {
    apiVersion: Type.Literal("kustomize.config.k8s.io/v1beta1"),
    kind: Type.Literal("Kustomization"),
    namespace: Type.String({ minLength: 1 }),
    resources: Type.Array(Type.String({ pattern: "^[a-z0-9-]+\\.yaml$" }), { minItems: 1 }),
    images: Type.Array(
      Type.Object(
        { name: Type.String(), newName: Type.String(), newTag: Type.String() },
        { additionalProperties: false },
      ),
    ),
  },
  // Any other transformer (labels, patches, generators) would change the output in ways this
  // test does not reproduce: it has to be taught first.
  { additionalProperties: false },
);

interface Manifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  readonly [field: string]: unknown;
}

function loadKustomization() {
  const kustomization: unknown = parse(readFileSync(join(k8sDir, "kustomization.yaml"), "utf8"));
  assert.ok(
    Value.Check(Kustomization, kustomization),
    [...Value.Errors(Kustomization, kustomization)]
      .map((e) => `kustomization.yaml${e.instancePath}: ${e.message}`)
      .join("; "),
  );
  return kustomization as Static<typeof Kustomization>;
}

function yamlDocuments(file: string): unknown[] {
  return parseAllDocuments(readFileSync(join(k8sDir, file), "utf8")).map((doc) => {
    assert.deepEqual(
      doc.errors.map((e) => e.message),
      [],
      `${file} parses as YAML`,
    );
    return doc.toJS() as unknown;
  });
}

/** What kustomize renders: each resource with the namespace set and the image names replaced. */
function render(): { namespace: string; manifests: Manifest[]; files: Map<Manifest, string> } {
  const kustomization = loadKustomization();
  const manifests: Manifest[] = [];
  const files = new Map<Manifest, string>();
  for (const file of kustomization.resources) {
    for (const raw of yamlDocuments(file)) {
      assert.ok(raw && typeof raw === "object", `${file}: every document is an object`);
      const manifest = structuredClone(raw) as Manifest;
      assert.equal(manifest.metadata.namespace, undefined, `${file}: the kustomization sets the namespace`);
      manifest.metadata.namespace = kustomization.namespace;
      for (const container of podContainers(manifest)) {
        const image = kustomization.images.find((i) => i.name === container.image);
        assert.ok(image, `${file}: image ${container.image} is one the kustomization sets`);
        container.image = `${image.newName}:${image.newTag}`;
      }
      manifests.push(manifest);
      files.set(manifest, file);
    }
  }
  return { namespace: kustomization.namespace, manifests, files };
}

function podContainers(manifest: Manifest): IContainer[] {
  if (manifest.kind !== "Deployment") return [];
  return (manifest as unknown as IDeployment).spec?.template.spec?.containers ?? [];
}

/** The kubernetes-models class of each kind the kustomization may hold; validate() throws on a schema error. */
const models: Record<string, (data: Manifest) => { validate(): void }> = {
  "apps/v1/Deployment": (data) => new Deployment(data as unknown as IDeployment),
  "v1/Service": (data) => new Service(data as unknown as IService),
  "v1/ConfigMap": (data) => new ConfigMap(data as unknown as IConfigMap),
  "v1/Secret": (data) => new Secret(data as unknown as ISecret),
  "policy/v1/PodDisruptionBudget": (data) => new PodDisruptionBudget(data as unknown as IPodDisruptionBudget),
};

// ---- KEDA's ScaledObject: no kubernetes-models class, so the fields relied on, by hand ----

const Str = Type.String({ minLength: 1 });
const IntString = Type.String({ pattern: "^[1-9][0-9]*$" });
/** KEDA's trigger metadata is map[string]string: a YAML number there is refused by the operator. */
const NatsJetStreamTrigger = Type.Object({
  type: Type.Literal("nats-jetstream"),
  metricType: Type.Optional(Type.Literal("AverageValue")),
  metadata: Type.Object(
    {
      natsServerMonitoringEndpoint: Type.String({ pattern: "^[a-z0-9.-]+:[0-9]+$" }),
      account: Str,
      stream: Str,
      consumer: Str,
      lagThreshold: IntString,
      useHttps: Type.Optional(Type.Union([Type.Literal("true"), Type.Literal("false")])),
    },
    { additionalProperties: false },
  ),
});
const MetricsApiTrigger = Type.Object({
  type: Type.Literal("metrics-api"),
  metricType: Type.Optional(Type.Literal("AverageValue")),
  metadata: Type.Object(
    {
      url: Type.String({ pattern: "^https?://" }),
      format: Type.Literal("json"),
      valueLocation: Str,
      targetValue: IntString,
    },
    { additionalProperties: false },
  ),
});
const ScaledObject = Type.Object({
  apiVersion: Type.Literal("keda.sh/v1alpha1"),
  kind: Type.Literal("ScaledObject"),
  metadata: Type.Object({ name: Str, namespace: Str }),
  spec: Type.Object(
    {
      scaleTargetRef: Type.Object(
        { apiVersion: Type.Literal("apps/v1"), kind: Type.Literal("Deployment"), name: Str },
        { additionalProperties: false },
      ),
      minReplicaCount: Type.Integer({ minimum: 1 }),
      maxReplicaCount: Type.Integer({ minimum: 1 }),
      pollingInterval: Type.Integer({ minimum: 1 }),
      advanced: Type.Object({
        horizontalPodAutoscalerConfig: Type.Object({ behavior: Type.Unknown() }),
      }),
      triggers: Type.Array(Type.Union([NatsJetStreamTrigger, MetricsApiTrigger]), { minItems: 1 }),
    },
    { additionalProperties: false },
  ),
});

/**
 * Enough of GJSON (the path language of KEDA's metrics-api scaler) for the paths used here:
 * object keys, array indexes, and `#(key=="value")`, the first array element with that key.
 */
function gjson(document: unknown, path: string): unknown {
  let value = document;
  for (const part of path.match(/#\([^)]*\)|[^.]+/g) ?? []) {
    const query = part.match(/^#\((\w+)=="([^"]*)"\)$/);
    if (query) {
      value = Array.isArray(value)
        ? value.find((item: unknown) => (item as Record<string, unknown>)[query[1] ?? ""] === query[2])
        : undefined;
    } else {
      value = value && typeof value === "object" ? (value as Record<string, unknown>)[part] : undefined;
    }
  }
  return value;
}

// ---- Small helpers over the rendered objects ----

const { namespace, manifests, files } = render();
const find = <T>(kind: string, name: string): T => {
  const manifest = manifests.find((m) => m.kind === kind && m.metadata.name === name);
  assert.ok(manifest, `${kind} ${name} is in the kustomization`);
  return manifest as unknown as T;
};
const deployments = manifests.filter((m) => m.kind === "Deployment") as unknown as IDeployment[];
const configMap = find<IConfigMap>("ConfigMap", "wa-blast-config");
const secret = find<ISecret>("Secret", "wa-blast-secrets");
const secretKeys = new Set(Object.keys({ ...secret.data, ...secret.stringData }));

function containerOf(name: string): IContainer {
  const container = find<IDeployment>("Deployment", name).spec?.template.spec?.containers[0];
  assert.ok(container, `${name} has a container`);
  return container;
}

/** The value of a literal env var of the container (not one from a Secret). */
function envValue(container: IContainer, name: string): string | undefined {
  return container.env?.find((e) => e.name === name)?.value ?? configMap.data?.[name];
}

function portNumber(container: IContainer, port: number | string | undefined): number {
  if (typeof port === "number") return port;
  const named = container.ports?.find((p) => p.name === port);
  assert.ok(named, `${container.name}: port ${String(port)} is a named port of the container`);
  return named.containerPort;
}

/** Kubernetes quantities as used here (Mi, Gi, millicores, plain numbers), in base units. */
function quantity(value: string | number | undefined): number {
  const match = String(value).match(/^([0-9.]+)(m|Mi|Gi)?$/);
  assert.ok(match, `quantity ${String(value)}`);
  const scale = { m: 0.001, Mi: 2 ** 20, Gi: 2 ** 30 }[match[2] ?? ""] ?? 1;
  return Number(match[1]) * scale;
}

const sourceOf = (service: string) => read(`services/${service}/main.ts`);

const exec = promisify(execFile);

/** kubectl's built-in kustomize, where this machine has kubectl (CI may not; the check is skipped). */
const kubectl = ["/usr/bin/kubectl", "/usr/local/bin/kubectl"].find((path) => existsSync(path));

// ---- The tests ----

describe("Kubernetes manifests (deploy/k8s)", () => {
  it("every object validates against the Kubernetes API schema of its kind", () => {
    const kinds = new Set<string>();
    for (const manifest of manifests) {
      const key = `${manifest.apiVersion}/${manifest.kind}`;
      kinds.add(manifest.kind);
      if (manifest.kind === "ScaledObject") continue; // KEDA: checked below.
      const model = models[key];
      assert.ok(model, `${files.get(manifest)}: ${key} is a kind this test can validate`);
      assert.doesNotThrow(
        () => model(manifest).validate(),
        `${files.get(manifest)}: ${manifest.kind} ${manifest.metadata.name}`,
      );
    }
    assert.deepEqual([...kinds].sort(), [
      "ConfigMap",
      "Deployment",
      "PodDisruptionBudget",
      "ScaledObject",
      "Secret",
      "Service",
    ]);
    assert.deepEqual(deployments.map((d) => d.metadata?.name).sort(), [
      "gateway",
      "projector",
      "sender",
      "webhooks",
    ]);
  });

  it(
    "renders as `kubectl kustomize` renders",
    { skip: kubectl === undefined && "no kubectl here" },
    async () => {
      const { stdout } = await exec(kubectl ?? "kubectl", ["kustomize", k8sDir], { timeout: 8000 });
      const byName = (objects: unknown[]) =>
        new Map(
          (objects as Manifest[]).map((m) => [`${m.kind}/${m.metadata.name}`, JSON.parse(JSON.stringify(m))]),
        );
      const rendered = parseAllDocuments(stdout).map((doc) => doc.toJS() as unknown);
      assert.deepEqual(byName(rendered), byName(manifests));
    },
  );

  it("sets only env vars the config schema reads, with valid values", () => {
    const known = new Set(Object.keys(ConfigSchema.properties));
    const allowed = (name: string) => known.has(name);

    for (const name of Object.keys(configMap.data ?? {})) {
      assert.ok(allowed(name), `ConfigMap key ${name} is a setting in shared/config/config.ts`);
    }
    for (const deployment of deployments) {
      for (const container of deployment.spec?.template.spec?.containers ?? []) {
        const where = `${deployment.metadata?.name}/${container.name}`;
        for (const source of container.envFrom ?? []) {
          assert.equal(
            source.configMapRef?.name,
            configMap.metadata?.name,
            `${where}: envFrom the ConfigMap`,
          );
        }
        const literal: Record<string, string> = { ...configMap.data };
        for (const env of container.env ?? []) {
          assert.ok(allowed(env.name), `${where}: ${env.name} is a setting in shared/config/config.ts`);
          const ref = env.valueFrom?.secretKeyRef;
          if (ref) {
            assert.equal(ref.name, secret.metadata?.name, `${where}: ${env.name} comes from the Secret`);
            assert.ok(
              ref.optional === true || secretKeys.has(ref.key),
              `${where}: the Secret has ${ref.key}`,
            );
          } else {
            assert.equal(typeof env.value, "string", `${where}: ${env.name} has a value or a secretKeyRef`);
            literal[env.name] = env.value ?? "";
          }
        }
        // The same check the service makes at start: types, ranges, enums, patterns.
        assert.doesNotThrow(() => loadConfig(literal), `${where}: its settings pass loadConfig`);
      }
    }
    // The placeholder is refused by the services, so a forgotten one stops them rather than
    // running with a known key.
    assert.throws(() => apiKeysOf(loadConfig({ API_KEYS: secret.stringData?.API_KEYS ?? "" })), /API_KEYS/);
  });

  it("sets resource requests (and a memory limit above them) on every container", () => {
    for (const deployment of deployments) {
      for (const container of deployment.spec?.template.spec?.containers ?? []) {
        const where = `${deployment.metadata?.name}/${container.name}`;
        const { requests, limits } = container.resources ?? {};
        assert.ok(requests?.cpu !== undefined && quantity(requests.cpu) > 0, `${where}: a CPU request`);
        assert.ok(requests?.memory !== undefined, `${where}: a memory request`);
        assert.ok(limits?.memory !== undefined, `${where}: a memory limit`);
        assert.ok(quantity(limits.memory) >= quantity(requests.memory), `${where}: limit >= request`);
      }
    }
  });

  it("probes the gateway on the /healthz and /readyz it serves, on the port it listens on", () => {
    const routes = read("services/gateway/routes/health.ts");
    for (const path of ["/healthz", "/readyz"]) assert.match(routes, new RegExp(`app\\.get\\(\\s*"${path}"`));
    const gateway = containerOf("gateway");
    assert.equal(envValue(gateway, "HTTP_HOST"), "0.0.0.0", "listens beyond loopback");
    const port = Number(envValue(gateway, "HTTP_PORT"));
    assert.deepEqual(
      gateway.ports?.map((p) => p.containerPort),
      [port],
    );
    const httpGet = (probe: IProbe | undefined) => {
      assert.ok(probe?.httpGet, "an httpGet probe");
      return { path: probe.httpGet.path, port: portNumber(gateway, probe.httpGet.port) };
    };
    assert.deepEqual(httpGet(gateway.readinessProbe), { path: "/readyz", port });
    assert.deepEqual(httpGet(gateway.livenessProbe), { path: "/healthz", port });
    assert.deepEqual(httpGet(gateway.startupProbe), { path: "/healthz", port });
  });

  for (const [service, portVar, hostVar] of [
    ["sender", "SENDER_METRICS_PORT", "SENDER_METRICS_HOST"],
    ["webhooks", "WEBHOOKS_METRICS_PORT", "WEBHOOKS_METRICS_HOST"],
  ] as const) {
    it(`probes ${service} on its /metrics port, and its liveness command passes against the real server`, async () => {
      assert.match(
        sourceOf(service),
        new RegExp(`config\\.${portVar}`),
        `${service} serves /metrics on ${portVar}`,
      );
      const container = containerOf(service);
      const port = Number(envValue(container, portVar));
      assert.ok(port > 0, `${portVar} turns /metrics on`);
      assert.equal(envValue(container, hostVar), "0.0.0.0");
      assert.deepEqual(
        container.ports?.map((p) => p.containerPort),
        [port],
      );
      for (const probe of [container.startupProbe, container.readinessProbe]) {
        assert.ok(probe?.tcpSocket, "a TCP probe on the metrics port");
        assert.equal(portNumber(container, probe.tcpSocket.port), port);
      }
      const command = container.livenessProbe?.exec?.command ?? [];
      const script = command[2] ?? "";
      assert.deepEqual(command.slice(0, 2), ["node", "-e"]);
      const url = new URL(script.match(/"(http:\/\/[^"]+)"/)?.[1] ?? "http://invalid");
      assert.deepEqual([url.hostname, Number(url.port), url.pathname], ["127.0.0.1", port, "/metrics"]);

      // The command as written, against shared/metrics/metricsServer.ts on a free port.
      const key = "k8s-probe-test-key-0123456789";
      const server = await serveMetrics(new Registry(), new ApiKeys([key]), "127.0.0.1", 0);
      try {
        const free = (server.address() as AddressInfo).port;
        const run = (apiKeys: string) =>
          exec(process.execPath, ["-e", script.replace(`127.0.0.1:${port}`, `127.0.0.1:${free}`)], {
            env: { PATH: process.env.PATH, API_KEYS: apiKeys },
            timeout: 8000,
          }).then(
            () => 0,
            (err: { code?: number }) => err.code ?? -1,
          );
        assert.equal(await run(`${key},another-key-0123456789`), 0, "answers 200 with the first key");
        assert.equal(await run("a-wrong-key-0123456789"), 1, "fails on a 401");
      } finally {
        server.close();
      }
    });
  }

  it("has no probe on the projector, which serves nothing to probe", () => {
    const source = sourceOf("projector");
    assert.doesNotMatch(source, /serveMetrics|\.listen\(|createServer/, "the projector still has no server");
    const projector = containerOf("projector");
    assert.equal(projector.ports, undefined);
    assert.equal(projector.livenessProbe ?? projector.readinessProbe ?? projector.startupProbe, undefined);
  });

  it("drains on SIGTERM within the grace period, and points Services and PDBs at their pods", () => {
    for (const deployment of deployments) {
      const name = deployment.metadata?.name ?? "";
      const pod = deployment.spec?.template;
      assert.match(sourceOf(name), /onStopSignal\(/, `${name} drains on SIGTERM`);
      assert.ok((pod?.spec?.terminationGracePeriodSeconds ?? 0) >= 30, `${name}: a grace period`);
      assert.deepEqual(deployment.spec?.selector.matchLabels, { "app.kubernetes.io/name": name });
      assert.equal(pod?.metadata?.labels?.["app.kubernetes.io/name"], name);

      const pdbs = manifests.filter(
        (m) =>
          m.kind === "PodDisruptionBudget" &&
          (m as unknown as IPodDisruptionBudget).spec?.selector?.matchLabels?.["app.kubernetes.io/name"] ===
            name,
      ) as unknown as IPodDisruptionBudget[];
      assert.equal(pdbs.length, 1, `${name}: one PodDisruptionBudget`);
      const spec = pdbs[0]?.spec;
      // A single replica with minAvailable 1 (or maxUnavailable 0) would block every node drain.
      if ((deployment.spec?.replicas ?? 2) === 1)
        assert.equal(spec?.maxUnavailable, 1, `${name}: drains allowed`);
    }
    assert.ok(containerOf("gateway").lifecycle?.preStop?.exec, "the gateway waits for endpoint removal");

    for (const service of manifests.filter((m) => m.kind === "Service") as unknown as IService[]) {
      const selected = deployments.find(
        (d) => d.metadata?.name === service.spec?.selector?.["app.kubernetes.io/name"],
      );
      assert.ok(selected, `Service ${service.metadata?.name} selects a Deployment's pods`);
      const container = selected.spec?.template.spec?.containers[0];
      assert.ok(container);
      for (const port of service.spec?.ports ?? []) portNumber(container, port.targetPort);
    }
  });

  it("autoscales the senders with KEDA on SEND_WORK and the senders' shared consumer", () => {
    const scaledObject = find<unknown>("ScaledObject", "sender");
    assert.ok(
      Value.Check(ScaledObject, scaledObject),
      [...Value.Errors(ScaledObject, scaledObject)].map((e) => `${e.instancePath}: ${e.message}`).join("; "),
    );
    const { spec } = scaledObject;
    assert.equal(spec.scaleTargetRef.name, "sender");
    assert.ok(spec.maxReplicaCount >= spec.minReplicaCount);
    assert.equal(
      find<IDeployment>("Deployment", "sender").spec?.replicas,
      undefined,
      "KEDA owns the replicas",
    );
    // The HPA behaviour KEDA copies into the HorizontalPodAutoscaler it makes.
    assert.doesNotThrow(() =>
      new HorizontalPodAutoscaler({
        metadata: { name: "sender" },
        spec: {
          scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "sender" },
          maxReplicas: spec.maxReplicaCount,
          behavior: spec.advanced.horizontalPodAutoscalerConfig.behavior as object,
        },
      }).validate(),
    );

    const nats = parse(readFileSync(join(k8sDir, "nats-values.yaml"), "utf8")) as {
      config: { monitor: { port: number } };
    };
    const monitoring = `nats.${namespace}.svc.cluster.local:${nats.config.monitor.port}`;
    const jetstream = spec.triggers.find((t) => t.type === "nats-jetstream");
    const metricsApi = spec.triggers.find((t) => t.type === "metrics-api");
    assert.ok(jetstream && Value.Check(NatsJetStreamTrigger, jetstream));
    assert.ok(metricsApi && Value.Check(MetricsApiTrigger, metricsApi));
    assert.deepEqual(
      [
        jetstream.metadata.natsServerMonitoringEndpoint,
        jetstream.metadata.stream,
        jetstream.metadata.consumer,
      ],
      [monitoring, INBOUND_MESSAGES, INBOUND_PROCESSOR],
    );
    const url = new URL(metricsApi.metadata.url);
    assert.deepEqual([url.host, url.pathname], [monitoring, "/jsz"]);
    // A /jsz answer shaped as nats-server gives it (the fields KEDA's own scaler decodes).
    const jsz = {
      account_details: [
        {
          name: url.searchParams.get("acc"),
          stream_detail: [
            { name: "BLAST_EVENTS", state: { messages: 900, last_seq: 900 } },
            { name: SEND_WORK, state: { messages: 42, last_seq: 5000 } },
          ],
        },
      ],
    };
    assert.equal(url.searchParams.get("streams"), "true");
    assert.equal(gjson(jsz, metricsApi.metadata.valueLocation), 42, "the stored messages of SEND_WORK");
  });

  it("matches the Helm values: a 3-node JetStream cluster and a Sentinel Redis the services point at", () => {
    const nats = parse(readFileSync(join(k8sDir, "nats-values.yaml"), "utf8")) as {
      config: {
        cluster: { enabled: boolean; replicas: number };
        jetstream: { enabled: boolean; fileStore: { enabled: boolean; pvc: { enabled: boolean } } };
      };
      service: { ports: { monitor: { enabled: boolean } } };
    };
    assert.deepEqual(nats.config.cluster, { enabled: true, replicas: 3 });
    assert.ok(nats.config.jetstream.enabled && nats.config.jetstream.fileStore.enabled);
    assert.ok(nats.config.jetstream.fileStore.pvc.enabled, "JetStream data on persistent volumes");
    assert.ok(nats.service.ports.monitor.enabled, "KEDA reaches /jsz through the nats Service");
    const servers = Array.from(
      { length: nats.config.cluster.replicas },
      (_, i) => `nats://nats-${i}.nats-headless:4222`,
    );
    assert.equal(configMap.data?.NATS_URL, servers.join(","));
    assert.equal(configMap.data?.NATS_REPLICAS, String(nats.config.cluster.replicas));

    const redis = parse(readFileSync(join(k8sDir, "redis-values.yaml"), "utf8")) as {
      architecture: string;
      auth: {
        enabled: boolean;
        sentinel: boolean;
        existingSecret: string;
        existingSecretPasswordKey: string;
      };
      sentinel: { enabled: boolean; masterSet: string; quorum: number };
      commonConfiguration: string;
      replica: { replicaCount: number };
    };
    assert.equal(redis.architecture, "replication");
    assert.ok(redis.sentinel.enabled);
    const redisUrl = sentinelsOf(secret.stringData?.REDIS_URL ?? "");
    assert.ok(redisUrl, "REDIS_URL asks the Sentinels for the primary");
    assert.equal(redis.sentinel.masterSet, redisUrl.name);
    assert.equal(redis.sentinel.quorum, Math.floor(redis.replica.replicaCount / 2) + 1);
    const sentinels = Array.from(
      { length: redis.replica.replicaCount },
      (_, i) => `redis-node-${i}.redis-headless:26379`,
    );
    assert.deepEqual(
      redisUrl.sentinels.map(({ host, port }) => `${host}:${port}`),
      sentinels,
    );
    assert.equal(configMap.data?.REDIS_REPLICA_ACKS, "1", "claims and credentials wait for a replica");
    assert.equal(redis.auth.existingSecret, secret.metadata?.name);
    assert.ok(secretKeys.has(redis.auth.existingSecretPasswordKey));
    assert.match(
      redis.commonConfiguration,
      /^appendfsync always$/m,
      "as docker-compose.yml: an fsync per write",
    );
    assert.ok(existsSync(join(k8sDir, "README.md")));
  });
});
