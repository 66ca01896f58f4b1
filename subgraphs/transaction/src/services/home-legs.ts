import { postOne, type GroupedPrepare, type PostingOutcome, type PostingSpec } from '@paygraph/shared/ledger/index';
import type { PostingTx } from '@paygraph/shared/shards/posting-transaction';
import type { DeferredInserts } from '@paygraph/shared/db/deferred';
import type { Result } from '@paygraph/shared/result';
import { paymentsByIds } from '../db/payments';
import type { PaymentRow } from '../db/schema/transactions';
import type { PostingRefusal } from '../domain/errors';
import { recordOutcome } from './record-outcome';
import type { ServiceContext } from './context';

/**
 * How a payment's home posting names its payment: by the id its key has named, as createPayment
 * and createPayments post; or (a hold's capture, services/hold.ts) under a lock, by a grouped
 * prepare that claims the payment's key there and then posts `homeLegs(id)` or answers without
 * a posting.
 */
export type HomePosting<R> =
  { id: string } | { grouped: (homeLegs: (id: string) => PostingSpec) => GroupedPrepare<R>; claimedId: () => string };

/** A plan's home legs as the pipeline posts them: what the posting is, and what it writes. */
export interface HomeLegs<R> {
  posting: HomePosting<R>;
  /** The plan's legs on the payer's shard, as one posting of the payment `id` names. */
  spec: (id: string) => PostingSpec;
  /** The instant of the posting and the record (a capture's is the one its hold's ending was decided at). */
  at: Date;
  /**
   * The payment's records, written at `at` in the posting's transaction when it applies (its row, legs, FX record,
   * outbox row): the row answered.
   */
  write: (deferred: DeferredInserts, id: string, at: Date) => PaymentRow;
  /** The answer, in the posting's transaction: `record` writes the payment (or reads a replay's back). */
  finish: (
    tx: PostingTx,
    outcome: PostingOutcome,
    record: () => Promise<Result<PaymentRow, PostingRefusal>>,
  ) => Promise<R>;
}

/**
 * The one way a request posts its payment's home legs (docs/PAYMENTS.md, "One payment
 * pipeline"): every leg of the plan on the payer's shard in one posting, with the payment's
 * records in the same transaction. A two-leg or FX plan (two-leg-payment.ts), a hold's capture
 * (hold.ts) and a plan of more legs (leg-payment.ts) all come here; only what they post and
 * write differs. (A plan whose paying leg lives on another shard has no home posting at the
 * request: its record is written first and the completion posts the legs in order,
 * payment-completion.ts.) Submits at once (no await before postOne), so callers control the
 * order of submission (createPayments). Nothing is read here before the posting: a replay that
 * reaches it meets its posting's dedupe key under the payer's lock and answers DUPLICATE, which
 * reads the payment back.
 */
export function postHomeLegs<R>(ctx: ServiceContext, payerId: string, home: HomeLegs<R>): Promise<R> {
  const { posting, at } = home;
  const idOf = (): string => ('id' in posting ? posting.id : posting.claimedId());
  return postOne<R>(
    ctx.shards.of('account', payerId),
    {
      ...('id' in posting ? { spec: home.spec(posting.id) } : { grouped: posting.grouped(home.spec) }),
      finish: (tx, outcome, _accounts, deferred) =>
        home.finish(tx, outcome, () => {
          const id = idOf();
          return recordOutcome(outcome, {
            id,
            applied: () => home.write(deferred, id, at),
            existing: async () => (await paymentsByIds(tx, [id]))[0],
          });
        }),
      at,
    },
    { now: () => at },
  );
}
