// Loaded into a service by the sessions benchmark (NODE_OPTIONS="--import <this file>"): SIGUSR2
// runs a full garbage collection, so RSS read afterwards holds live memory, not start-up garbage
// the collector has not reached yet. (Node 20 refuses --expose-gc in NODE_OPTIONS, hence the flag
// set at run time and gc() taken from a fresh context.)
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

setFlagsFromString("--expose-gc");
const collect = runInNewContext("gc");
process.on("SIGUSR2", () => {
  collect();
  collect();
});
