import {
  changeProfileUsers,
  getProfile,
  PROFILE_DRAFT_KIND,
  publishProfile,
  updateProfile,
} from '../../../shared/admin/profile-service';
import type { DocStore, PutDocOptions } from '../../../shared/store/port';
import {
  configureDownloadTenant,
  openTestStore,
  type TestStore,
} from '../sync/download/download-test-tenant';

/**
 * The draft's read-modify-writes (users changed, a publish recorded) under a concurrent editor: the
 * editor's write lands between the read and the write of each of the first `races` attempts.
 */
function racingStore(store: DocStore, races: number, edit: () => Promise<void>): DocStore & { lost: number } {
  let left = races;
  const racing = Object.create(store) as DocStore & { lost: number };
  racing.lost = 0;
  racing.putDoc = async <T>(kind: string, id: string, value: T, options?: PutDocOptions) => {
    if (kind === PROFILE_DRAFT_KIND && options?.ifMatch !== undefined && left > 0) {
      left -= 1;
      await edit();
      racing.lost += 1;
    }
    return store.putDoc(kind, id, value, options);
  };
  return racing;
}

describe('profile drafts written while another admin edits them', () => {
  let t: TestStore;
  beforeEach(async () => {
    t = await openTestStore('sqlite');
    await configureDownloadTenant(t);
  });
  afterEach(() => t.close());

  /** Another admin renames the draft of p1 (a whole-draft write, as the admin page does). */
  const renameP1 = (name: string) => async (): Promise<void> => {
    const { profile } = await getProfile(t.tenant, 'p1');
    await updateProfile(t.tenant, t.clock, 'p1', { ...profile, name });
  };

  it('a users change that loses the race reads again and keeps both edits', async () => {
    const store = racingStore(t.tenant, 2, renameP1('Renamed'));
    const result = await changeProfileUsers(store, t.clock, 'p1', { add: [], remove: ['u5'] });
    expect(store.lost).toBe(2);
    const { profile } = await getProfile(t.tenant, 'p1');
    expect(profile.name).toBe('Renamed');
    expect(profile.users).toEqual(['u1', 'u2', 'u4']);
    expect(result.profile.users).toEqual(['u1', 'u2', 'u4']);
  });

  it('a users change that loses every race answers the conflict, not a stale success', async () => {
    const store = racingStore(t.tenant, 3, renameP1('Again'));
    await expect(changeProfileUsers(store, t.clock, 'p1', { add: [], remove: ['u5'] })).rejects.toMatchObject(
      {
        code: 'PreconditionFailed',
      },
    );
    expect((await getProfile(t.tenant, 'p1')).profile.users).toEqual(['u1', 'u2', 'u4', 'u5']);
  });

  it('a publish records its version on the draft after losing a race, and the edit stays unpublished', async () => {
    const store = racingStore(t.tenant, 1, renameP1('Edited while publishing'));
    const published = await publishProfile(store, t.clock, 'p1');
    expect(store.lost).toBe(1);
    const { profile } = await getProfile(t.tenant, 'p1');
    expect(profile.publishedVersion).toBe(published.version);
    expect(profile.name).toBe('Edited while publishing');
    expect(published.name).toBe('P1');
    expect(profile.changedSincePublish).toBe(true);
  });
});
