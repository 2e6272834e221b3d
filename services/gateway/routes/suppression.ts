import { Readable } from "node:stream";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { CountryCode } from "libphonenumber-js";
import { Type } from "typebox";
import { normalizePhone } from "../../../shared/domain/phones.ts";
import type { SuppressionEntry as StoredEntry } from "../../../shared/redis/suppression.ts";
import type { GatewayDeps } from "../deps.ts";
import { csvLine } from "../http/csv.ts";
import { HttpError } from "../http/errors.ts";
import { errors, Page, PageOf, pageOffset, Rejected } from "../http/schemas.ts";
import { readMultipartBody } from "../http/uploads.ts";
import {
  importSuppressionFile,
  MAX_REASON_LENGTH,
  suppressNumbers,
  unsuppressNumber,
} from "../suppression/suppressionCommands.ts";

const MAX_PHONES = 10_000;
const EXPORT_COLUMNS = ["phone", "source", "reason", "session_id", "at"];

const SuppressionEntry = Type.Object({
  phone: Type.String({ description: "E.164" }),
  source: Type.Union([Type.Literal("keyword"), Type.Literal("api"), Type.Literal("import")], {
    description: "keyword: the person wrote an opt-out keyword; api: added by hand; import: an uploaded list",
  }),
  reason: Type.Optional(Type.String()),
  sessionId: Type.Optional(Type.String({ description: "the account a keyword reached" })),
  messageId: Type.Optional(Type.String({ description: "WhatsApp's id of the message with the keyword" })),
  text: Type.Optional(Type.String({ description: "the person's message, as written" })),
  at: Type.String({ description: "when it was added" }),
});

const SuppressionChange = Type.Object({
  added: Type.Integer({ description: "numbers now on the list that were not" }),
  alreadyListed: Type.Integer({ description: "numbers already on the list (their entries are unchanged)" }),
  duplicates: Type.Integer({ description: "rows whose number an earlier row had" }),
  rejected: Rejected,
});

const PhoneParams = Type.Object({
  phone: Type.String({
    minLength: 1,
    maxLength: 64,
    description: "the number in any format (URL-encoded); read as DEFAULT_COUNTRY without a country code",
    examples: ["+12025550100"],
  }),
});

const Reason = Type.String({ maxLength: MAX_REASON_LENGTH, examples: ["asked by phone"] });

export const suppressionRoutes: FastifyPluginAsyncTypebox<{ deps: GatewayDeps }> = async (app, { deps }) => {
  /** The path's number in E.164, or a 400 that says why it is not one. */
  const phoneOf = (raw: string): string => {
    const phone = normalizePhone(raw, deps.config.DEFAULT_COUNTRY as CountryCode);
    if (!phone.ok) throw new HttpError(400, `"${raw}" is not a phone number: ${phone.reason}`);
    return phone.e164;
  };

  app.post(
    "/api/suppression",
    {
      schema: {
        tags: ["suppression"],
        summary: "Add numbers to the suppression list: no blast sends to them again",
        description:
          "Numbers are normalized to E.164; those that are not numbers come back as rejected rows. " +
          "A number already listed keeps its entry. Each number added is a `consent.optout` event.",
        body: Type.Object(
          {
            phones: Type.Array(Type.String({ maxLength: 64 }), {
              minItems: 1,
              maxItems: MAX_PHONES,
              examples: [["+1 202 555 0100", "2025550101"]],
            }),
            reason: Type.Optional(Reason),
          },
          { additionalProperties: false },
        ),
        response: { 200: SuppressionChange, ...errors(400, 413, 415) },
      },
    },
    async (request) => suppressNumbers(deps, request.body.phones, request.body.reason),
  );

  app.post(
    "/api/suppression/import",
    {
      preValidation: async (request) => {
        if (!request.isMultipart()) {
          throw new HttpError(415, "upload the list as multipart/form-data, the file in the field `file`");
        }
        await readMultipartBody(request, "file");
      },
      schema: {
        tags: ["suppression"],
        summary: "Add every number of an uploaded .xlsx/.csv (a `phone` column) to the suppression list",
        description:
          "All or nothing: the whole file is checked before any number is added, so a file refused " +
          "(past a limit, malformed) adds none. Rows whose phone is not a number are rejected rows. " +
          "The file name is the entries' reason.",
        consumes: ["multipart/form-data"],
        body: Type.Object(
          { file: Type.String({ format: "binary", description: ".xlsx or .csv with a `phone` column" }) },
          { additionalProperties: false },
        ),
        response: { 200: SuppressionChange, ...errors(400, 413, 415) },
      },
    },
    async (request) => {
      if (!request.uploadedFile) throw new HttpError(400, "`file` must be uploaded as a file");
      return importSuppressionFile(deps, request.uploadedFile);
    },
  );

  app.get(
    "/api/suppression",
    {
      schema: {
        tags: ["suppression"],
        summary: "The suppression list, newest first",
        querystring: Page,
        response: { 200: PageOf(SuppressionEntry), ...errors(400) },
      },
    },
    async (request) => {
      const { page, pageSize } = request.query;
      const [items, total] = await Promise.all([
        deps.suppression.page(pageOffset(page, pageSize), pageSize),
        deps.suppression.count(),
      ]);
      return { items, total, page, pageSize };
    },
  );

  app.get(
    "/api/suppression/export.csv",
    {
      schema: {
        tags: ["suppression"],
        summary: "The whole suppression list as CSV (phone, source, reason, session_id, at)",
        description: "Newest first. Cells that start like a spreadsheet formula are prefixed with a quote.",
        produces: ["text/csv"],
        response: {
          // A stream, written page by page: documented as the text it carries.
          200: Type.Unsafe<Readable>({
            type: "string",
            description: "text/csv",
            examples: ["phone,source,reason,session_id,at\r\n"],
          }),
        },
      },
    },
    async (_request, reply) => {
      async function* lines(): AsyncGenerator<string> {
        yield csvLine(EXPORT_COLUMNS);
        for await (const entries of deps.suppression.all()) {
          yield entries
            .map((e: StoredEntry) => csvLine([e.phone, e.source, e.reason ?? "", e.sessionId ?? "", e.at]))
            .join("");
        }
      }
      return reply
        .type("text/csv; charset=utf-8")
        .header("content-disposition", 'attachment; filename="suppression.csv"')
        .send(Readable.from(lines()));
    },
  );

  app.get(
    "/api/suppression/:phone",
    {
      schema: {
        tags: ["suppression"],
        summary: "Whether a number is on the suppression list: its entry, or 404",
        params: PhoneParams,
        response: { 200: SuppressionEntry, ...errors(400, 404) },
      },
    },
    async (request) => {
      const phone = phoneOf(request.params.phone);
      const entry = await deps.suppression.get(phone);
      if (!entry) throw new HttpError(404, `${phone} is not on the suppression list`);
      return entry;
    },
  );

  app.delete(
    "/api/suppression/:phone",
    {
      schema: {
        tags: ["suppression"],
        summary:
          "Take a number off the suppression list (a `consent.optin` event): blasts may send to it again",
        params: PhoneParams,
        querystring: Type.Object({ reason: Type.Optional(Reason) }),
        response: { 204: Type.Null(), ...errors(400, 404) },
      },
    },
    async (request, reply) => {
      const phone = phoneOf(request.params.phone);
      if (!(await unsuppressNumber(deps, phone, request.query.reason))) {
        throw new HttpError(404, `${phone} is not on the suppression list`);
      }
      return reply.status(204).send(null);
    },
  );
};
