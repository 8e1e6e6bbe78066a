import type { Settings } from './config';
import type { Clock } from './clock';
import type { Tenant } from './model/tenant';
import type { ProvisioningRunner } from './provisioning/provisioning-runner';
import type { QueueSender } from './queue/port';
import type { Source } from './sources/port';
import type { Store } from './store/port';

/**
 * What one process wires together once at start (the composition root's product): the adapters
 * behind each port. Both hosts build one and hand it to the same route handlers and queue handler.
 */
export interface AppServices {
  readonly settings: Settings;
  readonly store: Store;
  readonly queue: QueueSender;
  readonly clock: Clock;
  /** The Source adapter for a tenant (local store or Dataverse), created on demand. */
  sourceFor(tenant: Tenant): Source;
  /**
   * Hands provisioning runs to the host's orchestration: the local host's in-process driver, or (per
   * invocation of a `durableClient` route) the Durable client. Absent: the provisioning route answers 503.
   */
  readonly provisioning?: ProvisioningRunner;
}
