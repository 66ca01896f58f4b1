import { forbidden } from '@paygraph/shared/graphql/errors';
import { mayRead } from '@paygraph/shared/identity';
import type { SettlementContext } from '../context';
import type { SettlementRow } from '../db/schema/settlement';
import { settlementWithOwner } from '../services/settlements';

export function requireOperator(ctx: SettlementContext, what: string): void {
  if (ctx.identity.role !== 'operator') throw forbidden(`only operators may ${what}`);
}

/** A settlement the caller may read (an operator, or the merchant's owner), null when there is none. */
export async function readableSettlement(ctx: SettlementContext, id: string): Promise<SettlementRow | null> {
  const found = await settlementWithOwner(ctx, id);
  if (!found) return null;
  if (found.ownerId === null || !mayRead(ctx.identity, found.ownerId)) throw forbidden(`settlement ${id} is not yours`);
  return found.row;
}
