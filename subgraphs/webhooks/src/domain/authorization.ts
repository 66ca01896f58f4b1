import type { Identity } from '@paygraph/shared/identity';

/**
 * Who may do what with webhooks: whoever may read accounts (their owners: partners, customers,
 * merchants; operators any) may register endpoints for the accounts it may read, and manage its
 * own endpoints; operators manage any. Channels read no accounts, so they register nothing.
 */
export function mayRegisterEndpoints(identity: Identity): boolean {
  return identity.role !== 'channel';
}

export function mayReadAccount(identity: Identity, account: { ownerId: string }): boolean {
  return identity.role === 'operator' || account.ownerId === identity.sub;
}

export function mayManageEndpoint(identity: Identity, endpoint: { ownerId: string }): boolean {
  return identity.role === 'operator' || (identity.role !== 'channel' && endpoint.ownerId === identity.sub);
}
