// `make build`: what production runs, built once. Each service becomes one ES module in dist/
// (code they share goes in chunks beside them), and the console's scripts and stylesheet are
// bundled into dist/console-assets/, where the compiled gateway looks for them.
//
// Why a build and not Node 24's type stripping: stripping only erases types, and our sources use
// TypeScript syntax that has runtime meaning (constructor parameter properties, a const enum),
// which it refuses. esbuild compiles those; it is already what bundles the console.
//
// Run with plain `node deploy/build/build.ts` (Node 24 strips this file's types itself).
import { mkdir, rm, writeFile } from "node:fs/promises";
import { build } from "esbuild";
import { bundleConsoleAssets, PREBUILT_DIR } from "../../services/gateway/console/consoleAssets.ts";

const root = new URL("../../", import.meta.url);
const dist = new URL("dist/", root);

/** Output name → source: the four services and the projector's replay command. */
const SERVICES = {
  gateway: "services/gateway/main.ts",
  projector: "services/projector/main.ts",
  sender: "services/sender/main.ts",
  webhooks: "services/webhooks/main.ts",
  replay: "services/projector/replay.ts",
} as const;

const started = performance.now();
await rm(dist, { recursive: true, force: true });

const result = await build({
  absWorkingDir: root.pathname,
  entryPoints: SERVICES,
  outdir: dist.pathname,
  bundle: true,
  // npm packages stay imports, resolved from node_modules at run time (`npm ci --omit=dev`):
  // several load native addons, worker files or JSON by path, which bundling would break.
  packages: "external",
  platform: "node",
  format: "esm",
  target: "node24",
  // Chunks stay at the top of dist/, beside the services: the gateway finds the console's assets
  // relative to its own module's URL (consoleAssets.ts), whichever file it ends up in.
  splitting: true,
  chunkNames: "[name]-[hash]",
  // Logs, errors and metrics use class and function names; bundling would otherwise rename some.
  keepNames: true,
  // Stack traces point at the sources with `node --enable-source-maps`.
  sourcemap: "linked",
  logLevel: "warning",
  metafile: true,
});

const assetsDir = new URL(`${PREBUILT_DIR}/`, dist);
await mkdir(assetsDir, { recursive: true });
const assets = await bundleConsoleAssets();
for (const [name, asset] of assets) await writeFile(new URL(name, assetsDir), asset.body);

const outputs = Object.entries(result.metafile.outputs).filter(([file]) => !file.endsWith(".map"));
const bytes = outputs.reduce((sum, [, output]) => sum + output.bytes, 0);
console.log(
  `built ${Object.keys(SERVICES).length} services (${outputs.length} files, ${(bytes / 1024).toFixed(0)} KiB) ` +
    `and ${assets.size} console assets into dist/ in ${((performance.now() - started) / 1000).toFixed(1)} s`,
);
