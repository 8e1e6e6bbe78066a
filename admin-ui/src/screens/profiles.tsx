import { useState } from 'preact/hooks';
import type { ProfileDraft } from '../../../shared/model/profile';
import type { ApiError } from '../api';
import { get, send, seg } from '../api';
import { downloadFile, ErrorText, Field, keepViolations, Notice, Section, useAction, useLoad } from '../ui';

interface ImportResult {
  profiles: { id: string; name: string; outcome: string }[];
  entities: { entity: string; outcome: string }[];
}

/** Profiles: list, create; export the configuration as a file and import one. */
export function Profiles({ org }: { org: string }) {
  const list = useLoad(() => get<{ profiles: ProfileDraft[] }>(`admin/${seg(org)}/profiles`), [org]);
  const [id, setId] = useState('');
  const [name, setName] = useState('');
  const create = useAction();
  const [createViolations, setCreateViolations] = useState<ApiError['violations']>([]);
  const transfer = useAction();
  const [imported, setImported] = useState<ImportResult | undefined>();
  const [importViolations, setImportViolations] = useState<ApiError['violations']>([]);

  return (
    <>
      <Section title="Profiles">
        <ErrorText error={list.error} />
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Id</th>
              <th scope="col">Items</th>
              <th scope="col">Users</th>
              <th scope="col">Published</th>
            </tr>
          </thead>
          <tbody>
            {(list.value?.profiles ?? []).map((p) => (
              <tr key={p.id}>
                <td>
                  <a href={`#/profiles/${encodeURIComponent(p.id)}`}>{p.name}</a>
                </td>
                <td>{p.id}</td>
                <td>{p.items.length}</td>
                <td>{p.users.length}</td>
                <td>
                  {p.publishedVersion === 0 ? 'never' : `v${p.publishedVersion}`}
                  {p.changedSincePublish && ' (draft changed)'}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      <Section title="Create a profile">
        <form
          onSubmit={(e) => {
            e.preventDefault();
            create.run(async () => {
              const created = await keepViolations(setCreateViolations, () =>
                send<ProfileDraft>('POST', `admin/${seg(org)}/profiles`, {
                  name,
                  ...(id.trim() === '' ? {} : { id: id.trim() }),
                }),
              );
              location.hash = `#/profiles/${encodeURIComponent(created.id)}`;
            });
          }}
        >
          <Field
            label="Name"
            name="profile-name"
            path="name"
            value={name}
            onInput={setName}
            violations={createViolations}
            required
          />
          <Field
            label="Id (optional)"
            name="profile-id"
            path="id"
            value={id}
            onInput={setId}
            violations={createViolations}
          />
          <button type="submit" disabled={create.busy}>
            Create
          </button>
          <ErrorText error={create.error} />
        </form>
      </Section>
      <Section title="Export and import">
        <div class="buttons">
          <button
            type="button"
            onClick={() =>
              transfer.run(async () => {
                const document = await get<unknown>(`admin/${seg(org)}/export`);
                downloadFile(`${org}-offline-configuration.json`, `${JSON.stringify(document, null, 2)}\n`);
                return 'Exported.';
              })
            }
          >
            Export to a file
          </button>
          <label>
            Import a file
            <input
              type="file"
              accept="application/json,.json"
              onChange={(e) => {
                const file = e.currentTarget.files?.[0];
                if (file === undefined) return;
                transfer.run(async () => {
                  setImported(undefined);
                  let document: unknown;
                  try {
                    document = JSON.parse(await file.text());
                  } catch {
                    throw new Error(`${file.name} is not JSON.`);
                  }
                  setImported(
                    await keepViolations(setImportViolations, () =>
                      send<ImportResult>('POST', `admin/${seg(org)}/import`, document),
                    ),
                  );
                  list.reload();
                  return `Imported ${file.name}.`;
                });
              }}
            />
          </label>
        </div>
        <ErrorText error={transfer.error} />
        <Notice text={transfer.done} />
        {importViolations.length > 0 && (
          <ul class="violations">
            {importViolations.map((v, i) => (
              <li key={i}>
                <span class="code">{v.path}</span> {v.message}
              </li>
            ))}
          </ul>
        )}
        {imported && (
          <ul>
            {imported.profiles.map((p) => (
              <li key={p.id}>
                Profile {p.name}: {p.outcome}
              </li>
            ))}
            {imported.entities.map((e) => (
              <li key={e.entity}>
                Entity {e.entity}: {e.outcome}
              </li>
            ))}
          </ul>
        )}
      </Section>
    </>
  );
}
