import type { Forbidden } from '@paygraph/shared/authorization';
import { newId, shardOf } from '@paygraph/shared/ids';
import { postOne, type Account } from '@paygraph/shared/ledger/index';
import type { Shard } from '@paygraph/shared/shards/pool';
import { Coalescer } from '@paygraph/shared/shards/coalescer';
import { assert, err, ok, unreachable, type Result } from '@paygraph/shared/result';
import { countMoneyMovement } from '@paygraph/shared/metrics';
import { deferHold, holdsByIds } from '../db/holds';
import type { HoldRow, PaymentRow } from '../db/schema/transactions';
import {
  captureHoldErrorKinds,
  refusalOf,
  type CaptureHoldError,
  type CreateHoldError,
  type VoidHoldError,
} from '../domain/errors';
import { decideExpiry, decideVoid, holdExpiresAt } from '../domain/hold-rules';
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
import { planCapture } from '../domain/payment-plan';
import { readAccounts } from './accounts';
import { keyReused, withIdempotencyKey } from '@paygraph/shared/idempotency/index';
import { recordOutcome } from './record-outcome';
import { checkPayee, clientAccount } from './payment-steps';
import { captureEndingOf, claimedResource, claimOfEnding, endingKey, endingOf, type EndingClaim } from './hold-endings';
import { postPayments } from './post-payment';
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
      kind: 'spec',
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
 * posted by the one payment route (post-payment.ts) as every plan is, its key claimed and the
 * hold ended under the hold's lock (hold-endings.ts captureEnding), so a cross-shard capture
 * continues as any cross-shard payment does (outbox row, credit on the payee's shard, the relay
 * after a crash).
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
  // The amount is the hold's, which never changes, unless the request names less: decided
  // again under the hold's lock (decideCapture), as it always was, with the deadline against
  // the clock read there (CaptureEnding.clock), not `now`.
  const plan = planCapture(hold, request.amount ?? hold.amount, payer, payee, request.idempotencyKey);
  const capture = captureEndingOf(ctx, hold, request.idempotencyKey, request.amount, now);
  const [captured] = await postPayments(ctx, [
    { plan, claim: { kind: 'capture', ...capture }, accounts: new Map(), quote: undefined },
  ]);
  if (!captured!.ok) return err(refusalOf(captured!.error, captureHoldErrorKinds));
  const ended = captured!.value.hold;
  assert(ended !== null, `capture of hold ${hold.id} answered without its hold`);
  return ok({ payment: captured!.value.payment, hold: ended });
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
  return releaseHold(shard, hold, 'VOIDED', { claim }, ctx.now);
}

/**
 * A void or an expiry: under the hold's lock, ends it if it is still HELD (VOIDED by a void
 * before its deadline, EXPIRED otherwise), then posts frozen → available. The release's posting
 * id is what the hold records as its ending: a void's is the resource its key claims, an
 * expiry's is given. A void that finds the hold HELD past its deadline releases it as its
 * expiry would (decideVoid's `overdue`), under a posting id of its own as the worker's, so that
 * a replay of the void finds the hold ended by another and answers HOLD_NOT_ACTIVE again. The
 * deadline is checked against `clock` read under the lock, not at the request's start: a void
 * that waited on the lock across the deadline finds the hold as readers saw it meanwhile, EXPIRED.
 */
export async function releaseHold(
  shard: Shard,
  hold: HoldRow,
  status: 'VOIDED' | 'EXPIRED',
  by: { claim: EndingClaim } | { releaseId: string },
  clock: () => Date,
): Promise<Result<HoldRow, VoidHoldError>> {
  const at = clock();
  let answer: Result<HoldRow, VoidHoldError> | null = null;
  return postOne<Result<HoldRow, VoidHoldError>>(
    shard,
    {
      kind: 'grouped',
      grouped: endingOf<Result<HoldRow, VoidHoldError>>({
        holdId: hold.id,
        claim: 'claim' in by ? by.claim : null,
        decide: async (_tx, locked, claimed) => {
          answer = null;
          const releaseId = 'releaseId' in by ? by.releaseId : claimedResource(claimed);
          if (releaseId === null) return { result: err(keyReused('claim' in by ? by.claim.spec : { key: '' })) };
          const now = clock();
          const decision = status === 'VOIDED' ? decideVoid(locked, releaseId, now) : decideExpiry(locked, now);
          if (decision.kind === 'refused') return { result: err(decision.error) };
          if (decision.kind === 'replayed') return { result: ok(locked) };
          const overdue = decision.kind === 'overdue';
          const endedBy = overdue ? newId('posting', shardOf('hold', hold.id)) : releaseId;
          const ending = { status: overdue ? 'EXPIRED' : status, endedBy, capturedAmount: 0n, endedAt: now } as const;
          answer = overdue ? err(decision.error) : ok({ ...locked, ...ending });
          return {
            ending,
            spec: holdReleaseSpec(
              { id: hold.id, currency: hold.currency, amount: hold.amount },
              endedBy,
              hold.payerAccountId,
            ),
          };
        },
      }),
      finish: async (_tx, outcome) => {
        switch (outcome.status) {
          case 'APPLIED':
            return answer!;
          case 'DUPLICATE':
          case 'REJECTED':
            // The release is a completion under the hold's lock, after the hold was found HELD:
            // its key cannot have been posted or refused before.
            throw new Error(`release of hold ${hold.id} answered ${outcome.status}`);
          default:
            return unreachable(outcome);
        }
      },
      at,
    },
    { now: () => at },
  );
}

/** A capture's answer: the payment, and the hold as the capture left it (what the answer's `hold` shows). */
export interface CapturedHold {
  payment: PaymentRow;
  hold: HoldRow;
}
