import { useState } from 'preact/hooks';
import type { EntityListItem, MetadataVersion } from '../../../shared/admin/entity-config';
import type { EntityOfflineSettings } from '../../../shared/model/entity';
import { ApiError, get, send, seg } from '../api';
import { ConditionEditor, newCondition } from '../condition-editor';
import { ErrorText, FieldViolations, Notice, Section, useAction, useLoad } from '../ui';

const MAX_ORG_FILTER = 3;

/** Entities: offline enablement, the required flag, the org filter (at most 3 conditions); publish. */
export function Entities({ org }: { org: string }) {
  const list = useLoad(
    () => get<{ metadataVersion: MetadataVersion; entities: EntityListItem[] }>(`admin/${seg(org)}/entities`),
    [org],
  );
  const publish = useAction();
  const [publishViolations, setPublishViolations] = useState<ApiError['violations']>([]);
  return (
    <>
      <Section title="Entities">
        <ErrorText error={list.error} />
        {list.value && (
          <p>
            Metadata version {list.value.metadataVersion.version}
            {list.value.metadataVersion.publishedAt !== null && (
              <> (published {list.value.metadataVersion.publishedAt})</>
            )}
          </p>
        )}
        <button
          type="button"
          disabled={publish.busy}
          onClick={() =>
            publish.run(async () => {
              setPublishViolations([]);
              try {
                const version = await send<MetadataVersion>(
                  'POST',
                  `admin/${seg(org)}/customizations/publish`,
                );
                list.reload();
                return `Customizations published: metadata version ${version.version}.`;
              } catch (error) {
                if (error instanceof ApiError) setPublishViolations(error.violations);
                throw error;
              }
            })
          }
        >
          Publish customizations
        </button>
        <ErrorText error={publish.error} />
        <Notice text={publish.done} />
        {publishViolations.length > 0 && (
          <ul class="violations">
            {publishViolations.map((v, i) => (
              <li key={i}>
                <span class="code">{v.path}</span> {v.message}
              </li>
            ))}
          </ul>
        )}
      </Section>
      {(list.value?.entities ?? []).map((entity) => (
        <EntityOffline key={entity.logicalName} org={org} entity={entity} onSaved={list.reload} />
      ))}
    </>
  );
}

function EntityOffline({
  org,
  entity,
  onSaved,
}: {
  org: string;
  entity: EntityListItem;
  onSaved: () => void;
}) {
  const [draft, setDraft] = useState<EntityOfflineSettings>(entity.offline);
  const [violations, setViolations] = useState<ApiError['violations']>([]);
  const save = useAction();
  const name = entity.logicalName;
  return (
    <section class="entity" aria-labelledby={`entity-${name}`}>
      <h3 id={`entity-${name}`}>
        {entity.metadata.displayName ?? name}{' '}
        <small>
          ({name}, {entity.metadata.ownership} owned)
        </small>
        {entity.changedSincePublish && <span class="badge">changed since publish</span>}
      </h3>
      <label class="inline">
        <input
          type="checkbox"
          checked={draft.enabled}
          onChange={(e) => setDraft({ ...draft, enabled: e.currentTarget.checked })}
        />
        Enabled for offline
      </label>
      <label class="inline">
        <input
          type="checkbox"
          checked={draft.required}
          onChange={(e) => setDraft({ ...draft, required: e.currentTarget.checked })}
        />
        Required (devices start once it is downloaded)
      </label>
      <h4>Org data download filter</h4>
      {draft.orgFilter.map((condition, i) => (
        <ConditionEditor
          key={i}
          label={`Condition ${i + 1}`}
          condition={condition}
          attributes={entity.metadata.attributes}
          context="org"
          path={`orgFilter[${i}]`}
          violations={violations}
          onChange={(next) =>
            setDraft({ ...draft, orgFilter: draft.orgFilter.map((c, j) => (j === i ? next : c)) })
          }
          onRemove={() => setDraft({ ...draft, orgFilter: draft.orgFilter.filter((_, j) => j !== i) })}
        />
      ))}
      <FieldViolations violations={violations} path="orgFilter" />
      <div class="buttons">
        <button
          type="button"
          disabled={draft.orgFilter.length >= MAX_ORG_FILTER}
          onClick={() =>
            setDraft({
              ...draft,
              orgFilter: [...draft.orgFilter, newCondition(entity.metadata.attributes, 'org')],
            })
          }
        >
          Add condition
        </button>
        <button
          type="button"
          disabled={save.busy}
          onClick={() =>
            save.run(async () => {
              setViolations([]);
              try {
                await send('PUT', `admin/${seg(org)}/entities/${seg(name)}/offline`, draft);
              } catch (error) {
                if (error instanceof ApiError) setViolations(error.violations);
                throw error;
              }
              onSaved();
              return `${name} saved (publish customizations to apply it).`;
            })
          }
        >
          Save {name}
        </button>
      </div>
      <ErrorText error={save.error} />
      <Notice text={save.done} />
    </section>
  );
}
