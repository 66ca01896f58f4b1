import {
  inGroup,
  type GroupedPrepare,
  type PostingSpec,
  type PrepareDecision,
  type PrepareGroup,
} from '@paygraph/shared/ledger/index';
import type { PostingTx } from '@paygraph/shared/shards/posting-transaction';
import { err } from '@paygraph/shared/result';
import {
  claimedIn,
  claimOf,
  claimStatement,
  keyReused,
  type ClaimInTransaction,
  type KeyReused,
} from '@paygraph/shared/idempotency/index';

/**
 * A two-leg payment's key claimed in its debit's posting transaction (docs/PAYMENTS.md,
 * "Idempotency keys"), as one check of a merged batch: the batch's claims are one INSERT IGNORE
 * sent in the round trip that begins the transaction, in front of the accounts' lock (a
 * LeadingRead), and commit with the debits they key. Before, every claim was a statement and a
 * commit of its own before the posting (coalesced with concurrent requests' claims): one round
 * trip and one durable commit more on the payer's shard per payment
 * (test/int/key-placement.test.ts counts them; docs/PERFORMANCE.md the bench's figures).
 *
 * The debit's id is the one the fresh claim mints, so its posting (and dedupe key) is known
 * before the claim answers and the batch locks its accounts and reads its prior outcome with the
 * rest. A claim that finds its key held does not post here: a reuse answers IdempotencyKeyReused,
 * and a replay answers the resource the key names (ClaimedBefore), which the payment route posts
 * again keyed by it, as every replay was posted before (its posting answers DUPLICATE or the
 * refusal kept under its key). A key held by a batch not yet committed makes this one's INSERT
 * wait for it, so copies of one request sent at once still make one payment.
 */

/** A claim that found its key held with this content: the resource an earlier request made. */
export interface ClaimedBefore {
  kind: 'ClaimedBefore';
  resourceId: string;
}

/** What a claim that is not fresh answers instead of posting: the resource claimed before, or the key reused. */
export type NotPosted = ClaimedBefore | { ok: false; error: KeyReused };

/** The claim, and the debit its fresh claim posts (keyed by the id the claim mints). */
interface ClaimedDebit {
  claim: ClaimInTransaction;
  spec: PostingSpec;
}

/** Each claim's decision from the INSERT's answer (a read of the held keys only when some were held). */
async function decideClaims(
  tx: PostingTx,
  inputs: readonly ClaimedDebit[],
  answer: unknown,
): Promise<Array<PrepareDecision<NotPosted>>> {
  const held = await claimedIn(
    tx,
    inputs.map((i) => i.claim.row),
    answer,
  );
  return inputs.map((input, k) => {
    const claim = claimOf(held[k]!, input.claim.request, input.claim.row.resourceId);
    if (claim.kind === 'fresh') return { proceed: true, spec: input.spec };
    const result: NotPosted =
      claim.kind === 'replay'
        ? { kind: 'ClaimedBefore', resourceId: claim.resourceId }
        : err(keyReused(input.claim.spec));
    return { proceed: false, result };
  });
}

const paymentClaims: PrepareGroup<ClaimedDebit, NotPosted> = {
  name: 'payment key claims',
  run: async (tx, inputs) => {
    const [answer] = await tx.queryMany([claimStatement(inputs.map((i) => i.claim.row))]);
    return decideClaims(tx, inputs, answer);
  },
  lead: {
    statement: (inputs) => claimStatement(inputs.map((i) => i.claim.row)),
    // The debit posts under the payment id its claim minted, and only when the claim is fresh: had any transaction
    // written an outcome under that key, it would have committed this claim's row with it, and the claim is not fresh.
    reach: ({ spec }) => ({
      accountIds: spec.legs.map((l) => l.accountId),
      dedupeKey: spec.dedupeKey ?? null,
      keyIsNew: true,
    }),
    decide: decideClaims,
  },
};

/**
 * The debit as its part in the batch's claims: posted when its claim is fresh; otherwise
 * answered without posting (NotPosted).
 */
export function claimedDebit<R>(claim: ClaimInTransaction, spec: PostingSpec): GroupedPrepare<R | NotPosted> {
  return inGroup(paymentClaims as PrepareGroup<ClaimedDebit, R | NotPosted>, { claim, spec });
}
