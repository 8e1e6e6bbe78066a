import { z } from 'zod';

/** What the admin page needs to sign in on a host (`GET api/console/config`). */
export const consoleConfigSchema = z.object({
  /** The host accepts its own development tokens: the page offers "sign in as" (the local host). */
  developmentSignIn: z.boolean(),
  /** Microsoft Entra sign-in (MSAL, authorization code with PKCE), when configured. */
  entra: z
    .object({
      clientId: z.string(),
      /** Authority for sign-in: `<AUTH_ENTRA_AUTHORITY>/organizations` (any work account). */
      authority: z.string(),
      /** The API's scope: its application ID URI with `/.default` (app roles ride in the token). */
      scopes: z.array(z.string()),
    })
    .nullable(),
});
export type ConsoleConfig = z.infer<typeof consoleConfigSchema>;
