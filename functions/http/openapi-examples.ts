/**
 * Examples of the OpenAPI document, taken from the README's worked example ("configure a tenant as
 * an admin": tenant `acme`, entity `account`, profile `sellers`, app `field-sales`) and its device SDK
 * section (device `dave-phone-1`). A test checks each against its route's own schema and against the
 * README's text, so neither can drift from the code.
 */

/** Example values of path and query parameters, by parameter name. */
export const parameterExamples: Readonly<Record<string, string>> = {
  org: 'acme',
  entity: 'account',
  id: 'sellers',
  appId: 'field-sales',
  app: 'field-sales',
  deviceId: 'dave-phone-1',
};

/** One request body example of a route (by route name): what it shows, and the JSON sent. */
export interface RequestExample {
  summary: string;
  value: unknown;
}

/** Request body examples by route name. */
export const requestExamples: Readonly<Record<string, RequestExample>> = {
  tenantRegister: {
    summary: 'Register tenant acme with a local source',
    value: {
      displayName: 'Acme',
      entraTenantId: '5c1d2e3f-4a5b-4c6d-8e7f-8a9b0c1d2e3f',
      source: { kind: 'local' },
    },
  },
  entityDeclare: {
    summary: 'Declare the account entity',
    value: {
      primaryIdAttribute: 'accountid',
      primaryNameAttribute: 'name',
      ownership: 'user',
      attributes: [
        { name: 'accountid', type: 'uniqueidentifier', required: true },
        { name: 'name', type: 'string', maxLength: 160, required: true },
        { name: 'ownerid', type: 'owner', targets: ['systemuser', 'team'] },
        { name: 'owningbusinessunit', type: 'lookup', targets: ['businessunit'] },
        { name: 'modifiedon', type: 'datetime' },
      ],
    },
  },
  entityOfflineSet: {
    summary: 'Enable account for offline, rows modified in the last 30 days',
    value: { enabled: true, orgFilter: [{ attribute: 'modifiedon', operator: 'last-x-days', value: 30 }] },
  },
  directoryReplace: {
    summary: 'One business unit, one seller and their role',
    value: {
      businessUnits: [{ id: 'bu-root', name: 'Acme', parentId: null }],
      users: [
        {
          id: 'u1',
          entraObjectId: '0f8fad5b-d9cb-469f-a165-70867728950e',
          userName: 'ann',
          fullName: 'Ann',
          businessUnitId: 'bu-root',
          roleIds: ['seller'],
        },
      ],
      roles: [
        {
          id: 'seller',
          name: 'Seller',
          privileges: {
            account: { read: 'user', write: 'user', create: 'user' },
            mobileofflineprofile: { read: 'organization' },
          },
        },
      ],
    },
  },
  profileCreate: { summary: 'Create the sellers profile', value: { id: 'sellers', name: 'Sellers' } },
  profileReplace: {
    summary: "The sellers' own accounts, for user u1",
    value: { name: 'Sellers', items: [{ entity: 'account', rule: 'other', mine: true }], users: ['u1'] },
  },
  appPut: {
    summary: 'The field-sales app, offline with the sellers profile',
    value: { name: 'Field Sales', offlineEnabled: true, profiles: ['sellers'] },
  },
  provisioningAction: { summary: 'Provision the tenant', value: { action: 'provision' } },
  syncDownload: {
    summary: 'First download of a device, in the tables format the SDK asks for',
    value: { app: 'field-sales', deviceId: 'dave-phone-1', format: 'tables' },
  },
};
