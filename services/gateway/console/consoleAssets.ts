// The console's scripts, bundled by esbuild in memory when the gateway starts (a fraction of a
// second), so there is no build step to forget and no generated files in the repository.
import { readFile } from "node:fs/promises";
import { build } from "esbuild";

export interface ConsoleAsset {
  readonly contentType: string;
  readonly body: Buffer;
}

const here = new URL(".", import.meta.url).pathname;
export const ENTRY_POINTS = {
  signin: "client/signinPage.ts",
  console: "client/consolePage.ts",
  queues: "client/queuesPage.ts",
} as const;

export type ConsolePageName = keyof typeof ENTRY_POINTS;

export async function bundleConsoleAssets(): Promise<Map<string, ConsoleAsset>> {
  const result = await build({
    entryPoints: Object.fromEntries(Object.entries(ENTRY_POINTS).map(([name, path]) => [name, here + path])),
    bundle: true,
    write: false,
    format: "esm",
    target: "es2022",
    minify: true,
    sourcemap: false,
    outdir: "/bundle",
    logLevel: "silent",
  });
  const assets = new Map<string, ConsoleAsset>();
  for (const file of result.outputFiles) {
    assets.set(file.path.slice("/bundle/".length), {
      contentType: "text/javascript; charset=utf-8",
      body: Buffer.from(file.contents),
    });
  }
  assets.set("console.css", {
    contentType: "text/css; charset=utf-8",
    body: await readFile(`${here}client/console.css`),
  });
  return assets;
}
