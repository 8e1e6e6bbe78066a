import { z } from 'zod';
import { PRODUCT_VERSION } from '../../shared/version';
import { statusByCode } from '../../shared/errors';
import type { RouteDefinition } from './route-definition';

const errorBodySchema = z.object({
  error: z.object({
    code: z.enum(Object.keys(statusByCode) as [string, ...string[]]),
    message: z.string(),
    details: z.unknown().optional(),
    traceId: z.string().optional(),
  }),
});

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): unknown {
  return z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' });
}

/** The OpenAPI 3.1 document, generated from the route table's own zod schemas. */
export function buildOpenApiDocument(routes: readonly RouteDefinition[]): unknown {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const path = `/${route.route}`;
    const pathParams = [...route.route.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
    const querySchema = route.query
      ? (jsonSchema(route.query, 'input') as { properties?: Record<string, unknown>; required?: string[] })
      : undefined;
    const parameters = [
      ...pathParams.map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } })),
      ...Object.entries(querySchema?.properties ?? {}).map(([name, schema]) => ({
        name,
        in: 'query',
        required: querySchema?.required?.includes(name) ?? false,
        schema,
      })),
    ];
    const operation: Record<string, unknown> = {
      operationId: route.name,
      summary: route.summary,
      parameters,
      security: route.auth === 'none' ? [] : [{ bearer: [] }],
      responses: {
        '200': {
          description: 'Success',
          ...(route.response
            ? { content: { 'application/json': { schema: jsonSchema(route.response, 'output') } } }
            : {}),
        },
        default: {
          description: 'Error',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
        },
      },
    };
    if (route.body) {
      operation.requestBody = {
        required: true,
        content: { 'application/json': { schema: jsonSchema(route.body, 'input') } },
      };
    }
    (paths[path] ??= {})[route.method.toLowerCase()] = operation;
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Offline sync backend', version: PRODUCT_VERSION },
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      schemas: { Error: jsonSchema(errorBodySchema, 'output') },
    },
  };
}
