import { z } from 'zod';
import { safeIdSchema, safeNameSchema } from './safe-text';

/** A tenant's short unique name, used in every route and in database names. */
export const orgSchema = z
  .string()
  .regex(/^[a-z][a-z0-9-]{1,30}[a-z0-9]$/, 'lower-case letters, digits and hyphens, 3 to 32 characters')
  // `tenants` would make `admin/tenants/…` and `admin/{org}/…` routes ambiguous.
  .refine((org) => org !== 'tenants', 'is reserved');
export type Org = z.infer<typeof orgSchema>;

/** The tenant's system of record. */
export const tenantSourceSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('local') }).strict(),
  z
    .object({
      kind: z.literal('dataverse'),
      /** Environment URL, e.g. `https://contoso.crm.dynamics.com`. */
      url: z
        .url()
        .refine((u) => u.startsWith('https://') || u.startsWith('http://127.0.0.1'), 'must be https'),
      /** Client id of the app registration (client-secret auth); omit to use the managed identity. */
      clientId: safeIdSchema(100).optional(),
      /** Name of the Key Vault secret that holds the client secret (Key Vault's rule: letters, digits, hyphens). */
      clientSecretName: z
        .string()
        .regex(/^[0-9A-Za-z-]{1,127}$/, 'letters, digits and hyphens, at most 127')
        .optional(),
    })
    .strict(),
]);
export type TenantSource = z.infer<typeof tenantSourceSchema>;

/** Body of `PUT admin/tenants/{org}`. */
export const tenantRegistrationSchema = z
  .object({
    displayName: safeNameSchema(200),
    /** The Microsoft Entra tenant whose tokens may act on this tenant (`tid` claim). */
    entraTenantId: z.uuid(),
    source: tenantSourceSchema,
  })
  .strict();
export type TenantRegistration = z.infer<typeof tenantRegistrationSchema>;

/** Where a tenant is in its lifecycle (SPEC §8). Devices may sync only when `active`. */
export const tenantStateSchema = z.enum([
  'registered',
  'provisioning',
  'active',
  'stopped',
  'failed',
  'deprovisioning',
  'deprovisioned',
]);
export type TenantState = z.infer<typeof tenantStateSchema>;

/** A registered tenant as the control store holds it. */
export const tenantSchema = tenantRegistrationSchema.extend({
  org: orgSchema,
  state: tenantStateSchema,
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});
export type Tenant = z.infer<typeof tenantSchema>;
