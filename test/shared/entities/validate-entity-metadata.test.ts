import { defaultOfflineSettings } from '../../../shared/entities/default-offline-settings';
import {
  validateEntityCatalog,
  validateEntityMetadata,
} from '../../../shared/entities/validate-entity-metadata';
import type { EntityMetadata } from '../../../shared/model/entity';
import { testEntities, testEntity } from '../../support/offline-config-fixtures';

const disabled = { enabled: false, orgFilter: [], required: false };

function catalog(entities: EntityMetadata[]): string[] {
  return validateEntityCatalog(entities.map((metadata) => ({ metadata, offline: disabled }))).map(
    (v) => `${v.path}:${v.code}`,
  );
}

describe('validateEntityMetadata', () => {
  it('accepts an entity whose primary attributes exist', () => {
    expect(validateEntityMetadata(testEntity('account'))).toEqual([]);
  });

  it('refuses missing primary id and name attributes, duplicates, and foreign relationships', () => {
    const account = testEntity('account');
    const broken: EntityMetadata = {
      ...account,
      primaryIdAttribute: 'nosuchid',
      primaryNameAttribute: 'title',
      attributes: [...account.attributes, { name: 'name', type: 'string', required: false, secured: false }],
      relationships: [
        ...account.relationships,
        ...testEntity('note').relationships,
        account.relationships[0]!,
      ],
    };
    expect(validateEntityMetadata(broken).map((v) => `${v.path}:${v.code}`)).toEqual([
      `attributes[${account.attributes.length}].name:DuplicateAttribute`,
      'primaryIdAttribute:AttributeNotFound',
      'primaryNameAttribute:AttributeNotFound',
      `relationships[${account.relationships.length}]:RelationshipNotOnEntity`,
      `relationships[${account.relationships.length + 1}].name:DuplicateRelationship`,
    ]);
  });
});

describe('validateEntityCatalog', () => {
  it('accepts a catalog whose relationships name declared entities and attributes', () => {
    expect(catalog(testEntities())).toEqual([]);
  });

  it('refuses relationships to undeclared entities or missing attributes', () => {
    const entities = testEntities().filter((e) => e.logicalName !== 'transactioncurrency');
    const contact = entities.find((e) => e.logicalName === 'contact')!;
    contact.attributes = contact.attributes.filter((a) => a.name !== 'parentcustomerid');
    expect(catalog(entities)).toEqual([
      'entities[account].relationships[0].referencingAttribute:AttributeNotFound',
      'entities[account].relationships[2].referencedEntity:EntityNotFound',
      'entities[contact].relationships[0].referencingAttribute:AttributeNotFound',
    ]);
  });

  it('checks many-to-many sides and the org filters of offline entities', () => {
    const entities = testEntities();
    entities[0]!.relationships.push({
      name: 'account_competitors',
      kind: 'many-to-many',
      intersectEntity: 'accountcompetitors',
      entity1: 'account',
      entity1Attribute: 'accountid',
      entity2: 'competitor',
      entity2Attribute: 'competitorid',
    });
    const violations = validateEntityCatalog(
      entities.map((metadata, i) => ({
        metadata,
        offline:
          i === 0
            ? {
                enabled: true,
                orgFilter: [{ attribute: 'name', operator: 'last-x-days' as const, value: 1 }],
                required: false,
              }
            : disabled,
      })),
    ).map((v) => `${v.path}:${v.code}`);
    expect(violations).toEqual([
      'entities[account].relationships[4].entity2:EntityNotFound',
      'entities[account].orgFilter[0].operator:OperatorNotValidForAttribute',
    ]);
  });
});

describe('defaultOfflineSettings', () => {
  it('enables default entities with modifiedon last-x-days 10', () => {
    expect(defaultOfflineSettings(testEntity('account'))).toEqual({
      enabled: true,
      orgFilter: [{ attribute: 'modifiedon', operator: 'last-x-days', value: 10 }],
      required: false,
    });
  });

  it('enables a default entity without modifiedon with no filter, and leaves others disabled', () => {
    expect(defaultOfflineSettings(testEntity('transactioncurrency'))).toEqual({
      enabled: true,
      orgFilter: [],
      required: false,
    });
    expect(defaultOfflineSettings(testEntity('territory'))).toEqual({
      enabled: false,
      orgFilter: [],
      required: false,
    });
  });
});
