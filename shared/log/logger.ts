import { pino, type DestinationStream, type Logger } from "pino";

/** Where secrets can appear in a log line: keys, cookies carrying keys, passwords and tokens. */
export const REDACTED_PATHS = [
  "req.headers.authorization",
  "req.headers['x-api-key']",
  "req.headers.cookie",
  "res.headers['set-cookie']",
  "*.password",
  "*.apiKey",
  "*.token",
  "*.secret",
  "*.previousSecret",
  "req.body.apiKey",
  "req.body.password",
  "req.body.token",
];

/** `destination` is for tests that read what was logged; services log to stdout. */
export function createLogger(service: string, level: string, destination?: DestinationStream): Logger {
  const options = { name: service, level, redact: { paths: REDACTED_PATHS, censor: "[redacted]" } };
  return destination ? pino(options, destination) : pino(options);
}

export type { Logger };
