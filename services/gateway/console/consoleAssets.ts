// The console's scripts and stylesheet. A production build (`make build`, deploy/build/build.ts)
// bundles them once and writes them beside the compiled services, in dist/console-assets/, so the
// gateway in the image starts without esbuild (a dev dependency, not in the image). Run from
// sources (`make up`, the tests) that folder does not exist, and the gateway bundles them in memory
// when it starts (a fraction of a second), so development has no build step to forget.
import { readFile } from "node:fs/promises";

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

/** The folder a production build writes the assets to, relative to the compiled gateway. */
export const PREBUILT_DIR = "console-assets";

const contentTypeOf = (file: string): string =>
  file.endsWith(".css") ? "text/css; charset=utf-8" : "text/javascript; charset=utf-8";

/** Every file the console serves: one script per page, and the stylesheet. */
export const ASSET_FILES: readonly string[] = [
  ...Object.keys(ENTRY_POINTS).map((name) => `${name}.js`),
  "console.css",
];

/** The prebuilt assets when this module runs from a build, else the same bundled now. */
export async function loadConsoleAssets(): Promise<Map<string, ConsoleAsset>> {
  return (await readPrebuiltAssets(new URL(`${PREBUILT_DIR}/`, import.meta.url))) ?? bundleConsoleAssets();
}

/** null when the folder does not exist (running from sources); a build missing a file is an error. */
export async function readPrebuiltAssets(dir: URL): Promise<Map<string, ConsoleAsset> | null> {
  const assets = new Map<string, ConsoleAsset>();
  for (const file of ASSET_FILES) {
    let body: Buffer;
    try {
      body = await readFile(new URL(file, dir));
    } catch (error) {
      if (assets.size === 0 && (error as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw new Error(`the prebuilt console in ${dir.pathname} lacks ${file}; run make build again`, {
        cause: error,
      });
    }
    assets.set(file, { contentType: contentTypeOf(file), body });
  }
  return assets;
}

export async function bundleConsoleAssets(): Promise<Map<string, ConsoleAsset>> {
  // Loaded only here: a built gateway never bundles, and its image has no esbuild.
  const { build } = await import("esbuild");
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
    const name = file.path.slice("/bundle/".length);
    assets.set(name, { contentType: contentTypeOf(name), body: Buffer.from(file.contents) });
  }
  assets.set("console.css", {
    contentType: contentTypeOf("console.css"),
    body: await readFile(`${here}client/console.css`),
  });
  return assets;
}
