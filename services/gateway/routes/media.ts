import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { MEDIA_MAX_BYTES, MEDIA_SIZE_LIMITS } from "../../../shared/domain/media.ts";
import { deleteMedia, getMedia, listMedia, storeUpload } from "../media/mediaCommands.ts";
import type { GatewayDeps } from "../deps.ts";
import { HttpError } from "../http/errors.ts";
import { errors, MediaId, MediaItem } from "../http/schemas.ts";
import { readMediaForm } from "../http/uploads.ts";

const MediaParams = Type.Object({ mediaId: MediaId });

const LIMITS_TEXT =
  `images (JPEG, PNG, WebP) up to ${MEDIA_SIZE_LIMITS.image / 1e6} MB, video (MP4) and audio (OGG Opus, MP3) ` +
  `up to ${MEDIA_SIZE_LIMITS.video / 1e6} MB, documents (PDF or any other file) up to ${MEDIA_SIZE_LIMITS.document / 1e6} MB`;

export const mediaRoutes: FastifyPluginAsyncTypebox<{ deps: GatewayDeps }> = async (app, { deps }) => {
  app.post(
    "/api/media",
    {
      preValidation: async (request) => readMediaForm(request, { field: "file", maxBytes: MEDIA_MAX_BYTES }),
      schema: {
        tags: ["media"],
        summary: "Add a file to the media library, to attach to blasts by its id",
        description:
          `multipart/form-data with the file as \`file\`. The type is told from the bytes, not the name: ${LIMITS_TEXT}. ` +
          "A file named or labelled as an image, video or audio whose bytes are not one, or any program, is a 415; " +
          "over its type's WhatsApp limit, a 413.",
        consumes: ["multipart/form-data"],
        body: Type.Object(
          { file: Type.String({ format: "binary", description: "the attachment" }) },
          { additionalProperties: false },
        ),
        response: { 201: MediaItem, ...errors(400, 413, 415, 503) },
      },
    },
    async (request, reply) => {
      if (!request.uploadedMedia)
        throw new HttpError(400, "`file` must be uploaded as a file in multipart/form-data");
      return reply.status(201).send(await storeUpload(deps, request.uploadedMedia));
    },
  );

  app.get(
    "/api/media",
    {
      schema: {
        tags: ["media"],
        summary: "The media library, newest first",
        response: { 200: Type.Object({ items: Type.Array(MediaItem) }) },
      },
    },
    async () => ({ items: await listMedia(deps) }),
  );

  app.get(
    "/api/media/:mediaId",
    {
      schema: {
        tags: ["media"],
        summary: "One file of the media library",
        params: MediaParams,
        response: { 200: MediaItem, ...errors(400, 404) },
      },
    },
    async (request) => getMedia(deps, request.params.mediaId),
  );

  app.delete(
    "/api/media/:mediaId",
    {
      schema: {
        tags: ["media"],
        summary: "Delete a file from the media library",
        description:
          "A file that a running or paused blast sends is kept: `409` until that blast completes or is cancelled.",
        params: MediaParams,
        response: { 204: Type.Null(), ...errors(400, 404, 409) },
      },
    },
    async (request, reply) => {
      await deleteMedia(deps, request.params.mediaId);
      return reply.status(204).send(null);
    },
  );
};
