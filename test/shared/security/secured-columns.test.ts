import { buildUserContext } from '../../../shared/security/user-context';
import { compileSecuredColumnStripper, stripSecuredColumns } from '../../../shared/security/secured-columns';
import { accountEntity, productEntity, syncDirectory } from './sync-security-fixture';

describe('stripSecuredColumns', () => {
  const alice = buildUserContext(syncDirectory(), 'user-alice'); // may read account.creditlimit
  const bob = buildUserContext(syncDirectory(), 'user-bob'); // may read no secured column
  const row = { name: 'Contoso', creditlimit: 5000, taxid: 'X-1' };

  it('removes the secured columns the user has no access to, keeps the others', () => {
    expect(stripSecuredColumns(alice, accountEntity, row)).toEqual({ name: 'Contoso', creditlimit: 5000 });
    expect(stripSecuredColumns(bob, accountEntity, row)).toEqual({ name: 'Contoso' });
  });

  it('leaves the input untouched', () => {
    stripSecuredColumns(bob, accountEntity, row);
    expect(row).toEqual({ name: 'Contoso', creditlimit: 5000, taxid: 'X-1' });
  });

  it('returns the row itself when there is nothing to remove', () => {
    const plain = { name: 'Contoso' };
    expect(compileSecuredColumnStripper(bob, accountEntity)(plain)).toBe(plain);
    const widget = { name: 'Widget' };
    expect(stripSecuredColumns(bob, productEntity, widget)).toBe(widget);
  });

  it('matches the granted column name case-insensitively', () => {
    const directory = syncDirectory();
    directory.users.find((u) => u.id === 'user-bob')!.securedColumns = ['Account.TaxId'];
    const ctx = buildUserContext(directory, 'user-bob');
    expect(stripSecuredColumns(ctx, accountEntity, row)).toEqual({ name: 'Contoso', taxid: 'X-1' });
  });
});
