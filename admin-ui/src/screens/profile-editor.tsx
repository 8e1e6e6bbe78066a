import { useState } from 'preact/hooks';
import type { EntityListItem } from '../../../shared/admin/entity-config';
import type { EntityMetadata } from '../../../shared/model/entity';
import type { FilterTree } from '../../../shared/model/filter-tree';
import type {
  ProfileContent,
  ProfileDraft,
  ProfileItem,
  ProfileItemRule,
  Violation,
} from '../../../shared/model/profile';
import { resolveAssociation } from '../../../shared/profiles/resolve-association';
import { itemRulesByOwnership, type ItemFilterOption } from '../../../shared/profiles/validate-profile';
import type { ProfilePreview } from '../../../shared/sync/publish-preview';
import { ApiError, call, get, send, seg } from '../api';
import { ConditionEditor, newCondition } from '../condition-editor';
import { DirectoryPicker } from '../directory-picker';
import {
  ErrorText,
  FieldViolations,
  formatBytes,
  invalidProps,
  Notice,
  Section,
  useAction,
  useLoad,
} from '../ui';

type Draft = ProfileDraft & { etag: string; violations: Violation[] };

/** Most conditions and levels of a custom filter (checked by the server too). */
const MAX_CONDITIONS = 3;
const MAX_LEVELS = 3;

const OPTION_LABELS: Record<Exclude<ItemFilterOption, 'customFilter'>, string> = {
  mine: "The user's rows",
  team: "Their teams' rows",
  businessUnit: "Their business unit's rows",
};

function contentOf(draft: Draft): ProfileContent {
  return { name: draft.name, description: draft.description, items: draft.items, users: draft.users };
}

function countConditions(tree: FilterTree): number {
  return tree.conditions.length + tree.filters.reduce((n, f) => n + countConditions(f), 0);
}

/**
 * A profile's draft: items (rules the entity's ownership allows, the custom filter builder,
 * associations, sync intervals), users, every violation at the field its path names; save, publish,
 * and preview what each user would download.
 */
export function ProfileEditor({ org, id }: { org: string; id: string }) {
  const base = `admin/${seg(org)}/profiles/${seg(id)}`;
  const entities = useLoad(() => get<{ entities: EntityListItem[] }>(`admin/${seg(org)}/entities`), [org]);
  const loaded = useLoad(() => get<Draft>(base), [base]);
  const [draft, setDraft] = useState<Draft | undefined>();
  const [dirty, setDirty] = useState(false);
  const [preview, setPreview] = useState<ProfilePreview | undefined>();
  const [userError, setUserError] = useState<Violation[]>([]);
  const action = useAction();

  const current = draft ?? loaded.value;
  if (loaded.error !== undefined) return <ErrorText error={loaded.error} />;
  if (current === undefined || entities.value === undefined) return <p>Loading…</p>;
  const violations = current.violations;
  const published = entities.value.entities.filter((e) => e.published);
  const allMetadata = published.map((e) => e.metadata);

  const edit = (next: Partial<ProfileContent>) => {
    setDraft({ ...current, ...next });
    setDirty(true);
  };
  const editItem = (index: number, next: ProfileItem) =>
    edit({ items: current.items.map((item, i) => (i === index ? next : item)) });

  /** Saves the draft (If-Match: its etag); answers the stored draft with its violations. */
  const save = async (): Promise<Draft> => {
    const { body } = await call<Draft>('PUT', base, {
      body: contentOf(current),
      headers: { 'if-match': current.etag },
    });
    setDraft(body);
    setDirty(false);
    return body;
  };

  const withViolations = async (run: () => Promise<string>): Promise<string> => {
    try {
      return await run();
    } catch (error) {
      if (error instanceof ApiError && error.violations.length > 0)
        setDraft((d) => ({ ...(d ?? current), violations: error.violations }));
      throw error;
    }
  };

  return (
    <>
      <Section title={`Profile: ${current.name}`}>
        <p>
          Id {current.id} ·{' '}
          {current.publishedVersion === 0
            ? 'never published'
            : `published version ${current.publishedVersion}`}
          {(current.changedSincePublish || dirty) && <span class="badge">draft differs</span>}
          {dirty && <span class="badge">unsaved</span>}
        </p>
        <div class="buttons">
          <button
            type="button"
            disabled={action.busy}
            onClick={() =>
              action.run(() =>
                withViolations(async () => {
                  const saved = await save();
                  return saved.violations.length === 0
                    ? 'Saved.'
                    : `Saved; a publish would refuse ${saved.violations.length} violation(s).`;
                }),
              )
            }
          >
            Save draft
          </button>
          <button
            type="button"
            disabled={action.busy}
            onClick={() =>
              action.run(() =>
                withViolations(async () => {
                  if (dirty) await save();
                  const { version } = await send<{ version: number }>('POST', `${base}/publish`);
                  setDraft(await get<Draft>(base));
                  setDirty(false);
                  return `Published version ${version}.`;
                }),
              )
            }
          >
            Publish
          </button>
          <button
            type="button"
            disabled={action.busy}
            onClick={() =>
              action.run(async () => {
                if (dirty) await save();
                setPreview(await send<ProfilePreview>('POST', `${base}/preview`, {}));
                return 'Preview computed.';
              })
            }
          >
            Preview downloads
          </button>
        </div>
        <ErrorText error={action.error} />
        <Notice text={action.done} />
        {violations.length > 0 && (
          <div class="summary" role="region" aria-label="Publish violations">
            <p>A publish would refuse {violations.length} violation(s); each is shown at its field:</p>
            <ul class="violations">
              {violations.map((v, i) => (
                <li key={i}>
                  <span class="code">{v.path}</span> {v.message}
                </li>
              ))}
            </ul>
          </div>
        )}
        <label>
          Name
          <input
            value={current.name}
            name="name"
            {...invalidProps(violations, 'name')}
            onInput={(e) => edit({ name: e.currentTarget.value })}
          />
        </label>
        <FieldViolations violations={violations} path="name" />
        <label>
          Description
          <textarea
            value={current.description}
            name="description"
            rows={2}
            onInput={(e) => edit({ description: e.currentTarget.value })}
          />
        </label>
        <FieldViolations violations={violations} path="description" />
      </Section>

      {preview && <PreviewTable preview={preview} />}

      <Section title="Items">
        <FieldViolations violations={violations} path="items" />
        {current.items.map((item, i) => (
          <ItemEditor
            key={i}
            index={i}
            item={item}
            entities={published}
            allMetadata={allMetadata}
            violations={violations}
            onChange={(next) => editItem(i, next)}
            onRemove={() => edit({ items: current.items.filter((_, j) => j !== i) })}
          />
        ))}
        <button
          type="button"
          onClick={() => {
            const first = published.find(
              (e) => e.offline.enabled && !current.items.some((i) => i.entity === e.logicalName),
            );
            if (first === undefined) return;
            const rules = itemRulesByOwnership[first.metadata.ownership].rules;
            edit({
              items: [
                ...current.items,
                {
                  entity: first.logicalName,
                  rule: rules.includes('all') ? 'all' : rules[0]!,
                  mine: false,
                  team: false,
                  businessUnit: false,
                  associations: [],
                },
              ],
            });
          }}
        >
          Add item
        </button>
      </Section>

      <Section title="Users">
        <FieldViolations violations={violations} path="users" />
        <ul class="users">
          {current.users.map((user, k) => (
            <li key={user}>
              <span>{user}</span>
              <button
                type="button"
                aria-label={`Remove user ${user}`}
                onClick={() =>
                  action.run(async () => {
                    const next = await send<ProfileDraft & { etag: string }>('POST', `${base}/users`, {
                      remove: [user],
                    });
                    setDraft({ ...current, users: next.users, etag: next.etag });
                    return `Removed ${user}.`;
                  })
                }
              >
                Remove
              </button>
              <FieldViolations violations={violations} path={`users[${k}]`} />
            </li>
          ))}
        </ul>
        <DirectoryPicker
          kinds={['users']}
          label="Add user"
          multiple={false}
          value={[]}
          invalid={invalidProps(userError, 'add')}
          onChange={([user]) => {
            if (user === undefined) return;
            setUserError([]);
            action.run(async () => {
              try {
                const next = await send<ProfileDraft & { etag: string }>('POST', `${base}/users`, {
                  add: [user],
                });
                setDraft({ ...current, users: next.users, etag: next.etag });
                return `Added ${user}.`;
              } catch (error) {
                if (error instanceof ApiError)
                  setUserError([{ path: 'add', code: error.code, message: error.message }]);
                throw error;
              }
            });
          }}
        />
        <FieldViolations violations={userError} path="add" />
      </Section>
    </>
  );
}

function ItemEditor(props: {
  index: number;
  item: ProfileItem;
  entities: readonly EntityListItem[];
  allMetadata: readonly EntityMetadata[];
  violations: readonly Violation[];
  onChange: (next: ProfileItem) => void;
  onRemove: () => void;
}) {
  const { index, item, entities, allMetadata, violations, onChange } = props;
  const at = `items[${index}]`;
  const entity = entities.find((e) => e.logicalName === item.entity);
  const allowed = entity === undefined ? undefined : itemRulesByOwnership[entity.metadata.ownership];
  const rules: readonly ProfileItemRule[] = allowed?.rules ?? [item.rule];
  const options = (allowed?.options ?? []).filter(
    (o): o is Exclude<ItemFilterOption, 'customFilter'> => o !== 'customFilter',
  );
  const customAllowed = allowed?.options.includes('customFilter') ?? false;

  // Relationships with this entity on one side, from its metadata and the others'.
  const relationships = new Map<string, string>();
  if (entity !== undefined) {
    for (const meta of allMetadata) {
      for (const r of meta.relationships) {
        const resolved = resolveAssociation(entity.metadata, r.name, allMetadata);
        if (resolved !== undefined && !relationships.has(r.name))
          relationships.set(r.name, `${resolved.target} (${resolved.direction})`);
      }
    }
  }

  return (
    <fieldset class="item" data-item={index}>
      <legend>
        Item {index + 1}: {item.entity}
      </legend>
      <FieldViolations violations={violations} path={at} />
      <label>
        Entity
        <select
          value={item.entity}
          name={`${at}.entity`}
          {...invalidProps(violations, `${at}.entity`)}
          onChange={(e) =>
            onChange({ ...item, entity: e.currentTarget.value, customFilter: undefined, associations: [] })
          }
        >
          {entity === undefined && <option value={item.entity}>{item.entity}</option>}
          {entities.map((e) => (
            <option key={e.logicalName} value={e.logicalName}>
              {e.logicalName}
              {e.offline.enabled ? '' : ' (not enabled for offline)'}
            </option>
          ))}
        </select>
      </label>
      <FieldViolations violations={violations} path={`${at}.entity`} />
      <label>
        Rows to download
        <select
          value={item.rule}
          name={`${at}.rule`}
          {...invalidProps(violations, `${at}.rule`)}
          onChange={(e) => onChange({ ...item, rule: e.currentTarget.value as ProfileItemRule })}
        >
          {!rules.includes(item.rule) && <option value={item.rule}>{item.rule} (not allowed)</option>}
          {rules.map((r) => (
            <option key={r} value={r}>
              {r === 'all' ? 'All rows' : r === 'related' ? 'Related rows only' : 'Other data filter'}
            </option>
          ))}
        </select>
      </label>
      <FieldViolations violations={violations} path={`${at}.rule`} />
      {item.rule === 'other' && (
        <>
          {options.map((option) => (
            <div key={option}>
              <label class="inline">
                <input
                  type="checkbox"
                  checked={item[option]}
                  {...invalidProps(violations, `${at}.${option}`)}
                  onChange={(e) => onChange({ ...item, [option]: e.currentTarget.checked })}
                />
                {OPTION_LABELS[option]}
              </label>
              <FieldViolations violations={violations} path={`${at}.${option}`} />
            </div>
          ))}
          {/* An option the ownership does not allow but the draft holds: shown so it can be cleared. */}
          {(['mine', 'team', 'businessUnit'] as const)
            .filter((o) => item[o] && !options.includes(o))
            .map((o) => (
              <div key={o}>
                <label class="inline">
                  <input
                    type="checkbox"
                    checked
                    {...invalidProps(violations, `${at}.${o}`)}
                    onChange={() => onChange({ ...item, [o]: false })}
                  />
                  {OPTION_LABELS[o]} (not allowed here)
                </label>
                <FieldViolations violations={violations} path={`${at}.${o}`} />
              </div>
            ))}
          {(customAllowed || item.customFilter !== undefined) && entity !== undefined && (
            <>
              <label class="inline">
                <input
                  type="checkbox"
                  checked={item.customFilter !== undefined}
                  onChange={(e) =>
                    onChange(
                      e.currentTarget.checked
                        ? {
                            ...item,
                            customFilter: {
                              type: 'and',
                              conditions: [newCondition(entity.metadata.attributes, 'custom')],
                              filters: [],
                            },
                          }
                        : { ...item, customFilter: undefined },
                    )
                  }
                />
                Custom filter
              </label>
              {item.customFilter !== undefined && (
                <FilterGroup
                  tree={item.customFilter}
                  total={countConditions(item.customFilter)}
                  level={1}
                  path={`${at}.customFilter`}
                  metadata={entity.metadata}
                  violations={violations}
                  onChange={(tree) => onChange({ ...item, customFilter: tree })}
                />
              )}
              <FieldViolations violations={violations} path={`${at}.customFilter`} />
            </>
          )}
        </>
      )}
      <fieldset>
        <legend>Associations (related rows of other profile entities)</legend>
        {[...relationships].map(([name, target]) => {
          const j = item.associations.findIndex((a) => a.relationship === name);
          return (
            <div key={name}>
              <label class="inline">
                <input
                  type="checkbox"
                  checked={j >= 0}
                  {...(j >= 0 ? invalidProps(violations, `${at}.associations[${j}]`) : {})}
                  onChange={(e) =>
                    onChange({
                      ...item,
                      associations: e.currentTarget.checked
                        ? [...item.associations, { relationship: name }]
                        : item.associations.filter((a) => a.relationship !== name),
                    })
                  }
                />
                {name} → {target}
              </label>
              {j >= 0 && <FieldViolations violations={violations} path={`${at}.associations[${j}]`} />}
              {j >= 0 && (
                <FieldViolations violations={violations} path={`${at}.associations[${j}].relationship`} />
              )}
            </div>
          );
        })}
        <FieldViolations violations={violations} path={`${at}.associations`} />
      </fieldset>
      <label>
        Sync interval (minutes, 5 to 1,440; empty: the tenant's)
        <input
          type="number"
          name={`${at}.syncIntervalMinutes`}
          value={item.syncIntervalMinutes ?? ''}
          {...invalidProps(violations, `${at}.syncIntervalMinutes`)}
          onInput={(e) => {
            const text = e.currentTarget.value;
            const { syncIntervalMinutes: _drop, ...rest } = item;
            onChange(text === '' ? rest : { ...item, syncIntervalMinutes: Number(text) });
          }}
        />
      </label>
      <FieldViolations violations={violations} path={`${at}.syncIntervalMinutes`} />
      <button type="button" onClick={props.onRemove}>
        Remove item
      </button>
    </fieldset>
  );
}

/** An and/or group of the custom filter: its conditions and nested groups (at most 3 and 3 levels). */
function FilterGroup(props: {
  tree: FilterTree;
  total: number;
  level: number;
  path: string;
  metadata: EntityMetadata;
  violations: readonly Violation[];
  onChange: (tree: FilterTree) => void;
}) {
  const { tree, total, level, path, metadata, violations, onChange } = props;
  return (
    <fieldset class="group">
      <legend>Group (level {level})</legend>
      <label>
        Match
        <select
          value={tree.type}
          onChange={(e) => onChange({ ...tree, type: e.currentTarget.value as 'and' | 'or' })}
        >
          <option value="and">all conditions (and)</option>
          <option value="or">any condition (or)</option>
        </select>
      </label>
      {tree.conditions.map((condition, k) => (
        <ConditionEditor
          key={k}
          label={`Condition ${k + 1}`}
          condition={condition}
          attributes={metadata.attributes}
          context="custom"
          path={`${path}.conditions[${k}]`}
          violations={violations}
          onChange={(next) =>
            onChange({ ...tree, conditions: tree.conditions.map((c, i) => (i === k ? next : c)) })
          }
          onRemove={() => onChange({ ...tree, conditions: tree.conditions.filter((_, i) => i !== k) })}
        />
      ))}
      {tree.filters.map((child, k) => (
        <div key={k}>
          <FilterGroup
            tree={child}
            total={total}
            level={level + 1}
            path={`${path}.filters[${k}]`}
            metadata={metadata}
            violations={violations}
            onChange={(next) =>
              onChange({ ...tree, filters: tree.filters.map((f, i) => (i === k ? next : f)) })
            }
          />
          <button
            type="button"
            onClick={() => onChange({ ...tree, filters: tree.filters.filter((_, i) => i !== k) })}
          >
            Remove group
          </button>
        </div>
      ))}
      <FieldViolations violations={violations} path={path} />
      <div class="buttons">
        <button
          type="button"
          disabled={total >= MAX_CONDITIONS}
          onClick={() =>
            onChange({
              ...tree,
              conditions: [...tree.conditions, newCondition(metadata.attributes, 'custom')],
            })
          }
        >
          Add condition
        </button>
        <button
          type="button"
          disabled={level >= MAX_LEVELS || total >= MAX_CONDITIONS}
          onClick={() =>
            onChange({
              ...tree,
              filters: [
                ...tree.filters,
                {
                  type: tree.type === 'and' ? 'or' : 'and',
                  conditions: [newCondition(metadata.attributes, 'custom')],
                  filters: [],
                },
              ],
            })
          }
        >
          Add group
        </button>
      </div>
    </fieldset>
  );
}

/** The preview: per user, rows and bytes, per entity; users past a row limit marked. */
function PreviewTable({ preview }: { preview: ProfilePreview }) {
  const entities = [...new Set(preview.users.flatMap((u) => u.entities.map((e) => e.entity)))];
  return (
    <Section title="Preview: what each user would download">
      <p>
        Computed {preview.computedAt} from the draft · soft row limit {preview.softRowLimit} · hard row limit{' '}
        {preview.hardRowLimit}
      </p>
      <div class="scroll">
        <table class="preview">
          <thead>
            <tr>
              <th scope="col">User</th>
              <th scope="col">Rows</th>
              <th scope="col">Estimated size</th>
              <th scope="col">Row limit</th>
              {entities.map((e) => (
                <th scope="col" key={e}>
                  {e}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {preview.users.map((u) => (
              <tr key={u.userId} data-user={u.userId} class={`limit-${u.limit}`}>
                <th scope="row">
                  {u.fullName ?? u.userId}
                  {u.userName !== null && <small> ({u.userName})</small>}
                  {u.problem !== null && <div class="error">{u.problem}</div>}
                </th>
                <td>{u.rows}</td>
                <td>{formatBytes(u.bytes)}</td>
                <td>
                  {u.limit === 'within'
                    ? 'within'
                    : u.limit === 'soft'
                      ? 'past the soft limit'
                      : 'past the hard limit: refused'}
                </td>
                {entities.map((e) => (
                  <td key={e}>{u.entities.find((x) => x.entity === e)?.rows ?? 0}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Section>
  );
}
