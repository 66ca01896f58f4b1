import { forbiddenBecause, type Forbidden, type Readable } from '@paygraph/shared/authorization';
import { mayRead, type Identity } from '@paygraph/shared/identity';
import { ok, err } from '@paygraph/shared/result';
import type { SettlementContext } from '../context';
import type { SettlementRow } from '../db/schema/settlement';
import { merchantOwner, merchantSettlements, settlementWithOwner } from './settlements';

/** Settlements, reconciliation and ledger health are operators' tools (SECURITY.md). */
export function operatorOnly(identity: Identity, what: string): Forbidden | null {
  return identity.role === 'operator' ? null : forbiddenBecause(`only operators may ${what}`);
}

/** A settlement the caller may read (an operator, or the merchant's owner), null when there is none. */
export async function readableSettlement(ctx: SettlementContext, id: string): Promise<Readable<SettlementRow>> {
  const found = await settlementWithOwner(ctx, id);
  if (!found) return ok(null);
  if (found.ownerId === null || !mayRead(ctx.identity, found.ownerId)) return err(forbiddenBecause(`settlement ${id} is not yours`));
  return ok(found.row);
}

/** A merchant's settlements for its owner and operators; null when the id names no merchant's home row. */
export async function readableMerchantSettlements(ctx: SettlementContext, accountId: string, first: number | null | undefined): Promise<Readable<SettlementRow[]>> {
  const owner = await merchantOwner(ctx, accountId);
  if (owner === null) return ok(null);
  if (!mayRead(ctx.identity, owner)) return err(forbiddenBecause(`you may not read the settlements of account ${accountId}`));
  return ok(await merchantSettlements(ctx.shards, accountId, first));
}
