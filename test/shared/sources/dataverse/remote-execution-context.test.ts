import { ZodError } from 'zod';
import {
  convertWcfValue,
  normalizeRemoteExecutionContext,
} from '../../../../shared/sources/dataverse/remote-execution-context';

const CONTRACTS = 'http://schemas.microsoft.com/xrm/2011/Contracts';
const ACCOUNT = '6d81597f-0f9f-e711-8122-000d3aa2331c';
const USER = '75c2dd85-e89e-e711-8122-000d3aa2331c';
const TEAM = '9a000000-0000-4000-8000-000000000001';

/** The reference's minimal Update example (reference/dataverse.md §4), parsed from its JSON text. */
const updateExample = JSON.parse(String.raw`{ "MessageName": "Update", "PrimaryEntityName": "account",
  "PrimaryEntityId": "6d81597f-0f9f-e711-8122-000d3aa2331c",
  "UserId": "75c2dd85-e89e-e711-8122-000d3aa2331c", "InitiatingUserId": "75c2dd85-e89e-e711-8122-000d3aa2331c",
  "BusinessUnitId": "e2b9dd85-e89e-e711-8122-000d3aa2331c", "OrganizationId": "4ef5b371-e89e-e711-8122-000d3aa2331c",
  "Depth": 1, "Mode": 1, "Stage": 40,
  "InputParameters": [ { "key": "Target", "value": {
      "__type": "Entity:http:\/\/schemas.microsoft.com\/xrm\/2011\/Contracts",
      "LogicalName": "account", "Id": "6d81597f-0f9f-e711-8122-000d3aa2331c",
      "Attributes": [ { "key": "name", "value": "Fabrikam" },
        { "key": "statuscode", "value": { "__type": "OptionSetValue:http:\/\/schemas.microsoft.com\/xrm\/2011\/Contracts", "Value": 1 } } ] } } ],
  "PreEntityImages": [], "PostEntityImages": [] }`) as Record<string, unknown>;

function context(
  message: string,
  input: unknown[],
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    MessageName: message,
    PrimaryEntityName: 'account',
    PrimaryEntityId: ACCOUNT,
    InitiatingUserId: USER,
    Depth: 1,
    InputParameters: input,
    OutputParameters: [],
    PreEntityImages: [],
    PostEntityImages: [],
    ...extra,
  };
}

const reference = (logicalName: string, id: string, rowVersion?: string) => ({
  __type: `EntityReference:${CONTRACTS}`,
  Id: id,
  LogicalName: logicalName,
  Name: null,
  KeyAttributes: [],
  RowVersion: rowVersion ?? null,
});

describe('RemoteExecutionContext', () => {
  it('normalizes the reference Update: only the changed columns, to be merged', () => {
    expect(normalizeRemoteExecutionContext(updateExample)).toEqual([
      {
        entity: 'account',
        id: ACCOUNT,
        op: 'upsert',
        attributes: { name: 'Fabrikam', statuscode: 1 },
        version: undefined,
        merge: true,
        reread: false,
        message: 'Update',
        initiatingUserId: USER,
        depth: 1,
      },
    ]);
  });

  it('normalizes a Create with typed values, the owner type and the row version', () => {
    const [change] = normalizeRemoteExecutionContext(
      context('Create', [
        {
          key: 'Target',
          value: {
            __type: `Entity:${CONTRACTS}`,
            LogicalName: 'account',
            Id: ACCOUNT,
            RowVersion: '5012345',
            Attributes: [
              { key: 'name', value: 'Contoso' },
              { key: 'ownerid', value: reference('team', TEAM) },
              { key: 'revenue', value: { __type: `Money:${CONTRACTS}`, Value: 1500.5 } },
              { key: 'createdon', value: '/Date(1506384247000)/' },
              { key: 'creditonhold', value: false },
            ],
          },
        },
      ]),
    );
    expect(change).toMatchObject({
      op: 'upsert',
      merge: false,
      version: '5012345',
      attributes: {
        name: 'Contoso',
        ownerid: TEAM,
        owneridtype: 'team',
        revenue: 1500.5,
        createdon: '2017-09-26T00:04:07.000Z',
        creditonhold: false,
      },
    });
  });

  it('prefers the post image, whose columns complete the Target, and takes its version', () => {
    const [change] = normalizeRemoteExecutionContext(
      context(
        'Update',
        [
          {
            key: 'Target',
            value: { LogicalName: 'account', Id: ACCOUNT, Attributes: [{ key: 'name', value: 'New' }] },
          },
        ],
        {
          PostEntityImages: [
            {
              key: 'PostImage',
              value: {
                LogicalName: 'account',
                Id: ACCOUNT,
                Attributes: [
                  { key: 'name', value: 'New' },
                  { key: 'telephone1', value: '555-0100' },
                  { key: 'versionnumber', value: 777 },
                ],
              },
            },
          ],
        },
      ),
    );
    expect(change).toMatchObject({
      attributes: { name: 'New', telephone1: '555-0100' },
      version: '777',
      merge: true,
    });
  });

  it('normalizes a Delete whose Target is an EntityReference', () => {
    expect(
      normalizeRemoteExecutionContext(
        context('Delete', [{ key: 'Target', value: reference('account', ACCOUNT.toUpperCase(), '42') }]),
      ),
    ).toEqual([
      expect.objectContaining({
        entity: 'account',
        id: ACCOUNT,
        op: 'delete',
        attributes: {},
        version: '42',
        merge: false,
      }),
    ]);
  });

  it('normalizes an Assign into an owner change', () => {
    const [change] = normalizeRemoteExecutionContext(
      context('Assign', [
        { key: 'Target', value: reference('account', ACCOUNT) },
        { key: 'Assignee', value: reference('systemuser', USER) },
      ]),
    );
    expect(change).toMatchObject({
      op: 'upsert',
      merge: true,
      attributes: { ownerid: USER, owneridtype: 'systemuser' },
    });
  });

  it.each(['SetState', 'SetStateDynamicEntity'])('normalizes %s into a state change', (message) => {
    const [change] = normalizeRemoteExecutionContext(
      context(message, [
        { key: 'EntityMoniker', value: reference('account', ACCOUNT) },
        { key: 'State', value: { __type: `OptionSetValue:${CONTRACTS}`, Value: 1 } },
        { key: 'Status', value: { __type: `OptionSetValue:${CONTRACTS}`, Value: 2 } },
      ]),
    );
    expect(change).toMatchObject({ op: 'upsert', merge: true, attributes: { statecode: 1, statuscode: 2 } });
  });

  it('asks for a re-read when the payload was trimmed (over 256 KB)', () => {
    const [change] = normalizeRemoteExecutionContext(context('Update', []));
    expect(change).toMatchObject({ op: 'upsert', reread: true, merge: true, attributes: {} });
  });

  it('yields nothing for messages that change no row', () => {
    expect(normalizeRemoteExecutionContext(context('Retrieve', []))).toEqual([]);
  });

  it('rejects invalid input with a ZodError', () => {
    expect(() => normalizeRemoteExecutionContext({ MessageName: 'Update' })).toThrow(ZodError);
    expect(() =>
      normalizeRemoteExecutionContext(
        context('Update', [{ key: 'Target', value: { LogicalName: 'account' } }]),
      ),
    ).toThrow(ZodError);
    expect(() =>
      normalizeRemoteExecutionContext({ ...context('Create', []), PrimaryEntityId: 'not-a-guid' }),
    ).toThrow(ZodError);
  });

  it('converts WCF values', () => {
    expect(convertWcfValue('/Date(0)/')).toBe('1970-01-01T00:00:00.000Z');
    expect(convertWcfValue('/Date(1506384247000+0200)/')).toBe('2017-09-26T00:04:07.000Z');
    expect(
      convertWcfValue({
        __type: `OptionSetValueCollection:${CONTRACTS}`,
        Value: [{ __type: `OptionSetValue:${CONTRACTS}`, Value: 3 }],
      }),
    ).toEqual([3]);
    expect(convertWcfValue(null)).toBeNull();
  });
});
