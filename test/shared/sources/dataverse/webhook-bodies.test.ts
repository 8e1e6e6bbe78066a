import {
  ASYNC_STEP_PRIMARY_NAME_IMAGE,
  normalizeRemoteExecutionContext,
} from '../../../../shared/sources/dataverse/remote-execution-context';

/**
 * RemoteExecutionContext bodies of the shape Dataverse posts to a webhook (asynchronous
 * post-operation steps, JSON as DataContractJsonSerializer writes it: escaped slashes, `\/Date(ms)\/`,
 * .NET primitives in `object` slots wrapped as `{"__type":"Guid:#System","__value":…}`, the
 * `AsynchronousStepPrimaryName` image every asynchronous step gets, a ParentContext), each parsed
 * from its JSON text.
 */

const ACCOUNT = 'ec4e2f7d-9d60-e811-a95a-000d3af24950';
const USER = 'df010dad-f103-4589-ba66-76a5a04c2a11';
const TEAM = '4a2f1c3e-5b6d-e811-a95a-000d3af24950';
const CONTRACTS = String.raw`http:\/\/schemas.microsoft.com\/xrm\/2011\/Contracts`;

const reference = (logicalName: string, id: string) =>
  String.raw`{"__type":"EntityReference:${CONTRACTS}","Id":"${id}","KeyAttributes":[],"LogicalName":"${logicalName}","Name":null,"RowVersion":null}`;
const optionSet = (value: number) => String.raw`{"__type":"OptionSetValue:${CONTRACTS}","Value":${value}}`;
const guid = (id: string) => String.raw`{"__type":"Guid:#System","__value":"${id}"}`;
const dateTime = (ms: number) => String.raw`{"__type":"DateTime:#System","__value":"\/Date(${ms})\/"}`;
const attributes = (pairs: [string, string][]) =>
  `[${pairs.map(([key, value]) => `{"key":"${key}","value":${value}}`).join(',')}]`;
const entity = (pairs: [string, string][], rowVersion: string | null = null) =>
  String.raw`{"__type":"Entity:${CONTRACTS}","Attributes":${attributes(pairs)},"EntityState":null,"FormattedValues":[],"Id":"${ACCOUNT}","KeyAttributes":[],"LogicalName":"account","RelatedEntities":[],"RowVersion":${rowVersion === null ? 'null' : `"${rowVersion}"`}}`;
/** The image of every asynchronous step: the primary name and id only, no `__type`. */
const primaryNameImage = String.raw`{"key":"${ASYNC_STEP_PRIMARY_NAME_IMAGE}","value":{"Attributes":[{"key":"name","value":"Contoso"},{"key":"accountid","value":"${ACCOUNT}"}],"EntityState":null,"FormattedValues":[],"Id":"${ACCOUNT}","KeyAttributes":[],"LogicalName":"account","RelatedEntities":[],"RowVersion":null}}`;
const image = (name: string, pairs: [string, string][], rowVersion: string | null = null) =>
  `{"key":"${name}","value":${entity(pairs, rowVersion)}}`;

/** A whole context as Dataverse posts it. */
function webhookBody(
  message: string,
  input: [string, string][],
  images: { post?: string[]; pre?: string[]; output?: [string, string][] } = {},
): unknown {
  const text = String.raw`{"BusinessUnitId":"f0bf3c9a-8150-e811-a953-000d3af29fc0","CorrelationId":"39499111-e689-42a1-ae8a-5b14a84514ce","Depth":1,"InitiatingUserAzureActiveDirectoryObjectId":"00000000-0000-0000-0000-000000000000","InitiatingUserId":"${USER}","InputParameters":${attributes(input)},"IsExecutingOffline":false,"IsInTransaction":false,"IsOfflinePlayback":false,"IsolationMode":1,"MessageName":"${message}","Mode":1,"OperationCreatedOn":"\/Date(1527757530151+0000)\/","OperationId":"08fec203-ec78-4f7a-a024-c96e329a64fe","OrganizationId":"b0714265-8e72-4d3b-8239-ecf0970a3da6","OrganizationName":"org94971a24","OutputParameters":${attributes(images.output ?? [])},"OwningExtension":{"Id":"3db800fe-0963-e811-a95a-000d3af24324","KeyAttributes":[],"LogicalName":"sdkmessageprocessingstep","Name":"OfflineSync: ${message} of account","RowVersion":null},"ParentContext":{"BusinessUnitId":"f0bf3c9a-8150-e811-a953-000d3af29fc0","CorrelationId":"39499111-e689-42a1-ae8a-5b14a84514ce","Depth":1,"InitiatingUserId":"${USER}","InputParameters":[],"IsExecutingOffline":false,"IsInTransaction":true,"IsOfflinePlayback":false,"IsolationMode":1,"MessageName":"${message}","Mode":0,"OperationCreatedOn":"\/Date(1527757524631)\/","OperationId":"08fec203-ec78-4f7a-a024-c96e329a64fe","OrganizationId":"b0714265-8e72-4d3b-8239-ecf0970a3da6","OrganizationName":"org94971a24","OutputParameters":[],"OwningExtension":{"Id":"63cdbb1b-ea3e-db11-86a7-000a3a5473e8","KeyAttributes":[],"LogicalName":"sdkmessageprocessingstep","Name":"ObjectModel Implementation","RowVersion":null},"ParentContext":null,"PostEntityImages":[],"PreEntityImages":[],"PrimaryEntityId":"${ACCOUNT}","PrimaryEntityName":"account","RequestId":"08fec203-ec78-4f7a-a024-c96e329a64fe","SecondaryEntityName":"none","SharedVariables":[],"Stage":30,"UserId":"${USER}"},"PostEntityImages":[${(images.post ?? []).join(',')}],"PreEntityImages":[${(images.pre ?? []).join(',')}],"PrimaryEntityId":"${ACCOUNT}","PrimaryEntityName":"account","RequestId":"08fec203-ec78-4f7a-a024-c96e329a64fe","SecondaryEntityName":"none","SharedVariables":[{"key":"IsAutoTransact","value":true}],"Stage":40,"UserAzureActiveDirectoryObjectId":"00000000-0000-0000-0000-000000000000","UserId":"${USER}"}`;
  return JSON.parse(text) as unknown;
}

describe('Dataverse webhook bodies', () => {
  it('Create: unwraps Guid and DateTime values, takes the registered image past the primary-name one', () => {
    const body = webhookBody(
      'Create',
      [
        [
          'Target',
          entity([
            ['name', '"Contoso"'],
            ['accountid', guid(ACCOUNT.toUpperCase())],
            ['createdon', dateTime(1527757524000)],
            ['ownerid', reference('systemuser', USER)],
            ['statuscode', optionSet(1)],
            ['revenue', String.raw`{"__type":"Money:${CONTRACTS}","Value":1500.5}`],
          ]),
        ],
        ['SuppressDuplicateDetection', 'false'],
      ],
      {
        // The platform's image comes first: taking the first image would lose the registered one.
        post: [
          primaryNameImage,
          image('PostImage', [
            ['name', '"Contoso"'],
            ['telephone1', '"555-0100"'],
            ['versionnumber', '{"__type":"Int64:#System","__value":5012345}'],
          ]),
        ],
        output: [['id', guid(ACCOUNT)]],
      },
    );
    expect(normalizeRemoteExecutionContext(body)).toEqual([
      {
        entity: 'account',
        id: ACCOUNT,
        op: 'upsert',
        attributes: {
          name: 'Contoso',
          accountid: ACCOUNT,
          createdon: '2018-05-31T09:05:24.000Z',
          ownerid: USER,
          owneridtype: 'systemuser',
          statuscode: 1,
          revenue: 1500.5,
          telephone1: '555-0100',
          versionnumber: 5012345,
        },
        version: '5012345',
        merge: false,
        reread: false,
        message: 'Create',
        initiatingUserId: USER,
        correlationId: '39499111-e689-42a1-ae8a-5b14a84514ce',
        depth: 1,
      },
    ]);
  });

  it('Update: the changed columns with System-typed values as an id and a date, merged', () => {
    const body = webhookBody(
      'Update',
      [
        [
          'Target',
          entity([
            ['telephone1', '"1111"'],
            ['accountid', guid(ACCOUNT)],
            ['modifiedon', dateTime(1527757524000)],
            ['modifiedby', reference('systemuser', USER.toUpperCase())],
            ['modifiedonbehalfby', 'null'],
          ]),
        ],
      ],
      { post: [primaryNameImage, image('PostImage', [['telephone1', '"1111"']], '777')] },
    );
    const [change] = normalizeRemoteExecutionContext(body);
    expect(change).toMatchObject({
      op: 'upsert',
      merge: true,
      version: '777',
      attributes: {
        telephone1: '1111',
        accountid: ACCOUNT,
        modifiedon: '2018-05-31T09:05:24.000Z',
        modifiedby: USER,
        modifiedonbehalfby: null,
      },
    });
    expect(typeof change!.attributes.accountid).toBe('string');
  });

  it('Delete: the Target reference, whatever images the step has', () => {
    const body = webhookBody('Delete', [['Target', reference('account', ACCOUNT.toUpperCase())]], {
      pre: [image('PreImage', [['name', '"Contoso"']])],
      post: [primaryNameImage],
    });
    expect(normalizeRemoteExecutionContext(body)).toEqual([
      expect.objectContaining({ op: 'delete', entity: 'account', id: ACCOUNT, attributes: {}, merge: false }),
    ]);
  });

  it('Assign: the new owner with its type, and the registered image', () => {
    const body = webhookBody(
      'Assign',
      [
        ['Target', reference('account', ACCOUNT)],
        ['Assignee', reference('team', TEAM)],
      ],
      { post: [primaryNameImage, image('PostImage', [['modifiedon', dateTime(1608007658000)]], '900')] },
    );
    const [change] = normalizeRemoteExecutionContext(body);
    expect(change).toMatchObject({
      op: 'upsert',
      merge: true,
      version: '900',
      attributes: { ownerid: TEAM, owneridtype: 'team', modifiedon: '2020-12-15T04:47:38.000Z' },
    });
  });

  it('SetState: state and status as their values, System-typed or not', () => {
    const body = webhookBody(
      'SetState',
      [
        ['EntityMoniker', reference('account', ACCOUNT)],
        ['State', optionSet(1)],
        ['Status', '{"__type":"Int32:#System","__value":2}'],
      ],
      { post: [primaryNameImage, image('PostImage', [['statecode', optionSet(1)]], '901')] },
    );
    const [change] = normalizeRemoteExecutionContext(body);
    expect(change).toMatchObject({
      op: 'upsert',
      merge: true,
      version: '901',
      attributes: { statecode: 1, statuscode: 2 },
    });
  });

  describe('choosing the post image', () => {
    const update = (post: string[]) =>
      webhookBody('Update', [['Target', entity([['telephone1', '"2222"']])]], { post });
    const two = [
      image('Audit', [['telephone1', '"stale"']], '100'),
      primaryNameImage,
      image('OfflineSync', [['telephone1', '"2222"']], '200'),
    ];

    it('takes the one named in the options (the tenant setting), whatever its position', () => {
      const [change] = normalizeRemoteExecutionContext(update(two), { postImageName: 'OfflineSync' });
      expect(change).toMatchObject({ version: '200', attributes: { telephone1: '2222' } });
    });

    it('takes none among several unnamed ones: the Target stands, and without a version the row is read again', () => {
      const [change] = normalizeRemoteExecutionContext(update(two));
      expect(change).toMatchObject({ version: undefined, attributes: { telephone1: '2222' } });
    });

    it('takes none when the named one is absent', () => {
      const [change] = normalizeRemoteExecutionContext(update(two), { postImageName: 'Missing' });
      expect(change).toMatchObject({ version: undefined });
    });

    it("never takes the platform's primary-name image", () => {
      const [change] = normalizeRemoteExecutionContext(update([primaryNameImage]));
      expect(change!.attributes).toEqual({ telephone1: '2222' });
    });
  });
});
