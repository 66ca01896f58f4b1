import type { EndpointView } from '../services/endpoints';

/** What WebhookEndpoint's field resolvers receive: the service's view of an endpoint. */
export type WebhookEndpointMapper = EndpointView;
