import { newId, shardOf } from '../../ids';
import { balanceMinorUnitsMax, balanceMinorUnitsMin } from '../../limits';
import { err, invariantBroken, ok, type Result } from '../../result';
import { totalOf, type Account, type AccountStatus } from './account';

/**
 * The pure rules of posting: given the locked state of the accounts, decide whether a posting
 * may apply and which entries it makes. No I/O here; the engine (engine/batch.ts) does the locking and
 * writing around it.
 */
export type Bucket = 'AVAILABLE' | 'FROZEN' | 'PENDING';

/**
 * What the rules read and move of each locked account. The posting engine hands them the whole
 * Account (store/postings.ts lockAndReadPrior); the rules move balances and the sequence in
 * place.
 */
export type PostingAccount = Pick<
  Account,
  'id' | 'type' | 'status' | 'currency' | 'available' | 'frozen' | 'pending' | 'lastSequence' | 'creditLimit'
>;

export interface Leg {
  accountId: string;
  bucket: Bucket;
  /** Signed: a credit is positive, a debit negative. */
  amount: bigint;
  /** For a debit: when `bucket` holds too little, the rest comes from this bucket. */
  fallbackBucket?: Bucket;
  /**
   * The leg's currency when it is not the posting's: an FX posting moves two currencies on one
   * shard (the payer's and the platform's FX position in one, the position and the payee or
   * clearing in the other), and balances in each (assertBalanced).
   */
  currency?: string;
}

export interface PostingSpec {
  id: string;
  kind: string;
  refId: string | null;
  /** A posting with a key that already exists on the shard is a no-op (exactly-once). */
  dedupeKey: string | null;
  /** The currency of every leg that names none (the payer's side, for an FX posting). */
  currency: string;
  legs: readonly Leg[];
  /**
   * Completes a movement whose first half already committed (money back from clearing to
   * a payer, say). Account status cannot stop it: the money is already on its way, and
   * leaving it in clearing would strand it.
   */
  completion?: boolean;
  /**
   * Set when the posting must no longer apply because the terms it was made under lapsed (an FX payment's replay
   * after its quote's deadline, services/post-payment.ts): the rules then refuse it with this, whatever the balances.
   * Its key's earlier outcome still comes first (a posting already made answers DUPLICATE, a refusal already kept
   * answers again), so it is decided under the same locks as the posting it stands for and the refusal is kept under
   * its key: of it and that posting racing, exactly one outcome is kept, and the other meets it.
   */
  lapsed?: LapsedTerms;
}

/**
 * A posting's refusal decided by its caller, not by the rules: the terms `termsId` lapsed at `lapsedAt` (ISO) before
 * it posted. `accountId`: the account it would have paid from, as every refusal names an account.
 */
export interface LapsedTerms {
  code: 'TERMS_LAPSED';
  accountId: string;
  termsId: string;
  lapsedAt: string;
}

export type PostingRejection =
  | { code: 'ACCOUNT_NOT_FOUND'; accountId: string }
  | { code: 'ACCOUNT_NOT_ACTIVE'; accountId: string; status: AccountStatus }
  | { code: 'CURRENCY_MISMATCH'; accountId: string; accountCurrency: string; postingCurrency: string }
  | { code: 'INSUFFICIENT_FUNDS'; accountId: string; available: bigint }
  /**
   * The posting would take a bucket, or the account's total (written as balance_after), past
   * what a BIGINT column holds. System accounts too: the reserve reads negative and deposits
   * push it further down.
   */
  | { code: 'BALANCE_LIMIT'; accountId: string; bucket: Bucket }
  | LapsedTerms;

export interface EntryDraft {
  id: string;
  accountId: string;
  sequence: bigint;
  postingId: string;
  bucket: Bucket;
  amount: bigint;
  direction: 'DEBIT' | 'CREDIT';
  balanceAfter: bigint;
  currency: string;
}

function fitsColumn(balance: bigint): boolean {
  return balance >= balanceMinorUnitsMin && balance <= balanceMinorUnitsMax;
}

/**
 * The lowest a client's bucket may be left by a debit: zero, except available, which a credit
 * line lets go down to −creditLimit (only a home row has one: stripes never go below zero).
 * System accounts have no floor (the reserve reads negative by design).
 */
function floorOf(state: PostingAccount, bucket: Bucket): bigint {
  return bucket === 'AVAILABLE' && state.creditLimit !== null ? -state.creditLimit : 0n;
}

function bucketKey(bucket: Bucket): 'available' | 'frozen' | 'pending' {
  return bucket === 'AVAILABLE' ? 'available' : bucket === 'FROZEN' ? 'frozen' : 'pending';
}

/** A leg as one or two single-bucket movements, splitting a debit across its fallback. */
function movements(leg: Leg, state: PostingAccount): Array<{ bucket: Bucket; amount: bigint }> {
  const held = state[bucketKey(leg.bucket)];
  if (leg.amount >= 0n || leg.fallbackBucket === undefined || held + leg.amount >= 0n) {
    return [{ bucket: leg.bucket, amount: leg.amount }];
  }
  const fromPrimary = held > 0n ? held : 0n;
  const rest = -leg.amount - fromPrimary;
  const parts = [{ bucket: leg.fallbackBucket, amount: -rest }];
  return fromPrimary > 0n ? [{ bucket: leg.bucket, amount: -fromPrimary }, ...parts] : parts;
}

/**
 * Checks a posting against the states and, when it may apply, updates the states in place
 * and returns its entries. A rejected posting leaves every state untouched.
 */
export function applyPosting(
  states: Map<string, PostingAccount>,
  spec: PostingSpec,
): Result<EntryDraft[], PostingRejection> {
  assertBalanced(spec);
  if (spec.lapsed) return err(spec.lapsed);
  const planned = new Map<string, PostingAccount>();
  const drafts: Array<Omit<EntryDraft, 'id' | 'sequence' | 'balanceAfter'>> = [];
  for (const leg of spec.legs) {
    const current = planned.get(leg.accountId) ?? states.get(leg.accountId);
    if (!current) return err({ code: 'ACCOUNT_NOT_FOUND', accountId: leg.accountId });
    if (current.status !== 'ACTIVE' && !spec.completion)
      return err({ code: 'ACCOUNT_NOT_ACTIVE', accountId: leg.accountId, status: current.status });
    const currency = leg.currency ?? spec.currency;
    if (current.currency !== currency) {
      return err({
        code: 'CURRENCY_MISMATCH',
        accountId: leg.accountId,
        accountCurrency: current.currency,
        postingCurrency: currency,
      });
    }
    const next = { ...current };
    for (const move of movements(leg, current)) {
      const key = bucketKey(move.bucket);
      next[key] += move.amount;
      // Only a debit is held to the floor: money arriving is always taken, also by an account
      // whose limit was lowered below its debt (it repays that debt, by construction).
      if (next.type !== 'SYSTEM' && move.amount < 0n && next[key] < floorOf(next, move.bucket)) {
        return err({ code: 'INSUFFICIENT_FUNDS', accountId: leg.accountId, available: current[bucketKey(leg.bucket)] });
      }
      if (!fitsColumn(next[key]) || !fitsColumn(totalOf(next)))
        return err({ code: 'BALANCE_LIMIT', accountId: leg.accountId, bucket: move.bucket });
      drafts.push({
        accountId: leg.accountId,
        postingId: spec.id,
        bucket: move.bucket,
        amount: move.amount,
        direction: move.amount < 0n ? 'DEBIT' : 'CREDIT',
        currency,
      });
    }
    planned.set(leg.accountId, next);
  }
  return ok(commitDrafts(states, drafts));
}

/** Numbers the entries per account and writes the new balances into the states. */
function commitDrafts(
  states: Map<string, PostingAccount>,
  drafts: Array<Omit<EntryDraft, 'id' | 'sequence' | 'balanceAfter'>>,
): EntryDraft[] {
  return drafts.map((draft) => {
    const state = states.get(draft.accountId)!;
    state[bucketKey(draft.bucket)] += draft.amount;
    state.lastSequence += 1n;
    return {
      ...draft,
      id: newId('entry', shardOf('account', state.id)),
      sequence: state.lastSequence,
      balanceAfter: totalOf(state),
    };
  });
}

/** A posting whose legs do not sum to zero in each currency is a bug in its caller, never a user error. */
export function assertBalanced(spec: PostingSpec): void {
  if (spec.legs.length < 2) invariantBroken(`posting ${spec.id} has fewer than two legs`);
  const sums = new Map<string, bigint>();
  for (const leg of spec.legs) {
    if (leg.amount === 0n) invariantBroken(`posting ${spec.id} has a zero leg`);
    const currency = leg.currency ?? spec.currency;
    sums.set(currency, (sums.get(currency) ?? 0n) + leg.amount);
  }
  for (const [currency, sum] of sums) {
    if (sum !== 0n) invariantBroken(`posting ${spec.id} sums to ${sum} ${currency}, not zero`);
  }
}
