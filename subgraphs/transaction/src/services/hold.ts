import { forbidden } from '@paygraph/shared/graphql/errors';
import { mayWrite } from '@paygraph/shared/identity';
import { newId, parseId } from '@paygraph/shared/ids';
import { postOne } from '@paygraph/shared/ledger/post';
import type { Shard } from '@paygraph/shared/shards/pool';
import { err, ok, unreachable, type Result } from '@paygraph/shared/result';
import { countMoneyMovement } from '@paygraph/shared/metrics';
import { deferHold, endHold, holdsByIds, lockHold, reopenHold } from '../db/holds';
import { paymentsByIds } from '../db/payments';
import type { HoldRow, PaymentRow } from '../db/schema/transactions';
import type { MoneyError } from '../domain/errors';
import { decideCapture, decideExpiry, decideVoid, holdExpiresAt } from '../domain/hold-rules';
import {
  parseCaptureHold, parseCreateHold, parseVoidHold, type CaptureHoldInput, type CreateHoldInput, type VoidHoldInput,
} from '../domain/inputs';
import { holdCaptureSpec, holdReleaseSpec, holdSpec } from '../domain/legs';
import { requestHash } from '../domain/request-hash';
import { readAccounts, shardOfAccount } from './accounts';
import { claimKey } from './idempotency';
import { recordOutcome } from './record-outcome';
import { checkPayee, clientAccount, creditAcrossShards, deferNewPayment, newPaymentRow, routeBetween } from './payment';
import type { ServiceContext } from './context';

/**
 * Holds: authorize now, capture or void later (TigerBeetle's pending transfers are the model).
 * A hold lives on its payer's shard with its postings, and every step is one local posting
 * there through merged posting: the hold moves available → frozen; its capture moves frozen →
 * the payee as a Payment (then the payment's usual route) and the rest back to available; a
 * void or an expiry moves frozen → available. Each ending serialises on the hold row under its
 * lock in `prepare`, as refunds do on their payment, so exactly one ending wins.
 */
export async function createHold(ctx: ServiceContext, input: CreateHoldInput): Promise<Result<HoldRow, MoneyError>> {
  const result = await attemptHold(ctx, input);
  // Every answer counted by outcome (metrics.ts): the status written, or the error's kind.
  countMoneyMovement('hold', result.ok ? result.value.status : result.error.kind);
  return result;
}

async function attemptHold(ctx: ServiceContext, input: CreateHoldInput): Promise<Result<HoldRow, MoneyError>> {
  const parsed = parseCreateHold(input, ctx.amountMax);
  if (!parsed.ok) return parsed;
  const request = parsed.value;
  const found = await readAccounts(ctx.shards, [request.payerAccountId, request.payeeAccountId]);
  const payer = clientAccount(found, request.payerAccountId);
  if (!payer) return err({ kind: 'AccountNotFound', accountId: request.payerAccountId });
  if (!mayWrite(ctx.identity, payer.ownerId)) throw forbidden(`account ${payer.id} is not yours to hold money from`);
  const payee = clientAccount(found, request.payeeAccountId);
  if (!payee) return err({ kind: 'AccountNotFound', accountId: request.payeeAccountId });
  const early = checkPayee(payee, request);
  if (early) return err(early);
  const ttlSeconds = request.expiresInSeconds ?? ctx.holdTtlSeconds;
  const hash = requestHash('HOLD', {
    payer: payer.id, payee: payee.id, amount: request.amount, currency: request.currency,
    description: request.description, expiresInSeconds: request.expiresInSeconds === null ? null : String(request.expiresInSeconds),
  });
  const logical = parseId('account', payer.id)!.shard;
  const now = ctx.now();
  // The key lives with the record it guards: the hold, on the payer's shard.
  const claim = await claimKey(ctx.shards, {
    callerId: ctx.identity.sub, anchor: { kind: 'account', id: payer.id }, key: request.idempotencyKey, operation: 'HOLD', hash,
    newResourceId: () => newId('hold', logical),
  }, now);
  if (claim.kind === 'reused') return err({ kind: 'IdempotencyKeyReused', idempotencyKey: request.idempotencyKey });
  const id = claim.resourceId;
  const row: HoldRow = {
    id, payerAccountId: payer.id, payeeAccountId: payee.id, amount: request.amount, capturedAmount: 0n, currency: request.currency,
    status: 'HELD', endedBy: null, description: request.description, createdBy: ctx.identity.sub,
    expiresAt: holdExpiresAt(now, ttlSeconds), createdAt: now, endedAt: null,
  };
  // No read before the posting: a replay meets the hold posting's dedupe key under the payer's
  // lock and answers DUPLICATE, which reads the hold back.
  return postOne<Result<HoldRow, MoneyError>>(shardOfAccount(ctx.shards, payer.id), {
    spec: holdSpec({ id, currency: request.currency, amount: request.amount }, newId('posting', logical), payer.id),
    finish: (tx, outcome, _accounts, deferred) => recordOutcome(outcome, {
      id,
      applied: () => (deferHold(deferred, row), row),
      existing: async () => (await holdsByIds(tx, [id]))[0],
    }),
    at: now,
  }, { now: () => now });
}

/** The hold's shard and its row as it is now (unlocked: for authorization and early refusals). */
async function findHold(ctx: ServiceContext, holdId: string): Promise<{ shard: Shard; hold: HoldRow } | null> {
  const shard = ctx.shards.byLogical(parseId('hold', holdId)!.shard);
  const [hold] = await holdsByIds(shard.db, [holdId]);
  return hold ? { shard, hold } : null;
}

/** The payer's owner or an operator may capture or void; anyone else is refused outright. */
async function authorizeEnding(ctx: ServiceContext, hold: HoldRow, verb: string) {
  const found = await readAccounts(ctx.shards, [hold.payerAccountId, hold.payeeAccountId]);
  const payer = found.get(hold.payerAccountId);
  if (!payer || !mayWrite(ctx.identity, payer.ownerId)) throw forbidden(`only the payer's owner or an operator may ${verb} hold ${hold.id}`);
  return { payer, payee: found.get(hold.payeeAccountId) };
}

/**
 * Pays up to the held amount to the payee as a Payment and returns the rest to available. The
 * capture is the payment's debit, so a cross-shard capture continues as any cross-shard payment
 * does (outbox row, credit on the payee's shard, the relay after a crash).
 */
export async function captureHold(ctx: ServiceContext, input: CaptureHoldInput): Promise<Result<PaymentRow, MoneyError>> {
  const parsed = parseCaptureHold(input, ctx.amountMax);
  if (!parsed.ok) return parsed;
  const request = parsed.value;
  const found = await findHold(ctx, request.holdId);
  if (!found) return err({ kind: 'HoldNotFound', holdId: request.holdId });
  const { shard, hold } = found;
  const { payer, payee } = await authorizeEnding(ctx, hold, 'capture');
  if (!payee) return err({ kind: 'AccountNotFound', accountId: hold.payeeAccountId });
  if (request.amount !== null && request.amount > hold.amount) return err({ kind: 'CaptureExceedsHold', holdId: hold.id, held: hold.amount });
  const hash = requestHash('CAPTURE_HOLD', { hold: hold.id, amount: request.amount });
  const now = ctx.now();
  const claim = await claimKey(ctx.shards, {
    callerId: ctx.identity.sub, anchor: { kind: 'hold', id: hold.id }, key: request.idempotencyKey, operation: 'CAPTURE_HOLD', hash,
    newResourceId: () => newId('payment', parseId('hold', hold.id)!.shard),
  }, now);
  if (claim.kind === 'reused') return err({ kind: 'IdempotencyKeyReused', idempotencyKey: request.idempotencyKey });
  const route = await routeBetween(ctx, payer, payee, hold.currency);
  const paymentId = claim.resourceId;
  const postingId = newId('posting', parseId('payment', paymentId)!.shard);
  let ended = false;
  let capturedAmount = 0n;
  const captured = await postOne<Result<PaymentRow, MoneyError>>(shard, {
    prepare: async (tx) => {
      ended = false;
      const locked = (await lockHold(tx, hold.id))!;
      const decided = decideCapture(locked, paymentId, request.amount, now);
      if (!decided.ok) return { proceed: false, result: decided };
      const { decision, amount } = decided.value;
      if (decision.kind === 'refused') return { proceed: false, result: err(decision.error) };
      if (decision.kind === 'replayed') return { proceed: false, result: ok((await paymentsByIds(tx, [paymentId]))[0]!) };
      await endHold(tx, hold.id, { status: 'CAPTURED', endedBy: paymentId, capturedAmount: amount, endedAt: now });
      ended = true;
      capturedAmount = amount;
      const spec = holdCaptureSpec({ id: hold.id, currency: hold.currency, amount: hold.amount }, { id: paymentId, currency: hold.currency, amount },
        postingId, hold.payerAccountId, route.creditAccountId, route.route === 'MERCHANT_STRIPE' ? 'PENDING' : 'AVAILABLE');
      return { proceed: true, spec };
    },
    finish: async (tx, outcome, _accounts, deferred) => {
      // The hold stays HELD: a refused capture (the payee closed meanwhile) ends nothing.
      if (outcome.status === 'REJECTED' && ended) await reopenHold(tx, hold.id);
      return recordOutcome(outcome, {
        id: paymentId,
        applied: () => deferNewPayment(deferred, newPaymentRow(ctx, { id: paymentId, payer: hold.payerAccountId, payee: hold.payeeAccountId,
          route: route.route, creditAccountId: route.creditAccountId, amount: capturedAmount, currency: hold.currency, description: hold.description }, now)),
        existing: async () => (await paymentsByIds(tx, [paymentId]))[0],
      });
    },
    at: now,
  }, { now: () => now });
  if (!captured.ok || captured.value.status !== 'PROCESSING') return captured;
  return ok(await creditAcrossShards(ctx, captured.value, 'capture-after-debit'));
}

/** Returns the held amount to the payer's available balance. */
export async function voidHold(ctx: ServiceContext, input: VoidHoldInput): Promise<Result<HoldRow, MoneyError>> {
  const parsed = parseVoidHold(input);
  if (!parsed.ok) return parsed;
  const request = parsed.value;
  const found = await findHold(ctx, request.holdId);
  if (!found) return err({ kind: 'HoldNotFound', holdId: request.holdId });
  const { shard, hold } = found;
  await authorizeEnding(ctx, hold, 'void');
  const hash = requestHash('VOID_HOLD', { hold: hold.id });
  const now = ctx.now();
  // Capture and void keys live with the hold (on the payer's shard). The claim names the releasing posting: a replay finds it as the hold's ending.
  const claim = await claimKey(ctx.shards, {
    callerId: ctx.identity.sub, anchor: { kind: 'hold', id: hold.id }, key: request.idempotencyKey, operation: 'VOID_HOLD', hash,
    newResourceId: () => newId('posting', parseId('hold', hold.id)!.shard),
  }, now);
  if (claim.kind === 'reused') return err({ kind: 'IdempotencyKeyReused', idempotencyKey: request.idempotencyKey });
  return releaseHold(shard, hold, 'VOIDED', claim.resourceId, now);
}

/**
 * A void or an expiry: under the hold's lock, ends it if it is still HELD (and, for a void,
 * before its deadline), then posts frozen → available. `releaseId` is the posting's id and
 * what the hold records as its ending.
 */
export async function releaseHold(shard: Shard, hold: HoldRow, status: 'VOIDED' | 'EXPIRED', releaseId: string, now: Date): Promise<Result<HoldRow, MoneyError>> {
  let ended: HoldRow | null = null;
  return postOne<Result<HoldRow, MoneyError>>(shard, {
    prepare: async (tx) => {
      ended = null;
      const locked = (await lockHold(tx, hold.id))!;
      const decision = status === 'VOIDED' ? decideVoid(locked, releaseId, now) : decideExpiry(locked, now);
      if (decision.kind === 'refused') return { proceed: false, result: err(decision.error) };
      if (decision.kind === 'replayed') return { proceed: false, result: ok(locked) };
      const ending = { status, endedBy: releaseId, capturedAmount: 0n, endedAt: now };
      await endHold(tx, hold.id, ending);
      ended = { ...locked, ...ending };
      return { proceed: true, spec: holdReleaseSpec({ id: hold.id, currency: hold.currency, amount: hold.amount }, releaseId, hold.payerAccountId) };
    },
    finish: async (tx, outcome) => {
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
  }, { now: () => now });
}
