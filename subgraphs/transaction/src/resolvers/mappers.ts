import type {
  CampaignRow,
  ExternalTransferRow,
  HoldRow,
  PaymentLegRow,
  PaymentRow,
  RefundRow,
} from '../db/schema/transactions';
import type { FxQuoteRow, FxRateRow, PaymentFxRow } from '../db/schema/fx';
import type { ExternalAccountRow } from '../db/schema/external-accounts';
import type { LinkEventRow } from '../db/schema/link-events';

/**
 * What the resolvers receive for each GraphQL type that is not answered in the schema's shape
 * (scripts/lib/resolver-types.ts reads the `<Type>Mapper` names): payments, refunds, holds and
 * external transfers are their rows. Account is the account subgraph's entity: this one knows
 * its id only. Entry is too: the gateway hands over its id and postingId (@requires). FX rates,
 * quotes and a payment's FX are their rows.
 */
export type PaymentMapper = PaymentRow;
export type RefundMapper = RefundRow;
export type HoldMapper = HoldRow;
export type DepositMapper = ExternalTransferRow;
export type WithdrawalMapper = ExternalTransferRow;
export type AccountMapper = { id: string };
export type EntryMapper = { id: string; postingId: string };
export type FxRateMapper = FxRateRow;
export type FxQuoteMapper = FxQuoteRow;
export type PaymentFxMapper = PaymentFxRow;
/** A leg: a row of a LEGS payment, or one of a two-leg payment's two (resolvers/payment.ts twoLegs). */
export type LegMapper = Pick<PaymentLegRow, 'role' | 'accountId' | 'amount' | 'currency' | 'refundedAmount'>;
export type CampaignMapper = CampaignRow;
/** A linked external account is its row (never a card's number: the row has none). */
export type ExternalAccountMapper = ExternalAccountRow;
/** An event of an owner's links is its row; its link and payout are read by id. */
export type ExternalAccountEventMapper = LinkEventRow;
