export {
  createPaygraphClient,
  documentIdOf,
  type PaygraphClient,
  type PaygraphClientOptions,
  type PersistedDocument,
} from './client';
export * from './generated/graphql';
