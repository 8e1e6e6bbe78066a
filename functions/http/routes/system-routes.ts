import { z } from 'zod';
import { defineRoute, type RouteDefinition } from '../route-definition';
import { PRODUCT_VERSION } from '../../../shared/version';

export const healthResponseSchema = z.object({
  status: z.literal('ok'),
  version: z.string(),
  store: z.enum(['sqlite', 'cosmos']),
  time: z.iso.datetime(),
});

/** `GET api/health`: liveness and version; no token needed. */
export const healthRoute = defineRoute({
  name: 'health',
  method: 'GET',
  route: 'api/health',
  auth: 'none',
  summary: 'Liveness and version.',
  response: healthResponseSchema,
  handler: async ({ services }) => ({
    body: {
      status: 'ok',
      version: PRODUCT_VERSION,
      store: services.store.kind,
      time: services.clock.now().toISOString(),
    },
  }),
});

/** The top of an OpenAPI 3.1 document (what `GET api/openapi.json` answers; see functions/http/openapi.ts). */
export const openApiDocumentSchema = z.looseObject({
  openapi: z.literal('3.1.0'),
  info: z.looseObject({ title: z.string(), version: z.string() }),
  paths: z.record(z.string(), z.unknown()),
});

/** Builds `GET api/openapi.json` over the final route table (it describes every route, itself included). */
export function openApiRoute(document: () => unknown): RouteDefinition {
  return defineRoute({
    name: 'openApi',
    method: 'GET',
    route: 'api/openapi.json',
    auth: 'none',
    summary: 'The OpenAPI 3.1 document of every route.',
    response: openApiDocumentSchema,
    handler: () => Promise.resolve({ body: document() }),
  });
}
