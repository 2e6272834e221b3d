// One graceful stop per process, whichever of SIGTERM and SIGINT comes first and however often it
// comes: under `make up`, Ctrl-C reaches a service from the terminal and again from the runner,
// and a second drain of the same NATS connection throws.
export function onStopSignal(stop: (signal: NodeJS.Signals) => Promise<void>): void {
  let stopping = false;
  const handle = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    stop(signal).then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", handle);
  process.on("SIGINT", handle);
}
