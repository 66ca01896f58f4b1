import type { SettlementRow } from '../db/schema/settlement';

/**
 * What the resolvers receive for each GraphQL type that is not answered in the schema's shape
 * (scripts/lib/resolver-types.ts reads the `<Type>Mapper` names). A settlement is its row; the
 * account and payment entities are references, their fields resolved by their own subgraphs.
 */
export type SettlementMapper = SettlementRow;
export type AccountMapper = { id: string };
export type PaymentMapper = { id: string };
/** An advance is its row with its net; terms are their row; an offer is the service's view. */
export type AdvanceMapper = import('../services/advances').AdvanceView;
export type AdvanceTermsMapper = import('../db/schema/settlement').AdvanceTermsRow;
export type AdvanceOfferMapper = import('../services/advances').OfferView;
