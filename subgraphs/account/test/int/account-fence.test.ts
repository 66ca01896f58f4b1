import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId, toLogicalShard } from '@paygraph/shared/ids';
import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { rawRows } from '@paygraph/shared/db/raw';
import type { FenceReason } from '@paygraph/shared/control/index';
import { insertAccount, stripeIdOf, stripeShardBit } from '@paygraph/shared/ledger/index';
import { FencedWrite } from '@paygraph/shared/shards/unavailable';
import { log } from '@paygraph/shared/log';
import { scratchShard, whileFenced, type ScratchShard } from '../../../../test/support/scratch-databases';
import { unique } from '../../../../test/support/env';
import { extendContext, type AccountContext, type BalanceServices } from '../../src/context';
import { changeStatus } from '../../src/services/accounts';
import { setCreditLimit } from '../../src/services/credit-lines';

/**
 * An account's status and credit limit are rows of its logical shard (and a merchant's stripes' status, rows of
 * theirs), and a shard move carries them: a freeze, close or limit written on a source after the mover's copy (by a
 * process on an old map, or one that resolved the shard before the fence) would be lost, the live row at the target
 * left ACTIVE with its old limit while the caller was told it changed. So each is written under the fence where it
 * happens and refused while its row is not open. On a database of this file's own, a process on no map (it routes by
 * its configuration, as a process that missed the fence would): a fence here would refuse other files' writes.
 */
let scratch: ScratchShard;
let shard: Shard;
let shards: ShardSet;
const homeShard = toLogicalShard(17);
const stripeShard = toLogicalShard(23);
const reasons: FenceReason[] = ['fenced', 'moved', 'arriving'];

beforeAll(async () => {
  scratch = await scratchShard('accountfence');
  ({ shard, shards } = scratch);
});

afterAll(async () => scratch?.close());

function operator(): AccountContext {
  // Neither a status change nor a credit limit reads the balance stream's services.
  const balances = {} as BalanceServices;
  return extendContext(
    { identity: { sub: unique('accountfence-op'), role: 'operator' }, shards, log: log() },
    balances,
  );
}

/** A client's account on the home logical shard; a merchant's also has a stripe on the other one, its directory's. */
async function account(type: 'PERSONAL' | 'MERCHANT'): Promise<string> {
  const id = newId('account', homeShard);
  const ownerId = unique('accountfence');
  const directory = type === 'MERCHANT' ? stripeShardBit(stripeShard) : 0n;
  await insertAccount(shard.db, { id, ownerId, type, currency: 'EUR', status: 'ACTIVE', stripeShards: directory });
  if (type === 'MERCHANT')
    await insertAccount(shard.db, {
      id: stripeIdOf(id, stripeShard),
      ownerId,
      type,
      currency: 'EUR',
      status: 'ACTIVE',
      parentId: id,
    });
  return id;
}

/** The account's rows here (its home row, then its stripes) as status, limit and version. */
async function rowsOf(id: string): Promise<string[]> {
  const rows = await rawRows<{ status: string; limit: string | null; version: string }>(
    shard,
    `SELECT status, credit_limit AS \`limit\`, version FROM accounts WHERE id = ? OR parent_id = ?
     ORDER BY parent_id IS NOT NULL, id`,
    [id, id],
  );
  return rows.map((r) => `${r.status} ${r.limit ?? '-'} v${r.version}`);
}

describe("an account's status and credit limit and a fence on its database", () => {
  it('changes nothing while its logical shard is not open there, and changes it once open', async () => {
    const id = await account('PERSONAL');
    for (const reason of reasons) {
      const refused = await whileFenced(shard, homeShard, reason, () =>
        Promise.all([
          changeStatus(operator(), id, 'freeze').catch((e: unknown) => e),
          changeStatus(operator(), id, 'close').catch((e: unknown) => e),
          setCreditLimit(operator(), { accountId: id, limit: '0' }).catch((e: unknown) => e),
        ]),
      );
      for (const answer of refused) expect(answer).toBeInstanceOf(FencedWrite);
      expect(await rowsOf(id)).toEqual(['ACTIVE - v0']);
    }
    expect((await setCreditLimit(operator(), { accountId: id, limit: '0' })).ok).toBe(true);
    expect((await changeStatus(operator(), id, 'freeze')).ok).toBe(true);
    expect(await rowsOf(id)).toEqual(['FROZEN 0 v2']);
  });

  it("changes no row of a merchant while a stripe's logical shard is not open there, and every row once open", async () => {
    const id = await account('MERCHANT');
    for (const reason of reasons) {
      const refused = await whileFenced(shard, stripeShard, reason, () =>
        changeStatus(operator(), id, 'freeze').catch((e: unknown) => e),
      );
      expect(refused).toBeInstanceOf(FencedWrite);
      expect(await rowsOf(id)).toEqual(['ACTIVE - v0', 'ACTIVE - v0']);
    }
    expect((await changeStatus(operator(), id, 'freeze')).ok).toBe(true);
    expect(await rowsOf(id)).toEqual(['FROZEN - v1', 'FROZEN - v1']);
  });
});
