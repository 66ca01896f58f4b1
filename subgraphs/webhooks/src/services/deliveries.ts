import type { ShardSet } from '@paygraph/shared/shards/pool';
import { deliveriesPage } from '../db/deliveries';
import type { DeliveryRow } from '../db/schema/webhooks';
import { deliveriesPageMax } from '../limits';
import { assert } from '@paygraph/shared/result';
import { encodeDeliveryCursor, type DeliveryPosition } from '../domain/delivery-cursor';

/**
 * An endpoint's deliveries, newest event first, across the shards of the accounts it follows:
 * each shard gives its first+1 newest before the cursor and the lists are merged. The cursor is
 * the last row's (createdAt, id), so pages neither repeat nor skip.
 */
export interface DeliveryPage {
  rows: DeliveryRow[];
  hasNextPage: boolean;
  cursorOf(row: DeliveryRow): string;
}

/** `first` within deliveriesPageMax and `before` decoded from a cursor by the resolver (domain/delivery-cursor.ts). */
export async function endpointDeliveries(
  shards: ShardSet,
  endpointId: string,
  first: number,
  before: DeliveryPosition | null,
): Promise<DeliveryPage> {
  assert(Number.isInteger(first) && first >= 0 && first <= deliveriesPageMax, `a delivery page of ${first}`);
  const rows = (
    await Promise.all(shards.all.map((shard) => deliveriesPage(shard.db, endpointId, before, first + 1)))
  ).flat();
  rows.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  return { rows: rows.slice(0, first), hasNextPage: rows.length > first, cursorOf: (row) => encodeDeliveryCursor(row) };
}
