// Node 20 refuses --cpu-prof in NODE_OPTIONS, so the profiled services load this instead
// (NODE_OPTIONS="--import <this file>", CPU_PROFILE_DIR=<folder>): it profiles the whole process
// through the inspector and writes <pid>.cpuprofile when the process exits.
import { Session } from "node:inspector";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

const dir = process.env.CPU_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post("Profiler.setSamplingInterval", { interval: 500 });
  session.post("Profiler.enable");
  session.post("Profiler.start");
  // The in-process inspector session answers synchronously, so this completes inside "exit".
  process.once("exit", () => {
    session.post("Profiler.stop", (err, result) => {
      if (!err) writeFileSync(join(dir, `${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
