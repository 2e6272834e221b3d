import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { apiKeysOf } from "../../../shared/config/config.ts";
import type { GatewayDeps } from "../deps.ts";
import { ApiKeys, SESSION_COOKIE } from "../http/auth.ts";
import { HttpError } from "../http/errors.ts";
import { errors } from "../http/schemas.ts";

/** The console's sign-in: trades an API key for an HttpOnly cookie, so pages and sockets carry it. */
export const authRoutes: FastifyPluginAsyncTypebox<{ deps: GatewayDeps }> = async (app, { deps }) => {
  const keys = new ApiKeys(apiKeysOf(deps.config));
  const cookie = (value: string, maxAge: number) =>
    `${SESSION_COOKIE}=${encodeURIComponent(value)}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}` +
    (deps.config.COOKIE_SECURE ? "; Secure" : "");

  app.post(
    "/auth/sign-in",
    {
      schema: {
        tags: ["auth"],
        summary: "Sign the web console in with an API key (sets an HttpOnly cookie)",
        body: Type.Object(
          { apiKey: Type.String({ minLength: 1, maxLength: 256 }) },
          { additionalProperties: false },
        ),
        response: { 204: Type.Null(), ...errors(400, 401) },
      },
    },
    async (request, reply) => {
      if (!keys.matches(request.body.apiKey)) throw new HttpError(401, "that API key is not valid");
      return reply
        .header("set-cookie", cookie(request.body.apiKey, 7 * 24 * 3600))
        .status(204)
        .send(null);
    },
  );

  app.post(
    "/auth/sign-out",
    { schema: { tags: ["auth"], summary: "Forget the console's key", response: { 204: Type.Null() } } },
    async (_request, reply) => reply.header("set-cookie", cookie("", 0)).status(204).send(null),
  );
};
