import { randomUUID } from 'node:crypto';
import type { TokenCredential } from '@azure/identity';
import {
  isServiceBusError,
  ServiceBusClient,
  type ServiceBusMessage,
  type ServiceBusSender,
} from '@azure/service-bus';
import { AppError } from '../../errors';
import type { QueueSender, SendOptions } from '../port';

/** Where the replication queue lives; the credential is the process's one managed identity. */
export interface ServiceBusSenderOptions {
  /** `<namespace>.servicebus.windows.net` (the `ServiceBusConnection__fullyQualifiedNamespace` setting). */
  fullyQualifiedNamespace: string;
  queueName: string;
  credential: TokenCredential;
}

/** A {@link QueueSender} over Service Bus that owns its connection. */
export interface ServiceBusQueueSender extends QueueSender {
  close(): Promise<void>;
}

/** The part of `ServiceBusSender` the adapter uses (tests pass a fake). */
export type ServiceBusSenderLike = Pick<
  ServiceBusSender,
  'sendMessages' | 'scheduleMessages' | 'createMessageBatch' | 'close'
>;

/**
 * The Service Bus adapter of the Queue port's sending side (Functions' Service Bus trigger
 * receives): identity-based connection, no keys. One client and one sender per process.
 */
export function createServiceBusSender(options: ServiceBusSenderOptions): ServiceBusQueueSender {
  const client = new ServiceBusClient(options.fullyQualifiedNamespace, options.credential);
  const sender = wrapServiceBusSender(client.createSender(options.queueName), options.queueName);
  return {
    send: (body, sendOptions) => sender.send(body, sendOptions),
    sendBatch: (bodies) => sender.sendBatch(bodies),
    async close() {
      await sender.close();
      await client.close();
    },
  };
}

/**
 * Maps the Queue port onto a Service Bus sender: JSON bodies, `messageId` for the queue's duplicate
 * detection (a random one when none is given), `scheduleMessages` for a later delivery, and batches
 * split wherever the next message would overflow the batch's size limit. SDK failures become
 * AppErrors (`PayloadTooLarge` for a message that can never fit, `Unavailable` otherwise).
 */
export function wrapServiceBusSender(sender: ServiceBusSenderLike, queueName: string): ServiceBusQueueSender {
  const translate = (error: unknown): AppError => translateServiceBusError(error, queueName);

  return {
    async send(body: unknown, sendOptions: SendOptions = {}) {
      const message = toServiceBusMessage(body, sendOptions.messageId);
      try {
        if (sendOptions.scheduleAt === undefined) await sender.sendMessages(message);
        else await sender.scheduleMessages(message, sendOptions.scheduleAt);
      } catch (error) {
        throw translate(error);
      }
    },

    async sendBatch(bodies: readonly unknown[]) {
      try {
        let batch = await sender.createMessageBatch();
        for (const body of bodies) {
          const message = toServiceBusMessage(body, undefined);
          if (batch.tryAddMessage(message)) continue;
          // An empty batch that cannot take the message never will: it is larger than the limit.
          if (batch.count === 0) throw tooLarge(queueName, batch.maxSizeInBytes);
          await sender.sendMessages(batch);
          batch = await sender.createMessageBatch();
          if (!batch.tryAddMessage(message)) throw tooLarge(queueName, batch.maxSizeInBytes);
        }
        if (batch.count > 0) await sender.sendMessages(batch);
      } catch (error) {
        throw translate(error);
      }
    },

    async close() {
      await sender.close();
    },
  };
}

/** A queue message: the body as JSON, its type as the subject (readable in the portal's explorer). */
export function toServiceBusMessage(body: unknown, messageId: string | undefined): ServiceBusMessage {
  if (body === undefined) throw new AppError('ValidationFailed', 'A queue message body must be JSON.');
  const type = typeof body === 'object' && body !== null ? (body as { type?: unknown }).type : undefined;
  return {
    body,
    contentType: 'application/json',
    messageId: messageId ?? randomUUID(),
    ...(typeof type === 'string' ? { subject: type } : {}),
  };
}

function tooLarge(queueName: string, maxSizeInBytes: number): AppError {
  return new AppError(
    'PayloadTooLarge',
    `A message is larger than the ${maxSizeInBytes} bytes queue '${queueName}' accepts.`,
  );
}

/** Service Bus failures as AppErrors; the caller (an HTTP route or a queue handler) retries `Unavailable`. */
export function translateServiceBusError(error: unknown, queueName: string): AppError {
  if (error instanceof AppError) return error;
  if (isServiceBusError(error)) {
    if (error.code === 'MessageSizeExceeded') {
      return new AppError('PayloadTooLarge', `A message is too large for queue '${queueName}'.`, {
        cause: error,
      });
    }
    return new AppError('Unavailable', `Service Bus queue '${queueName}' failed: ${error.code}.`, {
      retryAfterSeconds: error.code === 'ServiceBusy' ? 10 : 1,
      cause: error,
    });
  }
  return new AppError('Unavailable', `Service Bus queue '${queueName}' could not be reached.`, {
    retryAfterSeconds: 1,
    cause: error,
  });
}
