import type { Identity } from './identity';
import type { Result } from './result';

/**
 * The access rules every part shares, and the refusal they answer. Each part asks them only
 * through its own `services/access.ts` (the one module of its predicates: who may read, write,
 * operate), and only its services ask that module; resolvers answer a refusal, never decide one
 * (test/access-shape.test.ts keeps this shape).
 *
 * Roles (identity.ts): operators may do anything; customers and merchants act on their own
 * accounts; partners may read (and subscribe to) their own accounts but never move money;
 * channels own no accounts and read none (see channelRule).
 */

/**
 * A caller refused on authorization grounds. Services decide it and return it as a value; the
 * resolver edge answers it as the top-level FORBIDDEN error (graphql/errors.ts `allowed`),
 * never as a union member: the client did not get to ask a business question.
 */
export interface Forbidden {
  kind: 'Forbidden';
  message: string;
}

export function forbiddenBecause(message: string): Forbidden {
  return { kind: 'Forbidden', message };
}

/** What a read the caller may be refused answers: the value (null when there is none), or why not. */
export type Readable<T> = Result<T | null, Forbidden>;

/**
 * The channel rule, written here once for every part: a channel is the bank or card integration
 * that confirms money arriving from outside. It owns no accounts and reads none (so it registers
 * no webhooks and opens, follows or lists nothing); it records deposits into any client account
 * (mayRecordDeposit) and sees the balance its own deposit answers with (mayReadBalance).
 */
function channelRule(identity: Identity): boolean {
  return identity.role === 'channel';
}

/** The channel a channel's token records movements for (its subject); null for every other role (channelRule). */
export function ownChannelOf(identity: Identity): string | null {
  return channelRule(identity) ? identity.sub : null;
}

/** Whoever reads accounts at all: everyone but channels (channelRule). */
export function readsAccounts(identity: Identity): boolean {
  return !channelRule(identity);
}

/** Operators, the platform's back office, read and act on every account, a missing one included. */
export function readsEveryAccount(identity: Identity): boolean {
  return identity.role === 'operator';
}

/** Reading an account owned by ownerId: its owner (not a channel) and operators. */
export function mayRead(identity: Identity, ownerId: string): boolean {
  return readsAccounts(identity) && (readsEveryAccount(identity) || identity.sub === ownerId);
}

/**
 * Moving money an account already holds (payments, withdrawals, refunds, holds), not minting it: partners and channels
 * never.
 */
export function mayWrite(identity: Identity, ownerId: string): boolean {
  if (identity.role === 'partner') return false;
  return mayRead(identity, ownerId);
}

/**
 * A deposit records money that arrived from outside; it creates a balance the platform owes.
 * Only the integration that saw the funds arrive (a channel) or an operator may say so:
 * an account holder who could would mint money into its own account.
 */
export function mayRecordDeposit(identity: Identity): boolean {
  return readsEveryAccount(identity) || channelRule(identity);
}

/**
 * The balance in a deposit's answer (Deposit.account.balance): a channel sees the balance of
 * the account it just credited, to confirm the funds landed; nothing else of the account.
 */
export function mayReadBalance(identity: Identity, ownerId: string): boolean {
  return channelRule(identity) || mayRead(identity, ownerId);
}
