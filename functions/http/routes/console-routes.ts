import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { issueDevelopmentToken } from '../../../shared/auth/development-token';
import type { Settings } from '../../../shared/config';
import { AppError } from '../../../shared/errors';
import { consoleConfigSchema, type ConsoleConfig } from '../../../shared/model/console-config';
import { safeIdSchema } from '../../../shared/model/safe-text';
import { orgSchema } from '../../../shared/model/tenant';
import { defineRoute, type RouteDefinition } from '../route-definition';
import { serveAsset } from './api-viewer-routes';

/**
 * The admin page (admin-ui/, built by Vite into dist/console/ by `npm run build`): served by the app
 * itself through the route table, so the Functions app and the local host serve the same page, under
 * `api/` (the Functions host refuses routes starting with `admin`). Same-origin: it calls this API.
 */

/**
 * Where the built page lies: beside the compiled code (`dist/console`, as deployed and as `npm start`
 * runs it), or under the repository's `dist/` when this file runs from source (the tests).
 */
function consoleFolder(): string | undefined {
  const root = join(__dirname, '..', '..', '..');
  return [join(root, 'console'), join(root, 'dist', 'console')].find((dir) =>
    existsSync(join(dir, 'index.html')),
  );
}

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

function typeOf(name: string): string | undefined {
  const dot = name.lastIndexOf('.');
  return dot < 0 ? undefined : TYPES[name.slice(dot)];
}

/** The built files the asset route may serve: the folder's listing (names with a known type), once. */
let listing: { dir: string; files: Set<string> } | undefined;
function builtFiles(): { dir: string; files: Set<string> } {
  if (listing !== undefined) return listing;
  const dir = consoleFolder();
  if (dir === undefined) {
    throw new AppError('NotFound', 'The admin page is not built: run `npm run build`.');
  }
  const files = new Set(readdirSync(dir).filter((name) => typeOf(name) !== undefined));
  listing = { dir, files };
  return listing;
}

/** The page's policy: its own scripts and styles only; it calls this API and, signed in with Entra, the authority. */
function pagePolicy(settings: Settings): string {
  const authority =
    settings.ADMIN_CONSOLE_CLIENT_ID === '' ? '' : ` ${new URL(settings.AUTH_ENTRA_AUTHORITY).origin}`;
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src 'self'${authority}`,
    `frame-src 'self'${authority}`,
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** `GET api/console`: the admin page. */
export const consolePageRoute = defineRoute({
  name: 'consolePage',
  method: 'GET',
  route: 'api/console',
  auth: 'none',
  summary: 'The admin web page (a single-page app over this API; sign-in on the page).',
  response: z.string(),
  mediaTypes: ['text/html'],
  errors: ['NotFound'],
  handler: async ({ headers, services }) => {
    const { dir } = builtFiles();
    const page = await serveAsset(
      'console/index.html',
      'text/html; charset=utf-8',
      () => readFile(join(dir, 'index.html')),
      headers,
      'no-cache',
    );
    return {
      ...page,
      headers: { ...page.headers, 'content-security-policy': pagePolicy(services.settings) },
    };
  },
});

/** `GET api/console/{asset}`: a built script, style or image of the page (content-hashed names). */
export const consoleAssetRoute = defineRoute({
  name: 'consoleAsset',
  method: 'GET',
  route: 'api/console/{asset}',
  auth: 'none',
  params: z.object({ asset: z.string().max(200) }),
  summary: "A file of the admin page: its built scripts and styles (names carry their content's hash).",
  response: z.string(),
  mediaTypes: ['text/javascript', 'text/css', 'image/svg+xml', 'image/png'],
  errors: ['NotFound'],
  handler: async ({ params, headers }) => {
    const { dir, files } = builtFiles();
    const type = typeOf(params.asset);
    if (!files.has(params.asset) || type === undefined) {
      throw new AppError('NotFound', `The admin page has no file '${params.asset}'.`);
    }
    return serveAsset(
      `console/${params.asset}`,
      type,
      () => readFile(join(dir, params.asset)),
      headers,
      'public, max-age=31536000, immutable',
    );
  },
});

/** The API's scope for the page: its `api://` audience, or `api://<client id>`, with `/.default`. */
function apiScope(settings: Settings): string | undefined {
  const audience =
    settings.AUTH_AUDIENCE.find((a) => a.startsWith('api://')) ??
    (settings.AUTH_AUDIENCE[0] === undefined ? undefined : `api://${settings.AUTH_AUDIENCE[0]}`);
  return audience === undefined ? undefined : `${audience}/.default`;
}

/** `GET api/console/config`: how the page signs in on this host. */
export const consoleConfigRoute = defineRoute({
  name: 'consoleConfig',
  method: 'GET',
  route: 'api/console/config',
  auth: 'none',
  summary:
    'How the admin page signs in here: development sign-in (local host) and/or Microsoft Entra (MSAL).',
  response: consoleConfigSchema,
  handler: async ({ services }) => {
    const { settings } = services;
    const scope = apiScope(settings);
    const body: ConsoleConfig = {
      developmentSignIn: settings.AUTH_LOCAL_ENABLED,
      entra:
        settings.AUTH_ENTRA_ENABLED && settings.ADMIN_CONSOLE_CLIENT_ID !== '' && scope !== undefined
          ? {
              clientId: settings.ADMIN_CONSOLE_CLIENT_ID,
              authority: `${settings.AUTH_ENTRA_AUTHORITY.replace(/\/+$/, '')}/organizations`,
              scopes: [scope],
            }
          : null,
    };
    return { body, headers: { 'cache-control': 'no-cache' } };
  },
});

/** Body of `POST api/console/development-token`. */
export const developmentTokenRequestSchema = z.union([
  z.object({ operator: z.literal(true) }).strict(),
  z
    .object({
      org: orgSchema,
      /** A directory user (id, user name or Entra object id); absent: an admin tied to no user. */
      user: safeIdSchema(100).optional(),
      admin: z.boolean().default(true),
    })
    .strict(),
]);

/**
 * `POST api/console/development-token`: a development token, for the page's "sign in as" — only where
 * the host accepts development tokens (`AUTH_LOCAL_ENABLED`: the local host, whose data folder holds
 * the key; anyone who can reach it can run `npm run token` too). Elsewhere 404, as if absent.
 */
export const developmentTokenRoute = defineRoute({
  name: 'consoleDevelopmentToken',
  method: 'POST',
  route: 'api/console/development-token',
  auth: 'none',
  body: developmentTokenRequestSchema,
  summary:
    'Local host only (AUTH_LOCAL_ENABLED): a development token for the operator or a tenant admin or user; 404 elsewhere.',
  response: z.object({ token: z.string() }),
  errors: ['NotFound', 'TenantNotFound'],
  handler: async ({ body, services }) => {
    if (!services.settings.AUTH_LOCAL_ENABLED) {
      throw new AppError('NotFound', 'This host issues no development tokens.');
    }
    const token = await issueDevelopmentToken(services.settings, services.store, body);
    return { body: { token }, headers: { 'cache-control': 'no-store' } };
  },
});

/** The admin page's routes, for the route table. */
export const consoleRoutes: RouteDefinition[] = [
  consolePageRoute,
  consoleConfigRoute,
  developmentTokenRoute,
  consoleAssetRoute,
];
