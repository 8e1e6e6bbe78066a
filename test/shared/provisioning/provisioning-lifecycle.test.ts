import {
  beginRun,
  decideProvisioningAction,
  DEPROVISION_STEP_NAMES,
  finishRun,
  markStepEnded,
  markStepRunning,
  PROVISION_STEP_NAMES,
  requestStop,
  resumeRun,
  resumeStep,
  tenantStateFor,
} from '../../../shared/provisioning/provisioning-lifecycle';
import {
  initialProvisioningStatus,
  provisioningStatusSchema,
  type ProvisioningAction,
  type ProvisioningState,
  type ProvisioningStatus,
  type RunAction,
} from '../../../shared/provisioning/provisioning-status';

const now = new Date('2026-01-15T12:00:00.000Z');

/** A status in `state` whose last run was `action`, with steps before `atStep` succeeded. */
function statusIn(
  state: ProvisioningState,
  action: RunAction | null = 'provision',
  atStep = 3,
): ProvisioningStatus {
  const base = initialProvisioningStatus('contoso', now);
  if (action === null) return { ...base, state };
  let status = beginRun(base, action, 'run-1', now);
  for (let step = 1; step < atStep; step++) {
    status = markStepEnded(markStepRunning(status, step, now), step, 'succeeded', now, 'ok');
  }
  status = markStepRunning(status, atStep, now);
  return { ...status, state };
}

describe('provisioning transition rules', () => {
  // Every state × action: what is allowed, and the reason of every 409.
  const table: [ProvisioningState, RunAction | null, ProvisioningAction, string][] = [
    ['idle', null, 'provision', 'start provision'],
    ['idle', null, 'stop', 'refused: never provisioned'],
    ['idle', null, 'deprovision', 'refused: not provisioned'],
    ['idle', null, 'retry', 'refused: Nothing to retry'],
    ['provisioning', 'provision', 'provision', 'refused: already running'],
    ['provisioning', 'provision', 'stop', 'stop'],
    ['provisioning', 'provision', 'deprovision', 'refused: stop it, or wait'],
    ['provisioning', 'provision', 'retry', 'refused: nothing to retry'],
    ['provisioned', 'provision', 'provision', 'refused: already provisioned'],
    ['provisioned', 'provision', 'stop', 'refused: provisioning has completed'],
    ['provisioned', 'provision', 'deprovision', 'start deprovision'],
    ['provisioned', 'provision', 'retry', 'refused: provisioning has completed'],
    ['stopping', 'provision', 'provision', 'refused: wait until it has stopped'],
    ['stopping', 'provision', 'stop', 'refused: already requested'],
    ['stopping', 'provision', 'deprovision', 'refused: only when provisioning has completed'],
    ['stopping', 'provision', 'retry', 'refused: retry once it has stopped'],
    ['stopped', 'provision', 'provision', 'start provision'],
    ['stopped', 'provision', 'stop', 'refused: already stopped'],
    ['stopped', 'provision', 'deprovision', 'refused: not provisioned'],
    ['stopped', 'provision', 'retry', 'resume provision 3'],
    ['failed', 'provision', 'provision', 'start provision'],
    ['failed', 'provision', 'stop', 'refused: the last run failed'],
    ['failed', 'provision', 'deprovision', 'refused: retry it or provision again'],
    ['failed', 'provision', 'retry', 'resume provision 3'],
    ['failed', 'deprovision', 'provision', 'refused: A deprovisioning run failed'],
    ['failed', 'deprovision', 'stop', 'refused: the last run failed'],
    ['failed', 'deprovision', 'deprovision', 'start deprovision'],
    ['failed', 'deprovision', 'retry', 'resume deprovision 3'],
    ['deprovisioning', 'deprovision', 'provision', 'refused: only when it has completed'],
    ['deprovisioning', 'deprovision', 'stop', 'refused: cannot be stopped'],
    ['deprovisioning', 'deprovision', 'deprovision', 'refused: already running'],
    ['deprovisioning', 'deprovision', 'retry', 'refused: nothing to retry'],
    ['deprovisioned', 'deprovision', 'provision', 'start provision'],
    ['deprovisioned', 'deprovision', 'stop', 'refused: deprovisioned'],
    ['deprovisioned', 'deprovision', 'deprovision', 'refused: already deprovisioned'],
    ['deprovisioned', 'deprovision', 'retry', 'refused: deprovisioning has completed'],
  ];

  it.each(table)('%s (last run %s) + %s → %s', (state, lastAction, action, expected) => {
    const decision = decideProvisioningAction(statusIn(state, lastAction), action);
    if (expected.startsWith('refused: ')) {
      expect(decision.kind).toBe('refused');
      if (decision.kind === 'refused') expect(decision.reason).toContain(expected.slice('refused: '.length));
    } else if (expected === 'stop') {
      expect(decision).toEqual({ kind: 'stop' });
    } else if (expected.startsWith('start ')) {
      expect(decision).toEqual({ kind: 'start', action: expected.slice('start '.length) });
    } else {
      const [, resumedAction, step] = expected.split(' ');
      expect(decision).toEqual({ kind: 'resume', action: resumedAction, fromStep: Number(step) });
    }
  });

  it('covers every state with every action', () => {
    const states = provisioningStatusSchema.shape.state.options;
    for (const state of states) {
      for (const action of ['provision', 'stop', 'deprovision', 'retry'] as const) {
        expect(table.some(([s, , a]) => s === state && a === action)).toBe(true);
      }
    }
  });
});

describe('provisioning status transitions', () => {
  it('a new run has every step pending and no progress', () => {
    const status = beginRun(statusIn('failed'), 'provision', 'run-2', now);
    expect(status).toMatchObject({
      state: 'provisioning',
      action: 'provision',
      runId: 'run-2',
      currentStep: 1,
    });
    expect(status.steps.map((s) => s.name)).toEqual([...PROVISION_STEP_NAMES]);
    expect(status.steps.every((s) => s.status === 'pending')).toBe(true);
    expect(beginRun(status, 'deprovision', 'run-3', now).steps.map((s) => s.name)).toEqual([
      ...DEPROVISION_STEP_NAMES,
    ]);
  });

  it('a retry keeps completed steps and resets the rest', () => {
    const failed = finishRun(statusIn('provisioning', 'provision', 4), 'failed', now, {
      step: 4,
      message: 'boom',
    });
    expect(failed).toMatchObject({ state: 'failed', currentStep: 4 });
    expect(failed.steps[3]).toMatchObject({ status: 'failed', message: 'boom' });
    expect(resumeStep(failed)).toBe(4);
    const resumed = resumeRun(failed, 4, now);
    expect(resumed.state).toBe('provisioning');
    expect(resumed.runId).toBe('run-1');
    expect(resumed.steps.map((s) => s.status)).toEqual([
      'succeeded',
      'succeeded',
      'succeeded',
      'pending',
      'pending',
      'pending',
      'pending',
    ]);
  });

  it('a stop is recorded, then the run ends stopped at the step', () => {
    const stopping = requestStop(statusIn('provisioning', 'provision', 5), now);
    expect(stopping).toMatchObject({ state: 'stopping', stopRequested: true });
    const stopped = finishRun(stopping, 'stopped', now, { step: 5, message: '' });
    expect(stopped).toMatchObject({ state: 'stopped', currentStep: 5, stopRequested: false });
    expect(stopped.steps[4]?.status).toBe('stopped');
    expect(stopped.messages.at(-1)?.text).toBe('Provisioning stopped at step 5.');
  });

  it('a completed run is provisioned or deprovisioned', () => {
    expect(finishRun(statusIn('provisioning', 'provision', 7), 'succeeded', now).state).toBe('provisioned');
    expect(finishRun(statusIn('deprovisioning', 'deprovision', 3), 'succeeded', now).state).toBe(
      'deprovisioned',
    );
  });

  it('maps each provisioning state to the tenant state devices are checked against', () => {
    expect(tenantStateFor('provisioned')).toBe('active');
    for (const state of [
      'provisioning',
      'stopping',
      'stopped',
      'failed',
      'deprovisioning',
      'deprovisioned',
    ] as const) {
      expect(tenantStateFor(state)).not.toBe('active');
    }
  });
});
