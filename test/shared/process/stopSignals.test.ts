// A service stops once, cleanly, when Ctrl-C reaches it twice (as under `make up`).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const moduleUrl = new URL("../../../shared/process/stopSignals.ts", import.meta.url);

describe("onStopSignal", () => {
  it("runs the stop once for repeated signals and exits 0", async () => {
    const script = `
      import { onStopSignal } from ${JSON.stringify(fileURLToPath(moduleUrl))};
      onStopSignal(async (signal) => {
        console.log("stopping on " + signal);
        await new Promise((r) => setTimeout(r, 500));
      });
      console.log("ready");
      setInterval(() => undefined, 1000);
    `;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script]);
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const untilOutput = async (text: string) => {
      while (!output.includes(text)) await once(child.stdout, "data");
    };
    await untilOutput("ready");
    child.kill("SIGINT");
    // The second Ctrl-C and a SIGTERM arrive while the first stop is still under way.
    await untilOutput("stopping");
    child.kill("SIGINT");
    child.kill("SIGTERM");
    const [code] = (await once(child, "exit")) as [number | null];
    assert.equal(code, 0);
    assert.deepEqual(output.trim().split("\n"), ["ready", "stopping on SIGINT"]);
  });
});
