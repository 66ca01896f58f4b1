import {
  forbiddenBecause,
  mayRead,
  readsAccounts,
  readsEveryAccount,
  type Forbidden,
} from '@paygraph/shared/authorization';
import { isRole, type Identity } from '@paygraph/shared/identity';
import type { EndpointRow } from '../db/schema/webhooks';

/**
 * Who may do what with webhooks: the webhooks part's one module of predicates, built on the
 * shared rules (shared/src/authorization.ts), the channel rule included. Whoever may read
 * accounts (their owners: partners, customers, merchants; operators any) may register endpoints
 * for the accounts it may read and manage its own endpoints; operators manage any; channels read
 * no accounts, so they have no endpoints. An endpoint receives the events its owner may read.
 * The refusals (Forbidden or null) are asked by the services, which return them as values.
 */

/** Registering an endpoint: whoever reads accounts. */
export function mayRegisterEndpoints(identity: Identity): Forbidden | null {
  return readsAccounts(identity)
    ? null
    : forbiddenBecause(`a ${identity.role} reads no accounts, so it registers no webhooks`);
}

/** Listing or naming endpoints at all: whoever reads accounts (a channel has none). */
export function mayHaveEndpoints(identity: Identity): Forbidden | null {
  return readsAccounts(identity) ? null : forbiddenBecause('channels have no webhook endpoints');
}

/** An account an endpoint names: its owner's and operators'. */
export function mayFollowAccount(identity: Identity, account: { id: string; ownerId: string }): Forbidden | null {
  return mayRead(identity, account.ownerId) ? null : forbiddenBecause(`account ${account.id} is not yours`);
}

/**
 * A named account that is not there is refused like someone else's, except to operators (who learn AccountNotFound).
 */
export function mayTouchMissing(identity: Identity, accountId: string): Forbidden | null {
  return readsEveryAccount(identity) ? null : forbiddenBecause(`account ${accountId} is not yours`);
}

/** Reading, disabling, rotating and redelivering an endpoint: its owner and operators. */
export function mayManageEndpoint(identity: Identity, endpoint: { id: string; ownerId: string }): Forbidden | null {
  return mayRead(identity, endpoint.ownerId) ? null : forbiddenBecause(`webhook endpoint ${endpoint.id} is not yours`);
}

/**
 * The owners whose accounts an endpoint naming none follows: the caller's own, or every owner's (null) for an operator.
 */
export function ownersFollowedBy(identity: Identity): string[] | null {
  return readsEveryAccount(identity) ? null : [identity.sub];
}

/** Who registered an endpoint, as the rules read it (its role as stored then). */
function ownerOf(endpoint: Pick<EndpointRow, 'ownerId' | 'ownerRole'>): Identity | null {
  return isRole(endpoint.ownerRole) ? { sub: endpoint.ownerId, role: endpoint.ownerRole } : null;
}

/** An endpoint naming no accounts follows every account when its owner reads every account (an operator's). */
export function followsEveryAccount(endpoint: Pick<EndpointRow, 'ownerId' | 'ownerRole'>): boolean {
  const owner = ownerOf(endpoint);
  return owner !== null && readsEveryAccount(owner);
}

/** Whether an endpoint naming no accounts receives an account's events: its owner may read the account. */
export function receivesEventsOf(
  endpoint: Pick<EndpointRow, 'ownerId' | 'ownerRole'>,
  account: { ownerId: string },
): boolean {
  const owner = ownerOf(endpoint);
  return owner !== null && mayRead(owner, account.ownerId);
}
