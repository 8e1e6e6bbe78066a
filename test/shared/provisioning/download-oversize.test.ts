import type { AppServices } from '../../../shared/app-services';
import { runProvisioningStep } from '../../../shared/provisioning/provisioning-activities';
import { requestProvisioningAction } from '../../../shared/provisioning/provisioning-requests';
import type { ProvisioningRunner } from '../../../shared/provisioning/provisioning-runner';
import { readProvisioningStatus } from '../../../shared/provisioning/provisioning-status';
import { readReplicationStatus } from '../../../shared/replication';
import type { Store } from '../../../shared/store/port';
import { getTenant } from '../../../shared/tenants/tenant-registry';
import {
  createProvisioningFixture,
  FakeSource,
  ORG,
  rowsOf,
  type ProvisioningFixture,
} from './support/provisioning-fixture';

/** A runner that only records: the test runs the step activities itself, in order. */
const recordingRunner = (): ProvisioningRunner & { started: unknown[] } => {
  const started: unknown[] = [];
  return {
    started,
    start: (run) => Promise.resolve(void started.push(run)),
    stop: () => Promise.resolve(),
  };
};

describe('provisioning step 5 with rows too large to store', () => {
  let fixture: ProvisioningFixture;
  let services: AppServices;
  let store: Store;

  beforeEach(async () => {
    fixture = await createProvisioningFixture();
    const rows = rowsOf('account', 3);
    rows[1]!.attributes.documentbody = 'x'.repeat(4000);
    const source = new FakeSource(
      new Map([
        ['systemuser', rowsOf('systemuser', 1)],
        ['account', rows],
      ]),
    );
    const opened = fixture.services(source);
    store = opened.store;
    services = {
      ...opened.services,
      settings: { ...opened.services.settings, REPLICATION_MAX_ROW_BYTES: 2048 },
    };
  });
  afterEach(() => fixture.close());

  it('skips the row, warns naming it in both statuses, and the step succeeds', async () => {
    const runner = recordingRunner();
    const accepted = await requestProvisioningAction(
      services,
      runner,
      (await getTenant(store, ORG))!,
      'provision',
    );
    const runId = accepted.runId!;
    for (let step = 1; step <= 5; step++) {
      const result = await runProvisioningStep(services, { org: ORG, runId, action: 'provision', step });
      expect(result).toMatchObject({ outcome: 'succeeded' });
    }
    const tenantStore = store.tenant(ORG);
    expect(await tenantStore.countRecords('account')).toBe(2);
    expect(await tenantStore.getRecord('account', 'account-2')).toBeUndefined();

    const status = await readProvisioningStatus(store.control, ORG, fixture.clock);
    expect(status.steps[4]).toMatchObject({ status: 'succeeded' });
    const warnings = status.messages.filter((m) => m.level === 'warning').map((m) => m.text);
    expect(warnings).toContainEqual(
      expect.stringMatching(
        /^account: 1 row\(s\) too large to store were skipped: account-2 \(4,0\d\d bytes\)/,
      ),
    );
    const replication = await readReplicationStatus(tenantStore);
    expect(replication.oversizeRows).toBe(1);
    expect(replication.entities.find((e) => e.entity === 'account')!.warnings[0]).toMatchObject({
      code: 'RowTooLarge',
      id: 'account-2',
    });
  });
});
