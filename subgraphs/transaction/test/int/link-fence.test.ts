import { createHmac, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId, shardOf, toLogicalShard } from '@paygraph/shared/ids';
import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { rawRows, rawWrite } from '@paygraph/shared/db/raw';
import type { FenceReason } from '@paygraph/shared/control/index';
import { FencedWrite } from '@paygraph/shared/shards/unavailable';
import { scratchShard, whileFenced, type ScratchShard } from '../../../../test/support/scratch-databases';
import { freshCard, freshIban } from '../../../../test/support/links';
import { unique } from '../../../../test/support/env';
import { externalTransfers } from '../../src/db/schema/transactions';
import { insertOutbox } from '../../src/db/outbox';
import { claimShard, ownerLinkShard } from '../../src/domain/external-accounts';
import {
  linkExternalAccount,
  reportExternalBalance,
  unlinkExternalAccount,
  verifyExternalAccount,
  type LinkContext,
} from '../../src/services/external-accounts';
import { recordPayoutEvent } from '../../src/services/link-events';
import { withdraw } from '../../src/services/external-transfer';
import { insertAccountOn } from '../../../../test/support/bank';
import { serviceContext } from '../support/service-context';

/**
 * A card's claim (on its fingerprint's logical shard), an owner's links and its links' events (on the owner's link
 * logical shard) move with those logical shards (scripts/lib/move-tables.ts): each writer reads its fence row in share
 * mode in the transaction of its write, so a process whose map missed a shard move's fence writes none of them after
 * the mover's copy read them (a claim lost at the target lets a second owner take the card; an unlink lost leaves the
 * link VERIFIED there). On a database of this file's own, a process on no map: a fence here would refuse other files'.
 */
let scratch: ScratchShard;
let shards: ShardSet;
let shard: Shard;
const cardFingerprintKey = randomBytes(32);
const channel = unique('bank');
const reasons: FenceReason[] = ['fenced', 'moved', 'arriving'];

beforeAll(async () => {
  scratch = await scratchShard('linkfence');
  ({ shards, shard } = scratch);
  await rawWrite(
    shard,
    'INSERT INTO channel_accounts (account_identification, channel, currency, registered_by) VALUES (?, ?, ?, ?)',
    [freshIban().slice(0, 34), channel, 'EUR', 'test'],
  );
});

afterAll(async () => scratch?.close());

function owner(ownerId: string): LinkContext {
  return { ...serviceContext(shards, { sub: ownerId, role: 'customer' }), cardFingerprintKey };
}

const operator = (): LinkContext => ({
  ...serviceContext(shards, { sub: unique('linkfence-op'), role: 'operator' }),
  cardFingerprintKey,
});

async function count(sql: string, values: unknown[]): Promise<number> {
  const [row] = await rawRows<{ n: number }>(shard, sql, values);
  return Number(row!.n);
}

const claims = (ownerId: string) =>
  count('SELECT COUNT(*) AS n FROM external_account_claims WHERE owner_id = ?', [ownerId]);
const links = (ownerId: string) => count('SELECT COUNT(*) AS n FROM external_accounts WHERE owner_id = ?', [ownerId]);
const events = (ownerId: string) =>
  count('SELECT COUNT(*) AS n FROM external_account_events WHERE owner_id = ?', [ownerId]);

async function linkRow(id: string): Promise<{ status: string; reported: string | null }> {
  const [row] = await rawRows<{ status: string; reported: string | null }>(
    shard,
    'SELECT status, CAST(reported_balance AS CHAR) AS reported FROM external_accounts WHERE id = ?',
    [id],
  );
  return row!;
}

/** A card and an owner whose link logical shard is not the card's claim's (the key's claim is not fenced with it). */
function cardApart(): { ownerId: string; digits: string; claimLogical: number } {
  for (;;) {
    const ownerId = unique('linkfence-card');
    const digits = freshCard();
    // The fingerprint as services/external-accounts.ts cardKeys makes it, with this file's key.
    const fingerprint = createHmac('sha256', cardFingerprintKey).update(`card:${digits}`).digest('hex');
    const claimLogical = claimShard(fingerprint);
    if (claimLogical !== ownerLinkShard(ownerId)) return { ownerId, digits, claimLogical };
  }
}

/** A link of a fresh owner's, written with every fence open; VERIFIED when asked. */
async function linked(verified: boolean): Promise<{ ownerId: string; id: string; logical: number }> {
  const ownerId = unique('linkfence');
  const input = { idempotencyKey: unique('k'), ownerId, kind: 'BANK_ACCOUNT' as const, channel, currency: 'EUR' };
  const made = await linkExternalAccount(owner(ownerId), { ...input, identifier: freshIban() });
  if (!made.ok) throw new Error(JSON.stringify(made.error));
  if (verified) {
    const decided = await verifyExternalAccount(operator(), { externalAccountId: made.value.id, verified });
    expect(decided.ok).toBe(true);
  }
  return { ownerId, id: made.value.id, logical: ownerLinkShard(ownerId) };
}

describe("a card's claim and a fence on its database", () => {
  for (const reason of reasons) {
    it(`claims nothing and links nothing when the claim's logical shard is ${reason} there, then links once open`, async () => {
      const { ownerId, digits, claimLogical } = cardApart();
      const input = { idempotencyKey: unique('k'), ownerId, kind: 'CARD' as const, channel, currency: 'EUR' };
      const request = () => linkExternalAccount(owner(ownerId), { ...input, identifier: digits });
      const refused = await whileFenced(shard, claimLogical, reason, () => request().catch((e: unknown) => e));
      expect(refused).toBeInstanceOf(FencedWrite);
      expect(String(refused)).toContain('is unavailable; retry');
      expect({ claims: await claims(ownerId), links: await links(ownerId) }).toEqual({ claims: 0, links: 0 });
      // The same request once open (its key kept): the card claimed for the owner and linked.
      expect((await request()).ok).toBe(true);
      expect({ claims: await claims(ownerId), links: await links(ownerId) }).toEqual({ claims: 1, links: 1 });
    });
  }
});

describe("a link's writes and a fence on its owner's link shard", () => {
  it('verifies nothing under the fence (no event), and verifies once open', async () => {
    const { ownerId, id, logical } = await linked(false);
    const verify = () => verifyExternalAccount(operator(), { externalAccountId: id, verified: true });
    for (const reason of reasons) {
      const refused = await whileFenced(shard, logical, reason, () => verify().catch((e: unknown) => e));
      expect(refused).toBeInstanceOf(FencedWrite);
      expect((await linkRow(id)).status).toBe('PENDING');
      expect(await events(ownerId)).toBe(1);
    }
    expect((await verify()).ok).toBe(true);
    expect((await linkRow(id)).status).toBe('VERIFIED');
    expect(await events(ownerId)).toBe(2);
  });

  it('unlinks nothing under the fence (the link stays VERIFIED, a payout may go to it), and unlinks once open', async () => {
    const { ownerId, id, logical } = await linked(true);
    const unlink = () => unlinkExternalAccount(owner(ownerId), id);
    const refused = await whileFenced(shard, logical, 'fenced', () => unlink().catch((e: unknown) => e));
    expect(refused).toBeInstanceOf(FencedWrite);
    expect((await linkRow(id)).status).toBe('VERIFIED');
    expect(await events(ownerId)).toBe(2);
    expect((await unlink()).ok).toBe(true);
    expect((await linkRow(id)).status).toBe('UNLINKED');
    expect(await events(ownerId)).toBe(3);
  });

  it("keeps no channel's balance report under the fence, and keeps it once open", async () => {
    const { id, logical } = await linked(true);
    const report = () =>
      reportExternalBalance(operator(), { externalAccountId: id, balance: '1234', asOf: new Date().toISOString() });
    const refused = await whileFenced(shard, logical, 'fenced', () => report().catch((e: unknown) => e));
    expect(refused).toBeInstanceOf(FencedWrite);
    expect((await linkRow(id)).reported).toBeNull();
    expect((await report()).ok).toBe(true);
    expect((await linkRow(id)).reported).toBe('1234');
  });

  it("writes no payout's event under the fence, its outbox row kept PENDING, and writes it once open", async () => {
    const { ownerId, id, logical } = await linked(true);
    // The withdrawal on another logical shard than the link's: only the event's write meets the fence.
    const withdrawalId = newId('withdrawal', toLogicalShard((logical + 1) % 64));
    const now = new Date();
    await shard.db.insert(externalTransfers).values({
      ...{ id: withdrawalId, kind: 'WITHDRAWAL', accountId: newId('account', toLogicalShard(logical)) },
      ...{ amount: 100n, currency: 'EUR', status: 'SUCCEEDED', channel, externalAccountId: id, createdBy: ownerId },
    });
    await insertOutbox(shard.db, withdrawalId, 'PAYOUT_EVENT', now, now);
    const pending = () =>
      count("SELECT COUNT(*) AS n FROM transfer_outbox WHERE id = ? AND status = 'PENDING'", [withdrawalId]);
    const refused = await whileFenced(shard, logical, 'fenced', () =>
      recordPayoutEvent(shards, shard, withdrawalId).catch((e: unknown) => e),
    );
    expect(refused).toBeInstanceOf(FencedWrite);
    expect({ events: await events(ownerId), pending: await pending() }).toEqual({ events: 2, pending: 1 });
    await recordPayoutEvent(shards, shard, withdrawalId);
    expect({ events: await events(ownerId), pending: await pending() }).toEqual({ events: 3, pending: 0 });
  });
});

describe("a withdrawal naming no link while the caller's link logical shard is fenced in this process's map", () => {
  /** Runs `run` with this process's map fencing `logical` (routing to it throws FencedWrite), then lifts it. */
  async function whileMapFences<T>(logical: number, run: () => Promise<T>): Promise<T> {
    const apply = (fenced: number[]) => {
      const now = shards.placement.current;
      expect(shards.placement.apply({ ...now, version: now.version + 1, fenced })).toBe(true);
    };
    apply([logical]);
    try {
      return await run();
    } finally {
      apply([]);
    }
  }

  it("refuses another's account FORBIDDEN and a missing one ACCOUNT_NOT_FOUND, and fails the caller's own closed", async () => {
    const victim = await insertAccountOn(shards, 0, unique('linkfence-victim'), 'PERSONAL', 'EUR');
    // The caller's link logical shard is not its accounts': only the read of its links is fenced.
    const accountsLogical = shardOf('account', victim);
    let caller = unique('linkfence-caller');
    while (ownerLinkShard(caller) === accountsLogical) caller = unique('linkfence-caller');
    const own = await insertAccountOn(shards, 0, caller, 'PERSONAL', 'EUR');
    expect(shardOf('account', own)).toBe(accountsLogical);
    const linkLogical = ownerLinkShard(caller);
    const ctx = serviceContext(shards, { sub: caller, role: 'customer' });
    const request = (accountId: string) =>
      withdraw(ctx, { idempotencyKey: unique('w'), accountId, amount: '1', currency: 'EUR', externalRef: 'x' });
    const answers = await whileMapFences(linkLogical, async () => ({
      theirs: await request(victim).catch((e: unknown) => e),
      missing: await request(newId('account', accountsLogical)).catch((e: unknown) => e),
      mine: await request(own).catch((e: unknown) => e),
    }));
    expect(answers.theirs).toMatchObject({ ok: false, error: { kind: 'Forbidden' } });
    expect(answers.missing).toMatchObject({ ok: false, error: { kind: 'AccountNotFound' } });
    // Its own: the links' read failed, so the request fails (SHARD_UNAVAILABLE, retryable), never paid unchecked.
    expect(answers.mine).toBeInstanceOf(FencedWrite);
  });
});
