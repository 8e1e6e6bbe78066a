/** The Service Bus adapter of the Queue port (sending side): the queue used in Azure. */
export {
  createServiceBusSender,
  translateServiceBusError,
  wrapServiceBusSender,
  type ServiceBusQueueSender,
  type ServiceBusSenderLike,
  type ServiceBusSenderOptions,
} from './service-bus-sender';
