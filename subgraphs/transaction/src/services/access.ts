import {
  forbiddenBecause,
  mayRead,
  mayRecordDeposit,
  mayWrite,
  ownChannelOf,
  readsEveryAccount,
  type Forbidden,
} from '@paygraph/shared/authorization';
import type { Identity } from '@paygraph/shared/identity';

/**
 * Who may move or read what of this part: the transaction part's one module of predicates,
 * built on the shared rules (shared/src/authorization.ts). Each answers a refusal (Forbidden) or
 * null; the services ask them and return a refusal as a value, with nothing written, and the
 * resolvers answer it as the top-level FORBIDDEN error. Moving money an account holds is its
 * owner's (customers and merchants) and operators'; partners and channels move none; a deposit
 * is a channel's or an operator's; a payment, its refunds and a hold are readable by an operator
 * and by the owners of their payer and payee accounts.
 */

/** An account's owner, as the predicates need it. */
type Owned = { id: string; ownerId: string };

/** Paying from an account (plain, split, discounted and FX payments alike). */
export function mayPayFrom(identity: Identity, payer: Owned): Forbidden | null {
  return mayWrite(identity, payer.ownerId) ? null : forbiddenBecause(`account ${payer.id} is not yours to pay from`);
}

/** Holding money on an account (authorizing now, capturing later). */
export function mayHoldFrom(identity: Identity, payer: Owned): Forbidden | null {
  return mayWrite(identity, payer.ownerId)
    ? null
    : forbiddenBecause(`account ${payer.id} is not yours to hold money from`);
}

/**
 * Capturing or voiding a hold (`verb`): its payer's owner or an operator; a payer account not there refuses everyone.
 */
export function mayEndHold(
  identity: Identity,
  holdId: string,
  payer: Owned | undefined,
  verb: string,
): Forbidden | null {
  return payer && mayWrite(identity, payer.ownerId)
    ? null
    : forbiddenBecause(`only the payer's owner or an operator may ${verb} hold ${holdId}`);
}

/**
 * Refunding a payment: its payee's owner or an operator (the payer gets its money back, it does not take it). A refund
 * takes money back from every receiving leg, the splits' too, so a payee's owner may refund only a payment whose
 * splits all paid accounts it owns: a split credited to another owner is that owner's money, which the payee's owner
 * may not take back (nor, by the refund's top-up, draw from its other rows and credit line), and such a payment is
 * refunded by an operator. An account not there owns nothing: it refuses everyone.
 */
export function mayRefund(
  identity: Identity,
  payee: Owned | undefined,
  splits: ReadonlyArray<Owned | undefined>,
): Forbidden | null {
  if (!payee || !mayWrite(identity, payee.ownerId))
    return forbiddenBecause('only the payee or an operator may refund a payment');
  return splits.every((split) => split && mayWrite(identity, split.ownerId))
    ? null
    : forbiddenBecause('only an operator may refund a payment that paid a split to an account of another owner');
}

/** Recording a deposit: money that arrived from outside, said by a channel or an operator (shared mayRecordDeposit). */
export function mayDeposit(identity: Identity): Forbidden | null {
  return mayRecordDeposit(identity)
    ? null
    : forbiddenBecause(
        'deposits are recorded by an operator or a channel (the bank or card integration that received the funds)',
      );
}

/** Withdrawing from an account to the bank: its owner's money, so its owner (or an operator). */
export function mayWithdrawFrom(identity: Identity, account: Owned): Forbidden | null {
  return mayWrite(identity, account.ownerId) ? null : forbiddenBecause(`account ${account.id} is not yours`);
}

/**
 * The owner whose links a withdrawal naming no linked account is held to (services/external-accounts.ts
 * `unnamedPayoutRefusal`: refused once any of them was ever verified), known before its account is read: a customer's or merchant's own (its sub, the account's
 * owner, or mayWithdrawFrom refuses it). An operator's is not held: an operator verifies links itself, so making it
 * name one guards nothing against it. Partners and channels withdraw nothing. Null: not held.
 */
export function payoutHeldToLinksOf(identity: Identity): string | null {
  return mayWrite(identity, identity.sub) && !readsEveryAccount(identity) ? identity.sub : null;
}

/** Funding a campaign from an account: its discounts are paid from it. */
export function mayFundCampaignFrom(identity: Identity, funding: Owned): Forbidden | null {
  return mayWrite(identity, funding.ownerId)
    ? null
    : forbiddenBecause(`account ${funding.id} is not yours to fund a campaign from`);
}

/** A campaign: its funding account's owner and operators; a funding account not there refuses everyone. */
export function mayReadCampaign(identity: Identity, campaignId: string, funding: Owned | undefined): Forbidden | null {
  return funding && mayRead(identity, funding.ownerId) ? null : forbiddenBecause(`campaign ${campaignId} is not yours`);
}

/**
 * A payment, a refund (through its payment) or a hold (`what` names it): operators, and the
 * owners of its payer and payee accounts. The owners are read only when the role alone does
 * not decide (an operator's read costs no account read); an account not there owns nothing.
 */
export async function mayReadBetween(
  identity: Identity,
  what: string,
  owners: () => Promise<ReadonlyArray<string | null>>,
): Promise<Forbidden | null> {
  if (readsEveryAccount(identity)) return null;
  return (await owners()).some((owner) => owner !== null && mayRead(identity, owner))
    ? null
    : forbiddenBecause(`${what} is not yours`);
}

/** An account's payments or holds (`what`): its owner and operators. */
export function mayListOf(identity: Identity, account: Owned, what: string): Forbidden | null {
  return mayRead(identity, account.ownerId)
    ? null
    : forbiddenBecause(`you may not read the ${what} of account ${account.id}`);
}

/** Asking for an FX quote: whoever may pay (customers, merchants, operators); partners and channels move no money. */
export function mayQuote(identity: Identity): Forbidden | null {
  const pays = identity.role === 'customer' || identity.role === 'merchant' || identity.role === 'operator';
  return pays ? null : forbiddenBecause(`a ${identity.role} token may not ask for FX quotes`);
}

/** A quote is its maker's alone: anyone else, an operator too, is refused. */
export function mayReadQuote(identity: Identity, quote: { id: string; createdBy: string }): Forbidden | null {
  return quote.createdBy === identity.sub ? null : forbiddenBecause(`quote ${quote.id} is not yours`);
}

/** Setting FX rates: operators. */
export function maySetFxRates(identity: Identity): Forbidden | null {
  return readsEveryAccount(identity) ? null : forbiddenBecause('only operators set FX rates');
}

/** The platform's FX positions: operators. */
export function mayReadFxPositions(identity: Identity): Forbidden | null {
  return readsEveryAccount(identity) ? null : forbiddenBecause('only operators read the FX positions');
}

/**
 * The channel a deposit or withdrawal is recorded for when a channel's token sends it (its own), or null: any other
 * caller names it.
 */
export function callerChannel(identity: Identity): string | null {
  return ownChannelOf(identity);
}

/**
 * Linking an external account for an owner, unlinking one, reading an owner's links: the owner itself (a customer or
 * merchant, its own ownerId) or an operator; partners and channels never.
 */
export function mayManageLinksOf(identity: Identity, ownerId: string): Forbidden | null {
  return mayWrite(identity, ownerId) ? null : forbiddenBecause(`the linked accounts of ${ownerId} are not yours`);
}

/**
 * Unlinking a stored link: as mayManageLinksOf, but the refusal names the link, never its owner: the caller sent only
 * the link's id, and another party's ownerId is never in an answer.
 */
export function mayManageLink(identity: Identity, link: { id: string; ownerId: string }): Forbidden | null {
  return mayWrite(identity, link.ownerId) ? null : forbiddenBecause(`linked account ${link.id} is not yours`);
}

/** Reading an owner's links and portfolio: the owner and operators. */
export function mayReadLinksOf(identity: Identity, ownerId: string): Forbidden | null {
  return mayRead(identity, ownerId) ? null : forbiddenBecause(`the accounts of ${ownerId} are not yours to read`);
}

/**
 * An owner's portfolio (every account, link and total of it): the owner and operators. Another owner's is refused
 * whether or not it has any account, so the answer tells nothing of it.
 */
export function mayReadPortfolioOf(identity: Identity, ownerId: string): Forbidden | null {
  return mayRead(identity, ownerId) ? null : forbiddenBecause(`the portfolio of ${ownerId} is not yours to read`);
}

/**
 * Verifying a link, or reporting the balance its provider holds: the channel the link is at (its own token) or an
 * operator. Never the owner: a customer who could verify its own link would choose where payouts go unchecked.
 */
export function mayActAsChannelOf(identity: Identity, link: { id: string; channel: string }): Forbidden | null {
  if (readsEveryAccount(identity)) return null;
  const own = ownChannelOf(identity);
  return own !== null && own === link.channel
    ? null
    : forbiddenBecause(`only channel ${link.channel} or an operator may decide linked account ${link.id}`);
}

/** Whether the caller is a channel's token at all (a report from another channel is refused as input). */
export function isChannelCaller(identity: Identity): boolean {
  return ownChannelOf(identity) !== null;
}
