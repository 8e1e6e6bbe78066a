import { z } from 'zod';
import type { AppServices } from '../../shared/app-services';
import type { Principal } from '../../shared/auth/principal';
import type { Settings } from '../../shared/config';
import type { ErrorCode } from '../../shared/errors';
import { orgSchema, type Tenant } from '../../shared/model/tenant';
import type { TenantStore } from '../../shared/store/port';

/**
 * Routes as data: each HTTP endpoint is one {@link RouteDefinition} in the route table
 * (`functions/routes.ts`). One generic adapter validates params, query and body with the route's
 * schemas, authenticates, resolves the tenant, calls the handler and maps errors in one place;
 * both the Functions registration and the local host read the same table.
 */

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * Who may call a route.
 * - `none`: anyone (health, OpenAPI).
 * - `operator`: admin role with the operator tenant's `tid` (tenant registry).
 * - `admin`: admin role with the route tenant's `tid`.
 * - `device`: any valid token of the route tenant (the handler maps `oid` to the directory user).
 * - `ingest`: a token of the route tenant with the ingest or admin role.
 */
export type AuthRequirement = 'none' | 'operator' | 'admin' | 'device' | 'ingest';

export interface RouteContext<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  /** The authenticated caller (undefined only on `auth: 'none'` routes). */
  principal: Principal | undefined;
  services: AppServices;
  /** Request headers, lower-case names. */
  headers: Headers;
  traceId: string;
  log: (message: string, data?: Record<string, unknown>) => void;
}

/** Context of routes with an `{org}` parameter: the registered tenant and its store. */
export interface TenantRouteContext<P, Q, B> extends RouteContext<P, Q, B> {
  tenant: Tenant;
  store: TenantStore;
  principal: Principal;
}

export interface RouteResponse {
  /** Defaults to 200 (204 when there is no body). */
  status?: number;
  /** Serialized as JSON (compressed when the client accepts it and the body is large). */
  body?: unknown;
  headers?: Record<string, string>;
  /** A body sent as is instead of JSON (the API viewer's page and assets); `headers` names its type. */
  raw?: Uint8Array;
}

interface RouteDefinitionBase {
  /** Function name in Azure Functions: unique, must not start with "admin". */
  name: string;
  method: HttpMethod;
  /** Route template with the `api/` segment, e.g. `api/admin/{org}/entities`. */
  route: string;
  auth: AuthRequirement;
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType;
  /** For the OpenAPI document. */
  summary: string;
  /** Response body schema (OpenAPI). */
  response?: z.ZodType;
  /** Media types of the success body (OpenAPI); default `application/json`. */
  mediaTypes?: readonly string[];
  /** The success statuses the handler answers (OpenAPI); default 200, or 204 without a response schema. */
  successStatuses?: readonly number[];
  /**
   * The error codes the handler answers beyond those the declaration implies (auth: 401, 403; params,
   * query, body: 400; body: 413; `{org}`: 404 TenantNotFound, 503 TenantNotProvisioned). The OpenAPI
   * document lists every status with its codes.
   */
  errors?: readonly ErrorCode[];
  /**
   * Deepest nesting the JSON body may have (default `MAX_BODY_DEPTH` of the adapter; deeper is 400).
   * Only a route whose schema leaves values free-form and bounds them itself, item by item, raises it.
   */
  maxBodyDepth?: number;
  /**
   * When this answers true for the process's settings, the route is served without a token despite
   * its `auth` (the metrics route on the local host: `METRICS_OPEN`).
   */
  openWhen?: (settings: Settings) => boolean;
  /** Tenant routes only: refuse with 503 TenantNotProvisioned unless the tenant is active. */
  requireActiveTenant?: boolean;
  /**
   * The handler starts orchestrations: the Functions registration adds the durable client input and
   * hands the handler services whose `provisioning` runner uses it.
   */
  durableClient?: boolean;
}

export interface RouteDefinition extends RouteDefinitionBase {
  /** True when the route has an `{org}` segment: the adapter resolves the tenant first. */
  tenantScoped: boolean;
  handler: (
    ctx: RouteContext<unknown, unknown, unknown> | TenantRouteContext<unknown, unknown, unknown>,
  ) => Promise<RouteResponse>;
}

type Infer<S> = S extends z.ZodType ? z.infer<S> : undefined;

/** Defines a route without an `{org}` segment. */
export function defineRoute<
  P extends z.ZodType | undefined,
  Q extends z.ZodType | undefined,
  B extends z.ZodType | undefined,
>(
  def: RouteDefinitionBase & {
    params?: P;
    query?: Q;
    body?: B;
    handler(ctx: RouteContext<Infer<P>, Infer<Q>, Infer<B>>): Promise<RouteResponse>;
  },
): RouteDefinition {
  // The adapter validated params, query and body with the route's own schemas before this call.
  return {
    ...def,
    tenantScoped: false,
    handler: (ctx) => def.handler(ctx as RouteContext<Infer<P>, Infer<Q>, Infer<B>>),
  };
}

/** Defines a route under `{org}`: the handler gets the tenant and its store. */
export function defineTenantRoute<
  P extends z.ZodType | undefined,
  Q extends z.ZodType | undefined,
  B extends z.ZodType | undefined,
>(
  def: RouteDefinitionBase & {
    auth: Exclude<AuthRequirement, 'none' | 'operator'>;
    params?: P;
    query?: Q;
    body?: B;
    handler(ctx: TenantRouteContext<Infer<P>, Infer<Q>, Infer<B>>): Promise<RouteResponse>;
  },
): RouteDefinition {
  if (!def.route.includes('{org}')) throw new Error(`tenant route ${def.name} lacks {org}`);
  return {
    ...def,
    tenantScoped: true,
    handler: (ctx) => def.handler(ctx as TenantRouteContext<Infer<P>, Infer<Q>, Infer<B>>),
  };
}

/** Path parameters of a route whose only parameter is `{org}`. */
export const orgParamsSchema = z.object({ org: orgSchema });
