// Loaded into every test file's process (`--import`): once the file's tests and hooks are done
// and reported, the process exits even if something left a timer armed (Baileys 7's event buffer
// flush, ws close handshakes), instead of idling up to 30 s. Not node's --test-force-exit: on
// Node 24 that ends a file's process before its results are all reported, so tests go missing
// from the run without failing it.
import { after } from "node:test";

/** Long enough for the runner to report the file's last results; only reached if the loop is still held. */
const GRACE_MS = 2000;

after(() => {
  setTimeout(() => process.exit(), GRACE_MS).unref();
});
