import type { Forbidden } from '@paygraph/shared/authorization';
import { newId, shardOf } from '@paygraph/shared/ids';
import {
  inGroup,
  postOne,
  type GroupedPrepare,
  type PrepareDecision,
  type PrepareGroup,
  type PostingSpec,
  type Account,
} from '@paygraph/shared/ledger/index';
import type { PostingTx } from '@paygraph/shared/shards/posting-transaction';
import type { Shard } from '@paygraph/shared/shards/pool';
import { Coalescer } from '@paygraph/shared/shards/coalescer';
import { assert, err, ok, unreachable, type Result } from '@paygraph/shared/result';
import { countMoneyMovement } from '@paygraph/shared/metrics';
import { deferHold, endHold, holdsByIds, lockHolds, reopenHold, type HoldEnding } from '../db/holds';
import { paymentsByIds } from '../db/payments';
import type { HoldRow, PaymentRow } from '../db/schema/transactions';
import {
  captureHoldErrorKinds,
  refusalOf,
  type CaptureHoldError,
  type CreateHoldError,
  type VoidHoldError,
} from '../domain/errors';
import { decideCapture, decideExpiry, decideVoid, holdExpiresAt } from '../domain/hold-rules';
import {
  parseCaptureHold,
  parseCreateHold,
  parseVoidHold,
  type CaptureHoldInput,
  type CreateHoldInput,
  type ParsedHold,
  type VoidHoldInput,
} from '../domain/inputs';
import { holdReleaseSpec, holdSpec } from '../domain/legs';
import { planCapture, type PaymentPlan } from '../domain/payment-plan';
import { readAccounts } from './accounts';
import {
  claimOf,
  claimRow,
  keyClaim,
  keyReused,
  withIdempotencyKey,
  type Claim,
  type ClaimRequest,
  type KeySpec,
  claimStatement,
  claimedIn,
  type IdempotencyInsert,
} from '@paygraph/shared/idempotency/index';
import { recordOutcome } from './record-outcome';
import { checkPayee, clientAccount, creditAcrossShards, routeBetween, type PaymentRoute } from './payment-steps';
import { postHomeLegs } from './home-legs';
import { twoLegHome } from './two-leg-payment';
import type { ServiceContext } from './context';
import { mayEndHold, mayHoldFrom } from './access';

/**
 * Holds: authorize now, capture or void later (TigerBeetle's pending transfers are the model).
 * A hold lives on its payer's shard with its postings, and every step is one local posting
 * there through merged posting: the hold moves available → frozen; its capture moves frozen →
 * the payee as a Payment (then the payment's usual route) and the rest back to available; a
 * void or an expiry moves frozen → available. Each ending serialises on the hold row under its
 * lock in `prepare`, as refunds do on their payment, so exactly one ending wins.
 */
export async function createHold(
  ctx: ServiceContext,
  input: CreateHoldInput,
): Promise<Result<HoldRow, CreateHoldError | Forbidden>> {
  const result = await attemptHold(ctx, input);
  // Every answer counted by outcome (metrics.ts): the status written, or the error's kind; a
  // caller refused is not a hold's outcome.
  if (!result.ok && result.error.kind === 'Forbidden') return result;
  countMoneyMovement('hold', result.ok ? result.value.status : result.error.kind);
  return result;
}

async function attemptHold(
  ctx: ServiceContext,
  input: CreateHoldInput,
): Promise<Result<HoldRow, CreateHoldError | Forbidden>> {
  const parsed = parseCreateHold(input, ctx.amountMax);
  if (!parsed.ok) return parsed;
  const request = parsed.value;
  const found = await readAccounts(ctx.shards, [request.payerAccountId, request.payeeAccountId]);
  const payer = clientAccount(found, request.payerAccountId);
  if (!payer) return err({ kind: 'AccountNotFound', accountId: request.payerAccountId });
  const notYours = mayHoldFrom(ctx.identity, payer);
  if (notYours) return err(notYours);
  const payee = clientAccount(found, request.payeeAccountId);
  if (!payee) return err({ kind: 'AccountNotFound', accountId: request.payeeAccountId });
  const early = checkPayee(payee, request);
  if (early) return err(early);
  const content = {
    payer: payer.id,
    payee: payee.id,
    amount: request.amount,
    currency: request.currency,
    description: request.description,
    expiresInSeconds: request.expiresInSeconds === null ? null : String(request.expiresInSeconds),
  };
  const now = ctx.now();
  // The key lives with the record it guards: the hold, on the payer's shard.
  const spec = {
    anchor: { kind: 'account' as const, id: payer.id },
    key: request.idempotencyKey,
    operation: 'HOLD',
    content,
    newResourceId: () => newId('hold', shardOf('account', payer.id)),
  };
  return withIdempotencyKey({ ...ctx, now: () => now }, spec, ({ resourceId }) =>
    holdOnce(ctx, request, resourceId, now),
  );
}

/** The hold the key names: its posting, whose dedupe key a replay meets. */
function holdOnce(
  ctx: ServiceContext,
  request: ParsedHold,
  id: string,
  now: Date,
): Promise<Result<HoldRow, CreateHoldError>> {
  const ttlSeconds = request.expiresInSeconds ?? ctx.holdTtlSeconds;
  const payerId = request.payerAccountId;
  const logical = shardOf('account', payerId);
  const row: HoldRow = {
    id,
    payerAccountId: payerId,
    payeeAccountId: request.payeeAccountId,
    amount: request.amount,
    capturedAmount: 0n,
    currency: request.currency,
    status: 'HELD',
    endedBy: null,
    description: request.description,
    createdBy: ctx.identity.sub,
    expiresAt: holdExpiresAt(now, ttlSeconds),
    createdAt: now,
    endedAt: null,
  };
  // No read before the posting: a replay meets the hold posting's dedupe key under the payer's
  // lock and answers DUPLICATE, which reads the hold back.
  return postOne<Result<HoldRow, CreateHoldError>>(
    ctx.shards.of('account', payerId),
    {
      spec: holdSpec({ id, currency: request.currency, amount: request.amount }, newId('posting', logical), payerId),
      finish: (tx, outcome, _accounts, deferred) =>
        recordOutcome(outcome, {
          id,
          applied: () => (deferHold(deferred, row), row),
          existing: async () => (await holdsByIds(tx, [id]))[0],
        }),
      at: now,
    },
    { now: () => now },
  );
}

/** The hold's shard and its row as it is now (unlocked: for authorization and early refusals). */
async function findHold(ctx: ServiceContext, holdId: string): Promise<{ shard: Shard; hold: HoldRow } | null> {
  const shard = ctx.shards.of('hold', holdId);
  const hold = await holdReads.load(shard, holdId);
  return hold ? { shard, hold } : null;
}

/** Concurrent captures' and voids' reads of their holds on a shard share one statement (shards/coalescer.ts). */
const holdReads = new Coalescer<string, HoldRow | undefined>('hold reads', async (shard, ids) => {
  const rows = await holdsByIds(shard.db, [...new Set(ids)]);
  const byId = new Map(rows.map((h) => [h.id, h]));
  return ids.map((id) => byId.get(id));
});

/** The payer's owner or an operator may capture or void; anyone else is refused outright. */
async function authorizeEnding(
  ctx: ServiceContext,
  hold: HoldRow,
  verb: string,
): Promise<Result<{ payer: Account; payee: Account | undefined }, Forbidden>> {
  const found = await readAccounts(ctx.shards, [hold.payerAccountId, hold.payeeAccountId]);
  const payer = found.get(hold.payerAccountId);
  const notYours = mayEndHold(ctx.identity, hold.id, payer, verb);
  // mayEndHold refuses a payer account that is not there, so !payer comes with a refusal.
  if (notYours || !payer) return err(notYours!);
  return ok({ payer, payee: found.get(hold.payeeAccountId) });
}

/**
 * Pays up to the held amount to the payee as a Payment and returns the rest to available. The
 * capture is a plan (domain/payment-plan.ts planCapture) whose PAYER leg pays from frozen,
 * posted as every plan's home legs are (home-legs.ts postHomeLegs, two-leg-payment.ts twoLegHome) but under
 * the hold's lock, so a cross-shard capture continues as any cross-shard payment does (outbox
 * row, credit on the payee's shard, the relay after a crash).
 */
export async function captureHold(
  ctx: ServiceContext,
  input: CaptureHoldInput,
): Promise<Result<CapturedHold, CaptureHoldError | Forbidden>> {
  const parsed = parseCaptureHold(input, ctx.amountMax);
  if (!parsed.ok) return parsed;
  const request = parsed.value;
  const found = await findHold(ctx, request.holdId);
  if (!found) return err({ kind: 'HoldNotFound', holdId: request.holdId });
  const { hold } = found;
  const authorized = await authorizeEnding(ctx, hold, 'capture');
  if (!authorized.ok) return authorized;
  const { payer, payee } = authorized.value;
  if (!payee) return err({ kind: 'AccountNotFound', accountId: hold.payeeAccountId });
  if (request.amount !== null && request.amount > hold.amount)
    return err({ kind: 'CaptureExceedsHold', holdId: hold.id, held: hold.amount });
  const now = ctx.now();
  const route = await routeBetween(ctx, payer, payee, hold.currency);
  // The amount is the hold's, which never changes, unless the request names less: decided
  // again under the hold's lock (decideCapture), as it always was.
  const plan = planCapture(hold, request.amount ?? hold.amount, payer, payee, request.idempotencyKey);
  const captured = await postCapture(ctx, hold, plan, route, request.amount, now);
  if (!captured.ok || captured.value.payment.status !== 'PROCESSING') return captured;
  return ok({
    ...captured.value,
    payment: await creditAcrossShards(ctx, captured.value.payment, 'capture-after-debit'),
  });
}

/**
 * The capture's home legs under the hold's lock: the key claimed there (its resource is the
 * payment), the hold ended if it may be, then the plan posted; a capture the ledger refuses
 * (the payee closed meanwhile) leaves the hold HELD.
 */
function postCapture(
  ctx: ServiceContext,
  hold: HoldRow,
  plan: PaymentPlan,
  route: PaymentRoute,
  amount: bigint | null,
  now: Date,
): Promise<Result<CapturedHold, CaptureHoldError>> {
  const logical = shardOf('hold', hold.id);
  // The payment lives with its hold: its id and its posting's are on the hold's logical shard.
  const claim = claimOfEnding(
    ctx,
    endingKey(hold, plan.request.idempotencyKey, 'CAPTURE_HOLD', { amount }, () => newId('payment', logical)),
    now,
  );
  // The hold as this capture left it (or found it, on a replay): what the answer's `hold` shows.
  let ended: HoldRow | null = null;
  let paymentId = '';
  const grouped = (homeLegs: (id: string) => PostingSpec): GroupedPrepare<Result<CapturedHold, CaptureHoldError>> =>
    endingOf<Result<CapturedHold, CaptureHoldError>>({
      holdId: hold.id,
      claim,
      decide: async (tx, locked, claimed, endedHere) => {
        ended = null;
        const resource = claimedResource(claimed);
        if (resource === null) return { result: err(keyReused(claim.spec)) };
        paymentId = resource;
        const decided = decideCapture(locked, paymentId, amount, now);
        if (!decided.ok) return { result: decided };
        const { decision } = decided.value;
        if (decision.kind === 'refused') return { result: err(decision.error) };
        if (decision.kind === 'replayed') {
          // A copy of a capture made earlier in this batch: its payment is not written yet, so
          // the copy posts the same payment again and the ledger answers DUPLICATE after it is.
          if (endedHere) {
            ended = locked;
            return { ending: null, spec: homeLegs(paymentId) };
          }
          return { result: ok({ payment: (await paymentsByIds(tx, [paymentId]))[0]!, hold: locked }) };
        }
        const ending = {
          status: 'CAPTURED' as const,
          endedBy: paymentId,
          capturedAmount: decided.value.amount,
          endedAt: now,
        };
        ended = { ...locked, ...ending };
        return { ending, spec: homeLegs(paymentId) };
      },
    });
  return postHomeLegs(ctx, plan.payer.id, {
    posting: { grouped, claimedId: () => paymentId },
    ...twoLegHome(ctx, plan, route, newId('posting', logical), null),
    at: now,
    finish: async (tx, outcome, record) => {
      const capture = ended!;
      // The hold stays HELD: a refused capture (the payee closed meanwhile) ends nothing.
      if (outcome.status === 'REJECTED') await reopenHold(tx, hold.id);
      const recorded = await record();
      return recorded.ok
        ? ok({ payment: recorded.value, hold: capture })
        : err(refusalOf(recorded.error, captureHoldErrorKinds));
    },
  });
}

/** A capture's or a void's key: anchored on the hold, its content the hold and the request's fields. */
function endingKey(
  hold: HoldRow,
  key: string,
  operation: string,
  content: KeySpec['content'],
  newResourceId: () => string,
): KeySpec {
  return {
    anchor: { kind: 'hold', id: hold.id },
    key,
    operation,
    content: { hold: hold.id, ...content },
    newResourceId,
  };
}

/**
 * The claim of a capture's or a void's key, made in the posting transaction as the hold is
 * locked (EndingInput.claim). Capture and void keys live with the hold, on the payer's shard.
 */
function claimOfEnding(ctx: ServiceContext, spec: KeySpec, now: Date): EndingClaim {
  const request = keyClaim(ctx, spec);
  return { spec, request, row: claimRow(request, now) };
}

/** Returns the held amount to the payer's available balance. */
export async function voidHold(
  ctx: ServiceContext,
  input: VoidHoldInput,
): Promise<Result<HoldRow, VoidHoldError | Forbidden>> {
  const parsed = parseVoidHold(input);
  if (!parsed.ok) return parsed;
  const request = parsed.value;
  const found = await findHold(ctx, request.holdId);
  if (!found) return err({ kind: 'HoldNotFound', holdId: request.holdId });
  const { shard, hold } = found;
  const authorized = await authorizeEnding(ctx, hold, 'void');
  if (!authorized.ok) return authorized;
  const now = ctx.now();
  // The claim names the releasing posting: a replay finds it as the hold's ending.
  const claim = claimOfEnding(
    ctx,
    endingKey(hold, request.idempotencyKey, 'VOID_HOLD', {}, () => newId('posting', shardOf('hold', hold.id))),
    now,
  );
  return releaseHold(shard, hold, 'VOIDED', { claim }, now);
}

/**
 * A void or an expiry: under the hold's lock, ends it if it is still HELD (and, for a void,
 * before its deadline), then posts frozen → available. The release's posting id is what the
 * hold records as its ending: a void's is the resource its key claims, an expiry's is given.
 */
export async function releaseHold(
  shard: Shard,
  hold: HoldRow,
  status: 'VOIDED' | 'EXPIRED',
  by: { claim: EndingClaim } | { releaseId: string },
  now: Date,
): Promise<Result<HoldRow, VoidHoldError>> {
  let ended: HoldRow | null = null;
  return postOne<Result<HoldRow, VoidHoldError>>(
    shard,
    {
      grouped: endingOf<Result<HoldRow, VoidHoldError>>({
        holdId: hold.id,
        claim: 'claim' in by ? by.claim : null,
        decide: async (_tx, locked, claimed) => {
          ended = null;
          const releaseId = 'releaseId' in by ? by.releaseId : claimedResource(claimed);
          if (releaseId === null) return { result: err(keyReused('claim' in by ? by.claim.spec : { key: '' })) };
          const decision = status === 'VOIDED' ? decideVoid(locked, releaseId, now) : decideExpiry(locked, now);
          if (decision.kind === 'refused') return { result: err(decision.error) };
          if (decision.kind === 'replayed') return { result: ok(locked) };
          const ending = { status, endedBy: releaseId, capturedAmount: 0n, endedAt: now };
          ended = { ...locked, ...ending };
          return {
            ending,
            spec: holdReleaseSpec(
              { id: hold.id, currency: hold.currency, amount: hold.amount },
              releaseId,
              hold.payerAccountId,
            ),
          };
        },
      }),
      finish: async (_tx, outcome) => {
        switch (outcome.status) {
          case 'APPLIED':
            return ok(ended!);
          case 'DUPLICATE':
          case 'REJECTED':
            // The release is a completion under the hold's lock, after the hold was found HELD:
            // its key cannot have been posted or refused before.
            throw new Error(`release of hold ${hold.id} answered ${outcome.status}`);
          default:
            return unreachable(outcome);
        }
      },
      at: now,
    },
    { now: () => now },
  );
}

/** A capture's answer: the payment, and the hold as the capture left it (what the answer's `hold` shows). */
export interface CapturedHold {
  payment: PaymentRow;
  hold: HoldRow;
}

/** The resource a claim names (the one this request creates, or its replay's), or null for a reused key. */
function claimedResource(claimed: Claim | null): string | null {
  return claimed && claimed.kind !== 'reused' ? claimed.resourceId : null;
}

/** A capture's or a void's key claim: its spec, the request, and the row it inserts. */
interface EndingClaim {
  spec: KeySpec;
  request: ClaimRequest;
  row: IdempotencyInsert;
}

/**
 * One ending of a hold (a capture, a void or an expiry) as its part in the batch's check of
 * hold endings: `decide` sees the hold under its lock, as the batch's earlier endings left it
 * (`endedHere`: ended by one of them), with what its key's claim found, and answers the ending
 * to write (none for a copy of an ending made earlier in the batch) with the posting that moves
 * its money, or the request's answer.
 */
interface EndingInput<R> {
  holdId: string;
  claim: EndingClaim | null;
  decide: (tx: PostingTx, locked: HoldRow, claimed: Claim | null, endedHere: boolean) => Promise<EndingStep<R>>;
}

type EndingStep<R> = { ending: HoldEnding | null; spec: PostingSpec } | { result: R };

/**
 * The endings of a merged batch, taken together, in the round trip that begins the posting
 * transaction: their holds locked by one statement, their keys claimed by one more (a key lives
 * with its hold, so only endings of the same hold contend for it, and they wait on its lock
 * first). Then each is decided in turn against the row as the endings before it left it (two
 * captures of one hold in a batch: the second finds it CAPTURED), and each ending's UPDATE is
 * held for the batch's next round trip. Before, every ending claimed its key in a statement
 * (and a commit) of its own, then locked and updated its hold in two round trips, one after
 * the other, with the batch's transaction open: 9 round trips on the payer's shard for a
 * capture, now 5 (test/int/hold-endings.test.ts). The claim commits with the ending, so a
 * key is never held for an ending that was rolled back.
 */
const holdEndings: PrepareGroup<EndingInput<unknown>, unknown> = {
  name: 'hold endings',
  run: async (tx, inputs) => {
    const claims = inputs.flatMap((i) => (i.claim ? [i.claim] : []));
    const { holds, answers } = await lockHolds(
      tx,
      [...new Set(inputs.map((i) => i.holdId))],
      claims.length > 0 ? [claimStatement(claims.map((c) => c.row))] : [],
    );
    const held =
      claims.length > 0
        ? await claimedIn(
            tx,
            claims.map((c) => c.row),
            answers[0],
          )
        : [];
    const claimed = new Map(claims.map((c, k) => [c, claimOf(held[k]!, c.request, c.row.resourceId)]));
    const locked = new Map(holds.map((h) => [h.id, h]));
    const endedHere = new Set<string>();
    const decisions: Array<PrepareDecision<unknown>> = [];
    for (const input of inputs) {
      const hold = locked.get(input.holdId);
      assert(hold, `hold ${input.holdId} vanished while an ending of it was posted`);
      const step = await input.decide(tx, hold, input.claim ? claimed.get(input.claim)! : null, endedHere.has(hold.id));
      if ('result' in step) {
        decisions.push({ proceed: false, result: step.result });
        continue;
      }
      if (step.ending) {
        await endHold(tx, hold.id, step.ending);
        locked.set(hold.id, { ...hold, ...step.ending });
        endedHere.add(hold.id);
      }
      decisions.push({ proceed: true, spec: step.spec });
    }
    return decisions;
  },
};

function endingOf<R>(input: EndingInput<R>): GroupedPrepare<R> {
  return inGroup(holdEndings as PrepareGroup<EndingInput<R>, R>, input);
}
