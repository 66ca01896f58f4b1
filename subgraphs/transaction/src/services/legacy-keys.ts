import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { parseId, type IdKind } from '@paygraph/shared/ids';
import type { DataStep } from '@paygraph/shared/db/migrate';
import {
  deleteLegacyKeys,
  legacyKeys,
  placeKeys,
  type IdempotencyRow,
  type KeyAnchor,
} from '@paygraph/shared/idempotency/index';
import { externalTransfersByIds, paymentsByIds, refundsByIds } from '../db/payments';
import { log } from '@paygraph/shared/log';
import { pushTo } from '@paygraph/shared/collections';
import { legacyKeyPageRowsMax } from '../limits';

/**
 * Keys claimed before keys were anchored live on the shard their (caller, key) hashed to, with
 * anchor_id ''. This step gives each the anchor of the record it names (resource_id) — a
 * payment's payer, a refund's payment, a deposit's or withdrawal's account — and moves it to
 * that record's shard, so a replay of an old request finds its key where new claims look.
 * It is idempotent: a row is written where it belongs (INSERT IGNORE) before the legacy row
 * is deleted, so a step cut short is finished by the next run. A key whose record does not
 * exist (its request was refused, or crashed before it posted) moved no money; it cannot be
 * anchored and stays behind, inert: a replay of it is decided anew. A key whose anchor's logical shard is not open on
 * its record's database (a shard move's fence; placeKeys writes under it) keeps its legacy row, and the next run
 * (every migrate runs the step) places it.
 */
export async function placeLegacyKeys(shards: ShardSet): Promise<{ placed: number; unplaced: number; fenced: number }> {
  const counts = { placed: 0, unplaced: 0, fenced: 0 };
  for (const source of shards.all) {
    let after: IdempotencyRow | null = null;
    for (;;) {
      const page = await legacyKeys(source, after, legacyKeyPageRowsMax);
      if (page.length === 0) break;
      const anchors = await anchorsOf(
        shards,
        page.map((r) => r.resourceId),
      );
      const anchored = page.filter((r) => anchors.has(r.resourceId));
      const byTarget = [...byShard(shards, anchored, anchors)];
      const placed = (await Promise.all(byTarget.map(([target, rows]) => placeKeys(target, rows)))).flat();
      await deleteLegacyKeys(source, placed);
      counts.placed += placed.length;
      counts.fenced += anchored.length - placed.length;
      counts.unplaced += page.length - anchored.length;
      if (page.length < legacyKeyPageRowsMax) break;
      after = page[page.length - 1]!;
    }
  }
  return counts;
}

export const legacyKeysStep: DataStep = {
  name: 'anchor legacy idempotency keys',
  run: async (shards) => {
    const { placed, unplaced, fenced } = await placeLegacyKeys(shards);
    if (placed + unplaced + fenced > 0)
      log().info(
        `[migrate] idempotency keys: ${placed} anchored on their record's shard, ${unplaced} name no record and stay unanchored, ${fenced} wait for a shard move's fence to lift`,
      );
  },
};

function byShard(
  shards: ShardSet,
  rows: readonly IdempotencyRow[],
  anchors: Map<string, KeyAnchor>,
): Map<Shard, IdempotencyRow[]> {
  const grouped = new Map<Shard, IdempotencyRow[]>();
  for (const row of rows) {
    const anchor = anchors.get(row.resourceId)!;
    const shard = shards.of(anchor.kind, anchor.id);
    pushTo(grouped, shard, { ...row, anchorId: anchor.id });
  }
  return grouped;
}

/** The records a key's resource_id can name. */
const resourceKinds = ['payment', 'refund', 'deposit', 'withdrawal'] as const satisfies readonly IdKind[];
type ResourceKind = (typeof resourceKinds)[number];

/** What each resource's key is anchored on, read from the resource's own row on its shard. */
async function anchorsOf(shards: ShardSet, resourceIds: readonly string[]): Promise<Map<string, KeyAnchor>> {
  const wanted = new Map<string, { shard: Shard; kind: ResourceKind; ids: string[] }>();
  for (const id of resourceIds) {
    const kind = resourceKinds.find((k) => parseId(k, id));
    if (!kind) continue;
    const shard = shards.of(kind, id);
    const group = `${kind}@${shard.index}`;
    const entry = wanted.get(group) ?? { shard, kind, ids: [] };
    entry.ids.push(id);
    wanted.set(group, entry);
  }
  const found = await Promise.all([...wanted.values()].map(({ shard, kind, ids }) => anchorsOn(shard, kind, ids)));
  return new Map(found.flat());
}

async function anchorsOn(shard: Shard, kind: ResourceKind, ids: string[]): Promise<Array<[string, KeyAnchor]>> {
  switch (kind) {
    case 'payment':
      return (await paymentsByIds(shard.db, ids)).map((p) => [p.id, { kind: 'account', id: p.payerAccountId }]);
    case 'refund':
      return (await refundsByIds(shard.db, ids)).map((r) => [r.id, { kind: 'payment', id: r.paymentId }]);
    case 'deposit':
    case 'withdrawal':
      return (await externalTransfersByIds(shard.db, ids)).map((t) => [t.id, { kind: 'account', id: t.accountId }]);
  }
}
