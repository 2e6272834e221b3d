import { pino, type Logger } from "pino";

export function createLogger(service: string, level: string): Logger {
  return pino({
    name: service,
    level,
    redact: {
      paths: ["req.headers.authorization", "req.headers['x-api-key']", "*.password", "*.apiKey"],
      censor: "[redacted]",
    },
  });
}

export type { Logger };
