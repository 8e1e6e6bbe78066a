import { useEffect } from 'preact/hooks';
import type {
  ProvisioningAction,
  ProvisioningStatus,
} from '../../../shared/provisioning/provisioning-status';
import { get, send, seg } from '../api';
import { ErrorText, formatSeconds, Section, useAction, useLoad } from '../ui';

/** How often the page reads the status again while work runs. */
const REFRESH_MS = 1000;

/**
 * Which actions the lifecycle allows from a state (README "Provisioning lifecycle"); the server
 * decides and answers 409 with the reason otherwise, which the page shows.
 */
function allowedActions(status: ProvisioningStatus): ProvisioningAction[] {
  switch (status.state) {
    case 'idle':
    case 'deprovisioned':
      return ['provision'];
    case 'provisioning':
      return ['stop'];
    case 'stopped':
    case 'failed':
      return ['retry', 'provision'];
    case 'provisioned':
      return ['deprovision'];
    case 'stopping':
    case 'deprovisioning':
      return [];
  }
}

const RUNNING = new Set(['provisioning', 'stopping', 'deprovisioning']);

/** The seven steps with status and times, overall and per-entity progress with ETA, messages; actions. */
export function Provisioning({ org }: { org: string }) {
  const status = useLoad(() => get<ProvisioningStatus>(`admin/${seg(org)}/provisioning`), [org]);
  const action = useAction();
  const current = status.value;
  const running = current !== undefined && RUNNING.has(current.state);

  useEffect(() => {
    if (!running) return undefined;
    const timer = setTimeout(status.reload, REFRESH_MS);
    return () => clearTimeout(timer);
  }, [running, current?.updatedAt, status.reload]);

  const act = (name: ProvisioningAction) =>
    action.run(async () => {
      await send('POST', `admin/${seg(org)}/provisioning`, { action: name });
      status.reload();
    });

  return (
    <>
      <Section title="Provisioning">
        <ErrorText error={status.error} />
        {current && (
          <>
            <p>
              State: <strong data-testid="provisioning-state">{current.state}</strong>
              {current.currentStep !== null && <> · step {current.currentStep} of 7</>}
              {running && <span class="badge">refreshing</span>}
            </p>
            <div class="buttons">
              {(['provision', 'stop', 'retry', 'deprovision'] as const).map((name) => (
                <button
                  key={name}
                  type="button"
                  disabled={action.busy || !allowedActions(current).includes(name)}
                  onClick={() => act(name)}
                >
                  {name[0]!.toUpperCase() + name.slice(1)}
                </button>
              ))}
            </div>
            <ErrorText error={action.error} />
            <table>
              <caption>Steps</caption>
              <thead>
                <tr>
                  <th scope="col">#</th>
                  <th scope="col">Step</th>
                  <th scope="col">Status</th>
                  <th scope="col">Started</th>
                  <th scope="col">Ended</th>
                  <th scope="col">Message</th>
                </tr>
              </thead>
              <tbody>
                {current.steps.map((step) => (
                  <tr key={step.number} data-step={step.number} class={`step-${step.status}`}>
                    <td>{step.number}</td>
                    <td>{step.name}</td>
                    <td>{step.status}</td>
                    <td>{step.startedAt ?? '—'}</td>
                    <td>{step.endedAt ?? '—'}</td>
                    <td>{step.message ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        )}
      </Section>
      {current?.progress && (
        <Section title="Download progress">
          <p>
            <label>
              Overall{' '}
              <progress max={100} value={current.progress.percent} data-testid="overall-progress">
                {current.progress.percent}%
              </progress>
            </label>{' '}
            <span data-testid="overall-percent">{current.progress.percent.toFixed(1)}%</span> ·{' '}
            {current.progress.rowsDone} of {current.progress.rowsExpected} rows · time remaining{' '}
            {formatSeconds(current.progress.etaSeconds)}
            {current.progress.activatedEarlyAt !== null && (
              <> · devices may sync since {current.progress.activatedEarlyAt}</>
            )}
          </p>
          <table>
            <thead>
              <tr>
                <th scope="col">Entity</th>
                <th scope="col">Rows</th>
                <th scope="col">Percent</th>
                <th scope="col">Time remaining</th>
              </tr>
            </thead>
            <tbody>
              {current.progress.entities.map((e) => (
                <tr key={e.entity}>
                  <td>
                    {e.entity}
                    {e.priority && ' (required)'}
                  </td>
                  <td>
                    {e.rowsDone} / {e.rowsExpected}
                  </td>
                  <td>
                    <progress max={100} value={e.percent} aria-label={`${e.entity} progress`} />{' '}
                    {e.percent.toFixed(0)}%
                  </td>
                  <td>{e.done ? 'done' : formatSeconds(e.etaSeconds)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Section>
      )}
      {current && current.messages.length > 0 && (
        <Section title="Messages">
          <ul class="messages">
            {current.messages.map((m, i) => (
              <li key={i} class={`level-${m.level}`}>
                <time>{m.at}</time> {m.level}: {m.text}
              </li>
            ))}
          </ul>
        </Section>
      )}
    </>
  );
}
