import { createContext } from 'preact';
import { useContext, useState } from 'preact/hooks';
import type { DirectoryEntry, DirectoryKind, DirectoryList } from '../../shared/admin/directory-listing';
import type { Attribute } from '../../shared/model/entity';
import { get, seg } from './api';
import { ErrorText, useLoad } from './ui';

/*
 * Pickers of directory items (users, teams, business units) over `GET admin/{org}/directory`: a
 * combobox (ARIA 1.2 pattern) that searches as the admin types; arrow keys move through the
 * matches, Enter picks, Escape closes. Names are rendered as text.
 */

/** The tenant the pickers search (the screen that shows them provides it). */
export const PickerOrg = createContext<string | undefined>(undefined);

/** Matches shown at once; the route says when more matched (then: type more). */
const SHOWN = 10;

/** The directory kind each lookup target entity names. */
const KIND_OF_TARGET: Readonly<Record<string, DirectoryKind>> = {
  systemuser: 'users',
  team: 'teams',
  businessunit: 'businessUnits',
};
const KIND_LABEL: Record<DirectoryKind, string> = {
  users: 'user',
  teams: 'team',
  businessUnits: 'business unit',
};

/** The directory kinds a lookup or owner attribute points at (none for other attributes). */
export function directoryKindsOf(attribute: Attribute | undefined): DirectoryKind[] {
  if (attribute === undefined || (attribute.type !== 'lookup' && attribute.type !== 'owner')) return [];
  const kinds = (attribute.targets ?? []).map((t) => KIND_OF_TARGET[t]).filter((k) => k !== undefined);
  return [...new Set(kinds)];
}

interface Match extends DirectoryEntry {
  kind: DirectoryKind;
}

function matchesOf(
  list: DirectoryList,
  kinds: readonly DirectoryKind[],
): { matches: Match[]; more: boolean } {
  const matches: Match[] = [];
  let more = false;
  for (const kind of kinds) {
    const page = list[kind];
    if (page === undefined) continue;
    matches.push(...page.items.map((item) => ({ ...item, kind })));
    more ||= page.more;
  }
  return { matches, more };
}

async function search(org: string, kinds: readonly DirectoryKind[], q: string, limit: number) {
  const query = new URLSearchParams({ kind: kinds.join(','), limit: String(limit) });
  if (q !== '') query.set('q', q);
  return matchesOf(await get<DirectoryList>(`admin/${seg(org)}/directory?${query.toString()}`), kinds);
}

/** How a picked item reads: its name, with its user name or kind, and its id. */
function describe(match: Match): string {
  return `${match.name} (${match.userName ?? KIND_LABEL[match.kind]}, ${match.id})`;
}

let pickerCount = 0;

/**
 * Picks directory items of `kinds`: one (`multiple` false: picking replaces it) or several (each
 * shown with a remove button). `value` holds the ids; their names are looked up by id.
 */
export function DirectoryPicker(props: {
  kinds: readonly DirectoryKind[];
  label: string;
  value: readonly string[];
  multiple: boolean;
  onChange: (ids: string[]) => void;
  invalid?: Record<string, unknown>;
}) {
  const org = useContext(PickerOrg);
  const { kinds, value, multiple, onChange } = props;
  const [id] = useState(() => `picker-${++pickerCount}`);
  const [query, setQuery] = useState('');
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(0);
  // What was picked here is named at once; ids the value held before are looked up.
  const [known, setKnown] = useState<ReadonlyMap<string, string>>(new Map());
  const kindKey = kinds.join(',');

  const found = useLoad(
    () =>
      open && org !== undefined
        ? search(org, kinds, query.trim(), SHOWN)
        : Promise.resolve({ matches: [], more: false }),
    [org, kindKey, query, open],
  );
  // Names of what is picked: the id searched, exact id first.
  const named = useLoad(
    () =>
      org === undefined
        ? Promise.resolve([])
        : Promise.all(
            value.map(async (picked) => {
              const { matches } = await search(org, kinds, picked, 1);
              const match = matches.find((m) => m.id === picked);
              return {
                id: picked,
                text: match === undefined ? `${picked} (not in the directory)` : describe(match),
              };
            }),
          ),
    [org, kindKey, value.join('\n')],
  );

  if (org === undefined) return <p class="error">No tenant to search.</p>;
  const matches = found.value?.matches ?? [];
  const listId = `${id}-list`;
  const optionId = (k: number) => `${id}-option-${k}`;
  const shown = open && query.trim() !== '';
  const pick = (match: Match) => {
    setKnown((k) => new Map(k).set(match.id, describe(match)));
    onChange(multiple ? [...value.filter((v) => v !== match.id), match.id] : [match.id]);
    setQuery('');
    setOpen(false);
    setActive(0);
  };

  return (
    <div class="picker">
      {value.length > 0 && (
        <ul class="picked" aria-label={`${props.label}: picked`}>
          {value.map((picked) => {
            const text = known.get(picked) ?? named.value?.find((n) => n.id === picked)?.text ?? picked;
            return (
              <li key={picked} data-id={picked}>
                <span>{text}</span>
                <button
                  type="button"
                  aria-label={`Remove ${text}`}
                  onClick={() => onChange(value.filter((v) => v !== picked))}
                >
                  Remove
                </button>
              </li>
            );
          })}
        </ul>
      )}
      <label>
        {props.label} (search {kinds.map((k) => `${KIND_LABEL[k]}s`).join(', ')} by name or id)
        <input
          role="combobox"
          aria-autocomplete="list"
          aria-expanded={shown}
          aria-controls={listId}
          aria-activedescendant={shown && matches[active] !== undefined ? optionId(active) : undefined}
          autocomplete="off"
          value={query}
          {...props.invalid}
          onInput={(e) => {
            setQuery(e.currentTarget.value);
            setOpen(true);
            setActive(0);
          }}
          onBlur={() => setOpen(false)}
          onKeyDown={(e) => {
            if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
              e.preventDefault();
              setOpen(true);
              const step = e.key === 'ArrowDown' ? 1 : -1;
              if (matches.length > 0) setActive((a) => (a + step + matches.length) % matches.length);
            } else if (e.key === 'Enter') {
              const match = matches[active];
              // Enter picks; it never submits the form the picker sits in.
              e.preventDefault();
              if (shown && match !== undefined) pick(match);
            } else if (e.key === 'Escape') {
              setOpen(false);
            }
          }}
        />
      </label>
      <ul id={listId} role="listbox" class="options" aria-label={`${props.label}: matches`} hidden={!shown}>
        {shown &&
          matches.map((match, k) => (
            <li
              key={`${match.kind}:${match.id}`}
              id={optionId(k)}
              role="option"
              aria-selected={k === active}
              data-id={match.id}
              // Keeps the focus in the input, so the blur does not close the list before the click.
              onMouseDown={(e) => e.preventDefault()}
              onClick={() => pick(match)}
            >
              {match.name} <small>{describe(match).slice(match.name.length + 1)}</small>
            </li>
          ))}
        {shown && !found.loading && matches.length === 0 && found.error === undefined && (
          <li role="option" aria-disabled="true" aria-selected={false}>
            Nothing matches.
          </li>
        )}
      </ul>
      {shown && found.value?.more === true && (
        <p class="hint" role="status">
          More than {SHOWN} match: type more of the name.
        </p>
      )}
      <ErrorText error={found.error} />
      <ErrorText error={named.error} />
    </div>
  );
}
