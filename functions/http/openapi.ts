import { z } from 'zod';
import { PRODUCT_VERSION } from '../../shared/version';
import { statusByCode, type ErrorCode } from '../../shared/errors';
import { filterTreeSchema } from '../../shared/model/filter-tree';
import { INGEST_KEY_HEADER } from '../../shared/ingest/ingest-key';
import { parameterExamples, requestExamples } from './openapi-examples';
import type { RouteDefinition } from './route-definition';

/**
 * The OpenAPI 3.1 document, generated from the route table: each route's zod schemas (params, query,
 * body, response) are the wire contract, and its declaration says which statuses it answers. Valid
 * for swagger-parser and redocly (`test/functions/http/openapi-document.test.ts`), and checked
 * against every answer the end-to-end tests and the fuzz test receive.
 */

type JsonSchema = Record<string, unknown>;

const errorCodes = Object.keys(statusByCode) as [ErrorCode, ...ErrorCode[]];

/** What each error code means, for the document's error responses (the comments of `statusByCode`). */
const errorMeaning: Record<ErrorCode, string> = {
  BadRequest: 'the request body is not JSON, or not of the expected shape',
  ValidationFailed: 'a request field failed validation; `details` lists each failing path',
  Unauthorized: 'no bearer token, or a token that is not valid (signature, issuer, audience, expiry)',
  Forbidden: 'a valid token that may not do this: wrong tenant, missing role, not a directory user',
  PrivilegeDenied: 'the user lacks the privilege the operation needs',
  NoProfile: 'the user has no offline profile for the app (or the app is not offline)',
  NotFound: 'the entity, profile, app, user or row does not exist',
  TenantNotFound: 'the tenant is not registered',
  MethodNotAllowed: 'the path is served, but not with this method (the local host; `Allow` names them)',
  Conflict: 'the request conflicts with the current state (already exists, wrong lifecycle state)',
  UserInAnotherProfile: 'a user is already in another profile',
  ChangeCursorExpired: "a change cursor older than the store's change retention",
  PreconditionFailed: 'a concurrent writer changed the resource first (If-Match or version mismatch)',
  PayloadTooLarge: 'the request body (or batch) is larger than the limit',
  ProfileInvalid: 'the profile breaks a rule; `details` lists every violation',
  Unprocessable: 'the document breaks a rule; `details` lists every violation',
  RowLimitExceeded: "the user's download exceeds the hard row limit",
  Throttled: 'too many requests; retry after the time given',
  Internal: 'something failed that is not the caller’s fault',
  SourceUnavailable: 'the source system failed or could not be reached',
  TenantNotProvisioned: 'the tenant exists but is not provisioned: devices may not sync yet (or any more)',
  Unavailable: 'a dependency is temporarily unavailable; retry after the time given',
};

/** The error envelope, its `code` one of `codes`. */
function errorBodySchema(codes: readonly [ErrorCode, ...ErrorCode[]]): z.ZodType {
  return z.object({
    error: z.object({
      code: z.enum(codes),
      message: z.string(),
      details: z.unknown().optional(),
      traceId: z.string(),
    }),
  });
}

/** Areas of the API, in the viewer's order; each route belongs to the first whose pattern matches. */
const tags: { name: string; description: string; pattern: RegExp }[] = [
  {
    name: 'System',
    description: 'Liveness, this document and its viewer.',
    pattern: /^api\/[^/{]+$|^api\/docs\b/,
  },
  {
    name: 'Admin page',
    description: 'The admin web page, its files, and how it signs in (development tokens on the local host).',
    pattern: /^api\/console\b/,
  },
  {
    name: 'Tenants',
    description: 'The tenant registry (operator): register tenants and list them with their state.',
    pattern: /^api\/admin\/tenants\b/,
  },
  {
    name: 'Entities',
    description: 'Entity metadata, offline settings and their publish.',
    pattern: /^api\/admin\/\{org\}\/(entities|customizations)\b/,
  },
  {
    name: 'Directory',
    description:
      'Users, teams and business units by name for pickers (any source); replace the whole directory (local sources).',
    pattern: /^api\/admin\/\{org\}\/directory\b/,
  },
  {
    name: 'Profiles',
    description: 'Offline profiles: drafts, users, publish.',
    pattern: /^api\/admin\/\{org\}\/profiles\b/,
  },
  {
    name: 'Export and import',
    description: 'Profiles and the entity settings they use, as one document.',
    pattern: /^api\/admin\/\{org\}\/(export|import)\b/,
  },
  { name: 'Settings', description: 'Tenant settings.', pattern: /^api\/admin\/\{org\}\/settings\b/ },
  {
    name: 'Apps',
    description: 'App modules and their offline profiles.',
    pattern: /^api\/admin\/\{org\}\/apps\b/,
  },
  {
    name: 'Provisioning',
    description: 'Provision, stop, deprovision, retry; status with progress.',
    pattern: /^api\/admin\/\{org\}\/provisioning\b/,
  },
  {
    name: 'Replication',
    description: 'Replication health per entity: last run, lag, errors, dead-lettered messages.',
    pattern: /^api\/admin\/\{org\}\/replication\b/,
  },
  {
    name: 'Sync errors',
    description: "The tenant's sync error log; retry an operation as its user.",
    pattern: /^api\/admin\/\{org\}\/sync-errors\b/,
  },
  {
    name: 'Ingest',
    description: 'Source systems push changes (token or ingest key); the ingest key.',
    pattern: /^api\/ingest\/|^api\/admin\/\{org\}\/ingest-key$/,
  },
  {
    name: 'Device sync',
    description: 'Metadata, download, upload and the device’s own sync errors.',
    pattern: /^api\/sync\//,
  },
];

/** The area of a route (throws for a route no area covers, so a new area cannot go untagged). */
export function tagOf(route: Pick<RouteDefinition, 'name' | 'route'>): string {
  const tag = tags.find((t) => t.pattern.test(route.route));
  if (!tag) throw new Error(`route ${route.name} (${route.route}) belongs to no OpenAPI tag`);
  return tag.name;
}

/**
 * The error codes a route answers: those its declaration implies (auth kind, params, query, body,
 * `{org}`, active tenant) and those declared next to it (`errors`).
 */
export function errorCodesOf(route: RouteDefinition): ErrorCode[] {
  const codes = new Set<ErrorCode>();
  if (route.auth !== 'none') {
    codes.add('Unauthorized').add('Forbidden');
    // Every authenticated route reads the store (Cosmos may throttle) and may need the token keys.
    codes.add('Throttled').add('Unavailable');
  }
  if (route.params || route.query || route.body) codes.add('ValidationFailed');
  if (route.body) codes.add('BadRequest').add('PayloadTooLarge');
  if (route.tenantScoped) {
    codes.add('TenantNotFound');
    // Device routes refuse a tenant that is not active; every tenant route finds no database for a
    // tenant that is registered but not (or no longer) provisioned.
    codes.add('TenantNotProvisioned');
  }
  for (const code of route.errors ?? []) codes.add(code);
  return errorCodes.filter((code) => codes.has(code));
}

/** The success statuses of a route: declared, else 200 (204 when it answers no body). */
export function successStatusesOf(route: RouteDefinition): number[] {
  return [...(route.successStatuses ?? [route.response ? 200 : 204])];
}

const successDescription: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  204: 'No content',
};

/**
 * Converts zod schemas to JSON Schema 2020-12 for the document: each schema's `$defs` (recursive
 * schemas such as the profile filter tree) move to `components.schemas` under a stable name, so every
 * `$ref` resolves from the document's root; identical definitions are stored once.
 */
class SchemaComponents {
  readonly schemas: Record<string, JsonSchema> = {};
  private readonly names = new Map<z.ZodType, string>([[filterTreeSchema, 'FilterTree']]);

  convert(schema: z.ZodType, io: 'input' | 'output', hint: string): JsonSchema {
    const json = z.toJSONSchema(schema, {
      io,
      target: 'draft-2020-12',
      unrepresentable: 'any',
      // Named schemas become named definitions (other metadata as the schemas declare it).
      metadata: this.metadata as unknown as z.core.$ZodRegistry<z.core.GlobalMeta>,
      override: (ctx) => openResponseObjects(ctx, io),
    }) as JsonSchema;
    delete json.$schema;
    const defs = (json.$defs ?? {}) as Record<string, JsonSchema>;
    delete json.$defs;
    // The definitions of one schema refer to each other: they are named together, with a suffix
    // (2, 3, …) for all of them when another schema's definition took a name with other content.
    for (let n = 1; ; n++) {
      const suffix = n === 1 ? '' : String(n);
      const renamed = new Map<string, string>();
      for (const name of Object.keys(defs)) {
        const base = name.startsWith('__schema') ? `${hint}${name.slice('__schema'.length)}` : name;
        renamed.set(name, `${base}${io === 'input' ? 'Input' : ''}${suffix}`);
      }
      const contents = Object.entries(defs).map(
        ([name, def]) => [renamed.get(name)!, rewriteRefs(def, renamed) as JsonSchema] as const,
      );
      const fits = contents.every(
        ([name, content]) =>
          this.schemas[name] === undefined || JSON.stringify(this.schemas[name]) === JSON.stringify(content),
      );
      if (!fits) continue;
      for (const [name, content] of contents) this.schemas[name] = content;
      return rewriteRefs(json, renamed) as JsonSchema;
    }
  }

  private readonly metadata = {
    get: (schema: z.ZodType): z.core.GlobalMeta | undefined => {
      const meta = z.globalRegistry.get(schema);
      const id = this.names.get(schema);
      return id === undefined ? meta : { ...meta, id };
    },
  };
}

/**
 * Responses may gain fields (SPEC §10): an object that strips unknown keys on input is open in the
 * document's responses, so a client validating answers accepts a newer server. Strict objects stay closed.
 */
function openResponseObjects(
  ctx: { zodSchema: z.core.$ZodTypes; jsonSchema: z.core.JSONSchema.BaseSchema },
  io: 'input' | 'output',
): void {
  const def = ctx.zodSchema._zod.def;
  if (io === 'output' && def.type === 'object' && def.catchall === undefined) {
    delete ctx.jsonSchema.additionalProperties;
  }
}

function rewriteRefs(value: unknown, renamed: ReadonlyMap<string, string>): unknown {
  if (Array.isArray(value)) return value.map((v) => rewriteRefs(v, renamed));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (key === '$ref' && typeof v === 'string' && v.startsWith('#/$defs/')) {
      const name = renamed.get(v.slice('#/$defs/'.length));
      if (name === undefined) throw new Error(`unresolved ${v}`);
      out[key] = `#/components/schemas/${name}`;
    } else {
      out[key] = rewriteRefs(v, renamed);
    }
  }
  return out;
}

/** `UserInAnotherProfile` → `UserInAnotherProfile`; a code set → one response component name. */
function responseName(codes: readonly ErrorCode[]): string {
  return codes.join('Or');
}

/** Builds the OpenAPI 3.1 document of the route table. */
export function buildOpenApiDocument(routes: readonly RouteDefinition[]): unknown {
  const components = new SchemaComponents();
  components.schemas.Error = components.convert(errorBodySchema(errorCodes), 'output', 'Error');
  const responses: Record<string, unknown> = {};
  const paths: Record<string, Record<string, unknown>> = {};

  /** The `components.responses` entry of one status's codes (created on first use). */
  const errorResponse = (status: number, codes: [ErrorCode, ...ErrorCode[]]): { $ref: string } => {
    const name = responseName(codes);
    responses[name] ??= {
      description: codes.map((code) => `\`${code}\`: ${errorMeaning[code]}.`).join(' '),
      headers: {
        ...(status === 401
          ? { 'WWW-Authenticate': { description: '`Bearer`', schema: { type: 'string' } } }
          : {}),
        ...(status === 429 || status === 503
          ? {
              'Retry-After': {
                description: 'Seconds to wait before retrying (when known).',
                schema: { type: 'string' },
              },
            }
          : {}),
      },
      content: {
        'application/json': { schema: components.convert(errorBodySchema(codes), 'output', name) },
      },
    };
    return { $ref: `#/components/responses/${name}` };
  };

  for (const route of routes) {
    const path = `/${route.route}`;
    const pathParams = [...route.route.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
    const paramsSchema = route.params
      ? (components.convert(route.params, 'input', `${route.name}Params`) as {
          properties?: Record<string, unknown>;
        })
      : undefined;
    const querySchema = route.query
      ? (components.convert(route.query, 'input', `${route.name}Query`) as {
          properties?: Record<string, unknown>;
          required?: string[];
        })
      : undefined;
    const example = (name: string): { example?: string } =>
      parameterExamples[name] === undefined ? {} : { example: parameterExamples[name] };
    const parameters = [
      ...pathParams.map((name) => ({
        name,
        in: 'path',
        required: true,
        schema: paramsSchema?.properties?.[name] ?? { type: 'string' },
        ...example(name),
      })),
      ...Object.entries(querySchema?.properties ?? {}).map(([name, schema]) => ({
        name,
        in: 'query',
        required: querySchema?.required?.includes(name) ?? false,
        schema,
        ...example(name),
      })),
    ];

    const operationResponses: Record<string, unknown> = {};
    const mediaTypes = route.mediaTypes ?? ['application/json'];
    for (const status of successStatusesOf(route)) {
      const schema =
        route.response === undefined
          ? undefined
          : mediaTypes.includes('application/json')
            ? components.convert(route.response, 'output', `${route.name}Response`)
            : { type: 'string' };
      operationResponses[String(status)] = {
        description: successDescription[status] ?? 'Success',
        ...(schema === undefined || status === 204
          ? {}
          : { content: Object.fromEntries(mediaTypes.map((type) => [type, { schema }])) }),
      };
    }
    const codes = errorCodesOf(route);
    for (const status of [...new Set(codes.map((code) => statusByCode[code]))].sort((a, b) => a - b)) {
      const ofStatus = codes.filter((code) => statusByCode[code] === status) as [ErrorCode, ...ErrorCode[]];
      operationResponses[String(status)] = errorResponse(status, ofStatus);
    }
    operationResponses.default = {
      description: 'Any other failure (500 `Internal`): not the caller’s fault.',
      content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
    };

    const operation: Record<string, unknown> = {
      operationId: route.name,
      summary: route.summary,
      tags: [tagOf(route)],
      parameters,
      security: securityOf(route),
      responses: operationResponses,
    };
    if (route.body) {
      const bodyExample = requestExamples[route.name];
      operation.requestBody = {
        required: true,
        content: {
          'application/json': {
            schema: components.convert(route.body, 'input', `${route.name}Body`),
            ...(bodyExample ? { examples: { [route.name]: bodyExample } } : {}),
          },
        },
      };
    }
    (paths[path] ??= {})[route.method.toLowerCase()] = operation;
  }

  return {
    openapi: '3.1.0',
    info: {
      title: 'Offline sync backend',
      version: PRODUCT_VERSION,
      description:
        'Offline profiles, replication, device sync and provisioning. Every route but the system ones ' +
        'needs a bearer token; errors are `{ "error": { "code", "message", "details"?, "traceId" } }` ' +
        'with the status of the code.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    servers: [{ url: '/', description: 'The host that serves this document' }],
    tags: tags.map(({ name, description }) => ({ name, description })),
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
        ingestKey: {
          type: 'apiKey',
          in: 'header',
          name: INGEST_KEY_HEADER,
          description: "The tenant's ingest key, for webhooks that cannot fetch tokens.",
        },
      },
      schemas: components.schemas,
      responses,
    },
  };
}

function securityOf(route: RouteDefinition): Record<string, string[]>[] {
  if (route.auth === 'none') return [];
  if (route.auth === 'ingest') return [{ bearer: [] }, { ingestKey: [] }];
  return [{ bearer: [] }];
}
