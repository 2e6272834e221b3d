import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { CountryCode } from "libphonenumber-js";
import { Type } from "typebox";
import { RowNormalizer } from "../../../shared/domain/rowNormalizer.ts";
import { newId } from "../../../shared/domain/ids.ts";
import type { RejectedRow } from "../../../shared/domain/recipients.ts";
import type { CampaignSummary } from "../../../shared/redis/campaigns.ts";
import { importLimits, openSources } from "../blasts/recipientSources.ts";
import type { GatewayDeps } from "../deps.ts";
import { HttpError } from "../http/errors.ts";
import { CampaignId, errors, Page, PageOf, pageOffset, RecipientRecord, Rejected } from "../http/schemas.ts";
import { readMultipartBody } from "../http/uploads.ts";

const Campaign = Type.Object({
  campaignId: Type.String(),
  name: Type.String(),
  total: Type.Integer({ description: "recipients saved" }),
  columns: Type.Array(Type.String(), { description: "columns a template can use" }),
  createdAt: Type.String(),
});

const CampaignParams = Type.Object({ campaignId: CampaignId });

/** Rejected rows shown in the answer, the first ones of the file; the count says how many in all. */
const REJECTED_SAMPLE = 20;

export const campaignRoutes: FastifyPluginAsyncTypebox<{ deps: GatewayDeps }> = async (app, { deps }) => {
  app.post(
    "/api/campaigns",
    {
      preValidation: async (request) => readMultipartBody(request, "recipientsFile"),
      schema: {
        tags: ["campaigns"],
        summary: "Save a recipient segment from JSON or an uploaded .xlsx/.csv",
        consumes: ["application/json", "multipart/form-data"],
        body: Type.Object(
          {
            campaignId: Type.Optional(CampaignId),
            name: Type.String({ minLength: 1, maxLength: 200, examples: ["VIP customers"] }),
            recipients: Type.Optional(Type.Array(RecipientRecord, { maxItems: 10_000 })),
            recipientsFile: Type.Optional(Type.String({ format: "binary" })),
          },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Intersect([Campaign, Type.Object({ duplicates: Type.Integer(), rejected: Rejected })]),
          ...errors(400, 409, 413, 415),
        },
      },
    },
    async (request, reply) => {
      const { name, recipients } = request.body;
      if (!recipients && !request.uploadedFile) {
        throw new HttpError(400, "give the recipients: `recipients` (JSON) or `recipientsFile` (multipart)");
      }
      const campaignId = request.body.campaignId ?? newId("c");
      if (await deps.campaigns.get(campaignId))
        throw new HttpError(409, `campaign ${campaignId} already exists`);
      const { batches } = await openSources(
        deps,
        {
          ...(recipients ? { recipients } : {}),
          ...(request.uploadedFile ? { file: request.uploadedFile } : {}),
        },
        importLimits(deps.config),
      );
      // Rows are normalized and stored a batch at a time, so no upload is ever held whole; the
      // draft becomes the campaign only once every row is in, and a failure anywhere drops it.
      const normalizer = new RowNormalizer(deps.config.DEFAULT_COUNTRY as CountryCode);
      const sample: RejectedRow[] = [];
      const draft = deps.campaigns.begin({ campaignId, name, createdAt: new Date().toISOString() });
      let saved: CampaignSummary | undefined;
      try {
        for await (const rows of batches) {
          const batch = normalizer.normalize(rows);
          for (const row of batch.rejected) if (sample.length < REJECTED_SAMPLE) sample.push(row);
          await draft.append(batch.recipients);
        }
        saved = normalizer.total > 0 ? await draft.commit() : undefined;
      } catch (err) {
        await draft.abort().catch(() => undefined);
        throw err;
      }
      const rejected = { count: normalizer.rejected, sample };
      if (normalizer.total === 0) {
        await draft.abort().catch(() => undefined);
        throw new HttpError(400, "the campaign has no valid recipients", { rejected });
      }
      if (!saved) throw new HttpError(409, `campaign ${campaignId} already exists`);
      return reply.status(201).send({ ...saved, duplicates: normalizer.duplicates, rejected });
    },
  );

  app.get(
    "/api/campaigns",
    {
      schema: {
        tags: ["campaigns"],
        summary: "List campaigns, newest first",
        querystring: Page,
        response: {
          200: PageOf(Campaign),
          ...errors(400),
        },
      },
    },
    async (request) => {
      const { page, pageSize } = request.query;
      const { total, items } = await deps.campaigns.list(pageOffset(page, pageSize), pageSize);
      return { items, total, page, pageSize };
    },
  );

  app.get(
    "/api/campaigns/recipients",
    {
      schema: {
        tags: ["campaigns"],
        summary: "Preview a campaign's recipients, a page at a time",
        querystring: Type.Intersect([Type.Object({ campaignId: CampaignId }), Page]),
        response: {
          200: Type.Object({
            campaignId: Type.String(),
            total: Type.Integer(),
            page: Type.Integer(),
            pageSize: Type.Integer(),
            items: Type.Array(Type.Record(Type.String(), Type.String())),
          }),
          ...errors(400, 404),
        },
      },
    },
    async (request) => {
      const { campaignId, page, pageSize } = request.query;
      const offset = pageOffset(page, pageSize);
      const campaign = await deps.campaigns.get(campaignId);
      if (!campaign) throw new HttpError(404, `campaign ${campaignId} not found`);
      const items = await deps.campaigns.recipients(campaignId, offset, pageSize);
      return { campaignId, total: campaign.total, page, pageSize, items };
    },
  );

  app.get(
    "/api/campaigns/:campaignId",
    {
      schema: {
        tags: ["campaigns"],
        summary: "A campaign",
        params: CampaignParams,
        response: { 200: Campaign, ...errors(400, 404) },
      },
    },
    async (request) => {
      const campaign = await deps.campaigns.get(request.params.campaignId);
      if (!campaign) throw new HttpError(404, `campaign ${request.params.campaignId} not found`);
      return campaign;
    },
  );

  app.delete(
    "/api/campaigns/:campaignId",
    {
      schema: {
        tags: ["campaigns"],
        summary: "Delete a campaign (blasts already started keep their recipients)",
        params: CampaignParams,
        response: { 204: Type.Null(), ...errors(400, 404) },
      },
    },
    async (request, reply) => {
      if (!(await deps.campaigns.delete(request.params.campaignId))) {
        throw new HttpError(404, `campaign ${request.params.campaignId} not found`);
      }
      return reply.status(204).send(null);
    },
  );
};
