import { METRIC } from '../../shared/telemetry/telemetry';
import { parseModuleUses, readInfraFile } from './bicep-source';

/**
 * infra/modules/alerts.bicep (issue 18), checked on its text as there is no Bicep compiler here: the
 * four alerts the README's Operations section promises, each reading a metric the app records under
 * that very name (a renamed instrument breaks this test, not a production alert), and a workbook
 * over the main metrics.
 */

const alerts = readInfraFile('modules/alerts.bicep');
const main = readInfraFile('main.bicep');

/** The `name: '…'` and `query: '…'` pairs of a Bicep array variable. */
function entries(variable: string): { name: string; query: string }[] {
  const body = new RegExp(`^var ${variable} = \\[\\n([\\s\\S]*?)\\n\\]$`, 'm').exec(alerts)?.[1] ?? '';
  return [...body.matchAll(/(?:name|title): '((?:[^'\\]|\\.)*)'[\s\S]*?query: '((?:[^'\\]|\\.)*)'/g)].map(
    ([, name, query]) => ({ name: name!, query: query! }),
  );
}

describe('alerts and workbook (infra/modules/alerts.bicep)', () => {
  const logAlerts = entries('logAlerts');

  it('has the log alerts: 5xx rate, replication lag, provisioning failed', () => {
    expect(logAlerts.map((a) => a.name)).toEqual(['server-errors', 'replication-lag', 'provisioning-failed']);
    expect(logAlerts[0]!.query).toMatch(/^requests \| .*toint\(resultCode\) >= 500/);
    expect(logAlerts[0]!.query).toContain('ratePercent > ${serverErrorRatePercent}');
  });

  it('reads the metrics the app records, by their names and attribute keys', () => {
    const lag = logAlerts.find((a) => a.name === 'replication-lag')!.query;
    expect(lag).toContain(`name == "${METRIC.replicationLag}"`);
    expect(lag).toContain('customDimensions["offline_sync.org"]');
    expect(lag).toContain('customDimensions["offline_sync.entity"]');
    expect(lag).toContain('lagSeconds > ${replicationLagThresholdSeconds}');
    const provisioning = logAlerts.find((a) => a.name === 'provisioning-failed')!.query;
    expect(provisioning).toContain(`name == "${METRIC.provisioningRuns}"`);
    expect(provisioning).toContain('customDimensions["offline_sync.outcome"]) == "failed"');
  });

  it('fires each log alert when its query finds a row, every 5 minutes over 15', () => {
    expect(alerts).toMatch(
      /resource logAlertRules 'Microsoft\.Insights\/scheduledQueryRules@[^']+' = \[for alert in logAlerts:/,
    );
    expect(alerts).toMatch(/scopes: \[appInsightsId\]/);
    expect(alerts).toMatch(/timeAggregation: 'Count'\s+operator: 'GreaterThan'\s+threshold: 0/);
    expect(alerts).toMatch(/evaluationFrequency: 'PT5M'\s+windowSize: 'PT15M'/);
  });

  it('alerts on any dead-lettered message of the replication queue, from Service Bus itself', () => {
    const rule =
      /resource deadLetterAlert 'Microsoft\.Insights\/metricAlerts@[^']+' = \{([\s\S]*?)\n\}/.exec(
        alerts,
      )?.[1] ?? '';
    expect(rule).toContain('scopes: [serviceBusNamespaceId]');
    expect(rule).toContain("metricName: 'DeadletteredMessages'");
    expect(rule).toMatch(/name: 'EntityName'\s+operator: 'Include'\s+values: \[replicationQueueName\]/);
    expect(rule).toMatch(/operator: 'GreaterThan'\s+threshold: 0\s+timeAggregation: 'Maximum'/);
  });

  it('notifies an e-mail address only when one is given', () => {
    expect(alerts).toMatch(/var notify = !empty\(alertEmail\)/);
    expect(alerts).toMatch(/resource actionGroup 'Microsoft\.Insights\/actionGroups@[^']+' = if \(notify\)/);
    expect(alerts).toMatch(/var actions = notify \? \[\{ actionGroupId: actionGroup\.id \}\] : \[\]/);
  });

  it('has a workbook whose tiles cover every metric the core records', () => {
    const tiles = entries('workbookTiles');
    expect(tiles.length).toBeGreaterThanOrEqual(6);
    const queries = tiles.map((t) => t.query).join('\n');
    const uncovered = Object.values(METRIC).filter((name) => !queries.includes(`"${name}"`));
    expect(uncovered).toEqual([]);
    expect(alerts).toMatch(/resource workbook 'Microsoft\.Insights\/workbooks@[^']+'/);
    expect(alerts).toMatch(/serializedData: string\(workbookContent\)/);
    expect(alerts).toMatch(/sourceId: appInsightsId/);
  });

  it('is wired in main.bicep to the monitoring and Service Bus modules', () => {
    const use = parseModuleUses(main).find((u) => u.symbol === 'alerts');
    expect(use?.path).toBe('modules/alerts.bicep');
    expect(main).toContain('appInsightsId: monitoring.outputs.appInsightsId');
    expect(main).toContain('serviceBusNamespaceId: serviceBus.outputs.namespaceId');
    expect(main).toContain('replicationQueueName: serviceBus.outputs.queueName');
  });
});
