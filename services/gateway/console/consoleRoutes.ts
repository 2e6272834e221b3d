// The web console and the queue dashboard: three HTML shells, each loading its bundled script.
// Pages carry a strict CSP (scripts and styles only from this origin, no inline code, no framing),
// so an injected string in a campaign name can never run.
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { FastifyReply } from "fastify";
import { Type } from "typebox";
import { loadConsoleAssets, type ConsolePageName } from "./consoleAssets.ts";

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
};

const TITLES: Record<ConsolePageName, string> = {
  signin: "Sign in · wa-blast",
  console: "wa-blast console",
  queues: "Queues · wa-blast",
};

function pageHtml(page: ConsolePageName): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${TITLES[page]}</title>
<link rel="stylesheet" href="/console/assets/console.css">
<script type="module" src="/console/assets/${page}.js"></script>
</head>
<body><main id="app" data-page="${page}"><noscript>The console needs JavaScript.</noscript></main></body>
</html>
`;
}

export const consoleRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const assets = await loadConsoleAssets();
  // Only this plugin's routes: Swagger UI, served elsewhere, needs its own inline scripts.
  app.addHook("onSend", async (_request, reply, payload) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) void reply.header(name, value);
    return payload;
  });

  const sendPage = (reply: FastifyReply, page: ConsolePageName) =>
    reply.type("text/html; charset=utf-8").header("cache-control", "no-store").send(pageHtml(page));
  const hidden = { schema: { hide: true } };
  app.get("/signin", hidden, async (_request, reply) => sendPage(reply, "signin"));
  app.get("/console", hidden, async (_request, reply) => sendPage(reply, "console"));
  app.get("/admin/queues", hidden, async (_request, reply) => sendPage(reply, "queues"));

  app.get(
    "/console/assets/:file",
    {
      schema: { hide: true, params: Type.Object({ file: Type.String({ pattern: "^[a-z]+\\.(js|css)$" }) }) },
    },
    async (request, reply) => {
      const asset = assets.get(request.params.file);
      if (!asset)
        return reply.status(404).send({ statusCode: 404, error: "Not Found", message: "no such asset" });
      return reply.type(asset.contentType).header("cache-control", "no-cache").send(asset.body);
    },
  );
};
