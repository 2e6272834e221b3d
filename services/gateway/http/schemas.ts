// Schemas shared by several routes. Each route declares its own schema once, from these parts:
// it validates the request, types the handler and documents the route in OpenAPI.
import { Type, type TSchema } from "typebox";
import { ID_PATTERN } from "../../../shared/domain/ids.ts";
import { MediaKindSchema } from "../../../shared/messages/blastEvents.ts";
import { MAX_FREQUENCY_CAP, MAX_FREQUENCY_PERIOD_HOURS } from "../../../shared/domain/sendLimits.ts";
import { HttpError } from "./errors.ts";

export const Id = (description: string, example: string) =>
  Type.String({
    pattern: ID_PATTERN,
    description: `${description} (letters, digits, - and _; 1-64)`,
    examples: [example],
  });

export const SessionId = Id("WhatsApp session id", "marketing");
export const CampaignId = Id("campaign id", "vip-customers");
export const BlastId = Id("blast id", "b_0m3x1abcd0123456789ab");
export const MediaId = Id("media library file id", "m_0m3x1abcd0123456789ab");

/** A file of the media library, as every media route and a blast's summary show it. */
export const MediaItem = Type.Object({
  mediaId: Type.String(),
  kind: MediaKindSchema,
  mimetype: Type.String({
    description: "told from the bytes (a document keeps the label it was uploaded with)",
  }),
  fileName: Type.String(),
  size: Type.Integer({ description: "bytes" }),
  sha256: Type.String({ description: "hex SHA-256 of the bytes" }),
  createdAt: Type.Optional(Type.String()),
});

export const ErrorResponse = Type.Object(
  {
    statusCode: Type.Integer(),
    error: Type.String(),
    message: Type.String(),
    details: Type.Optional(Type.Unknown()),
  },
  {
    description: "Error",
    examples: [{ statusCode: 404, error: "Not Found", message: "blast b_x not found" }],
  },
);

export const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, ErrorResponse]));

const MAX_PAGE = 1_000_000;
const MAX_PAGE_SIZE = 500;

export const Page = Type.Object({
  page: Type.Integer({ minimum: 1, maximum: MAX_PAGE, default: 1 }),
  pageSize: Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE, default: 50 }),
});

/**
 * Where a page starts. Ajv coerces "1e999" in a query string to Infinity and then skips the
 * minimum and maximum of non-finite numbers, so the bounds are checked again here, before Redis
 * gets an offset it refuses.
 */
export function pageOffset(page: number, pageSize: number): number {
  const within = (value: number, max: number) => Number.isSafeInteger(value) && value >= 1 && value <= max;
  if (!within(page, MAX_PAGE)) {
    throw new HttpError(400, `querystring/page must be a whole number from 1 to ${MAX_PAGE}`);
  }
  if (!within(pageSize, MAX_PAGE_SIZE)) {
    throw new HttpError(400, `querystring/pageSize must be a whole number from 1 to ${MAX_PAGE_SIZE}`);
  }
  return (page - 1) * pageSize;
}

export const RecipientRecord = Type.Record(
  Type.String({ maxLength: 64 }),
  Type.Union([Type.String({ maxLength: 1000 }), Type.Number()]),
  {
    description: "One recipient: `phone` and any other columns used by the template",
    examples: [{ phone: "+12025550123", name: "Ana" }],
  },
);

export const RejectedRow = Type.Object({
  source: Type.Union([Type.Literal("campaign"), Type.Literal("file"), Type.Literal("body")]),
  row: Type.Integer({ description: "line in the file (the header is line 1) or position in the list" }),
  phone: Type.String(),
  reason: Type.String(),
});

export const Rejected = Type.Object({
  count: Type.Integer(),
  sample: Type.Array(RejectedRow, { description: "the first rejected rows" }),
});

export const BlastStatus = Type.Union([
  Type.Literal("scheduled"),
  Type.Literal("draft"),
  Type.Literal("running"),
  Type.Literal("paused"),
  Type.Literal("cancelled"),
  Type.Literal("completed"),
]);

export const BlastProgress = Type.Object({
  blastId: Type.String(),
  status: BlastStatus,
  total: Type.Integer(),
  sent: Type.Integer(),
  failed: Type.Integer(),
  inDoubt: Type.Integer({ description: "sends interrupted by a crash: maybe delivered, never retried" }),
  delivered: Type.Integer({ description: "recipients whose phone confirmed delivery" }),
  read: Type.Integer({ description: "recipients who read the message" }),
  replied: Type.Integer({ description: "recipients who replied (each counted once)" }),
  pending: Type.Integer(),
  sessionIds: Type.Array(Type.String(), { description: "the pool: accounts the blast is sent from" }),
  bySession: Type.Record(
    Type.String(),
    Type.Object({
      sent: Type.Integer(),
      failed: Type.Integer(),
      inDoubt: Type.Integer(),
      paused: Type.Optional(
        Type.String({
          description: "why this account takes no work from the blast (restricted, logged out...)",
        }),
      ),
    }),
    { description: "outcomes per account of the pool" },
  ),
  scheduledFor: Type.Optional(
    Type.String({ description: "when a scheduled blast starts (or started), ISO 8601 in UTC" }),
  ),
});

export const PacingSettings = Type.Object(
  {
    minDelayMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 3_600_000 })),
    maxDelayMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 3_600_000 })),
    perMinute: Type.Optional(Type.Integer({ minimum: 0, description: "0 turns the cap off" })),
    perHour: Type.Optional(Type.Integer({ minimum: 0 })),
    perDay: Type.Optional(Type.Integer({ minimum: 0 })),
    typing: Type.Optional(Type.Boolean({ description: "show typing… before each message" })),
    checkNumbers: Type.Optional(Type.Boolean({ description: "skip numbers that are not on WhatsApp" })),
    window: Type.Optional(
      Type.Union([
        Type.Null(),
        Type.Object({
          startHour: Type.Integer({ minimum: 0, maximum: 23 }),
          endHour: Type.Integer({ minimum: 0, maximum: 23 }),
          timeZone: Type.String({ examples: ["Asia/Jakarta"] }),
        }),
      ]),
    ),
  },
  {
    additionalProperties: false,
    description: "Human pacing; fields left out fall back to the session's, then the deployment's settings",
    examples: [
      {
        minDelayMs: 6000,
        maxDelayMs: 15000,
        perHour: 120,
        window: { startHour: 9, endHour: 20, timeZone: "Asia/Jakarta" },
      },
    ],
  },
);

export const FrequencyCapSettings = Type.Union(
  [
    Type.Null({ description: "send this blast without a cap, even when the deployment has one" }),
    Type.Object(
      {
        max: Type.Integer({
          minimum: 1,
          maximum: MAX_FREQUENCY_CAP,
          description: "most campaign messages one number may get in the period, over every blast",
        }),
        periodHours: Type.Integer({
          minimum: 1,
          maximum: MAX_FREQUENCY_PERIOD_HOURS,
          description: "the trailing period, in hours",
        }),
      },
      { additionalProperties: false },
    ),
  ],
  {
    description:
      "Checked when each recipient's turn comes: a number over it fails `frequency_capped`, unsent. " +
      "Left out: the deployment's cap (FREQUENCY_CAP_MAX per FREQUENCY_CAP_HOURS), if any",
    examples: [{ max: 2, periodHours: 168 }],
  },
);

/** One page of a list, as every list route answers it. */
export const PageOf = <T extends TSchema>(item: T) =>
  Type.Object({
    items: Type.Array(item),
    total: Type.Integer(),
    page: Type.Integer(),
    pageSize: Type.Integer(),
  });

export const WarmupSettings = Type.Union(
  [
    Type.Null({ description: "no ramp: the account may use its whole perDay from its first send" }),
    Type.Object(
      {
        firstDay: Type.Integer({
          minimum: 1,
          maximum: 1_000_000,
          description: "messages in the trailing 24 hours on the account's first day of sending",
        }),
        growth: Type.Number({
          minimum: 1,
          maximum: 10,
          description: "each day's cap is the day before's times this (2 doubles it), up to perDay",
        }),
      },
      { additionalProperties: false },
    ),
  ],
  {
    description:
      "A new account's ramp, counted in 24-hour days from its first send; left out: the deployment's",
    examples: [{ firstDay: 20, growth: 2 }],
  },
);

/** An account's own pacing: a blast's settings and the warm-up, which only the account sets. */
export const SessionPacingSettings = Type.Object(
  { ...PacingSettings.properties, warmup: Type.Optional(WarmupSettings) },
  {
    additionalProperties: false,
    description: "This account's pacing; fields left out fall back to the deployment's settings",
    examples: [{ perDay: 500, warmup: { firstDay: 20, growth: 2 } }],
  },
);

export const ProxyUrl = Type.String({
  minLength: 1,
  maxLength: 2048,
  description:
    "http://, https://, socks5:// or socks5h:// proxy, credentials in the URL; answers show the password as ***",
  examples: ["socks5://user:password@203.0.113.7:1080"],
});
