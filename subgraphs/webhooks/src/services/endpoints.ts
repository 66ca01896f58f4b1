import { createHash } from 'node:crypto';
import type { Forbidden, Readable } from '@paygraph/shared/authorization';
import { newId, parseId, toLogicalShard } from '@paygraph/shared/ids';
import { logicalShardCount } from '@paygraph/shared/limits';
import { err, ok, type Result } from '@paygraph/shared/result';
import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import type { WebhooksContext } from '../context';
import { decideEndpointInput, type CreateEndpointInput, type InputRefusal } from '../domain/endpoint-input';
import {
  countEndpointsOfOwnerLocked,
  disableEndpoint,
  endpointById,
  endpointByIdLocked,
  endpointsOfOwner,
  insertEndpoint,
  rotateEndpointSecret,
} from '../db/endpoints';
import { accountsAndStripesToFollow, accountsOfOwnersToFollow, type FollowedRow } from '../db/streams';
import type { EndpointRow } from '../db/schema/webhooks';
import { endpointsPerOwnerMax, endpointsPerOwnerRowsMax, secretRotationOverlapMs } from '../limits';
import {
  mayFollowAccount,
  mayHaveEndpoints,
  mayManageEndpoint,
  mayRegisterEndpoints,
  mayTouchMissing,
  ownersFollowedBy,
} from './access';
import { urlRefusal } from './destination';
import { insertStreamsWritable, requeueHere, underEndpointFence } from './writable-here';
import { closeEndpointQueues } from './disabled-endpoints';
import { newSecret, openSecret, sealSecret } from './secrets';
import { pushTo } from '@paygraph/shared/collections';

/**
 * The endpoint operations behind the resolvers: each authorizes (services/access.ts), then reads
 * and writes on the shards that hold the data. An endpoint lives on a logical shard chosen from
 * its owner, so one owner's endpoints are listed from one shard; its streams and deliveries live
 * with the accounts.
 */
/** What registering can answer besides the endpoint: exactly CreateWebhookEndpointResult's members (and FORBIDDEN). */
export type CreateEndpointError = Forbidden | InputRefusal | { kind: 'AccountNotFound'; accountId: string };
/** What disabling, rotating and redelivering can answer besides success: their unions' members (and FORBIDDEN). */
export type ManageEndpointError =
  Forbidden | InputRefusal | { kind: 'WebhookEndpointNotFound'; endpointId: string } | RotationRaced;
/**
 * A rotation that found the secret it meant to replace already replaced by a concurrent one: refused, so every secret
 * answered signs.
 */
export type RotationRaced = { kind: 'RotationRaced'; endpointId: string };

/** An endpoint as GraphQL shows it; `secret` only in the answer that made it. */
export interface EndpointView {
  id: string;
  url: string;
  description: string | null;
  eventTypes: string[];
  accountIds: string[] | null;
  status: EndpointRow['status'];
  disabledReason: string | null;
  secret: string | null;
  createdAt: Date;
}

export function endpointView(row: EndpointRow, secret: string | null = null): EndpointView {
  return {
    id: row.id,
    url: row.url,
    description: row.description,
    eventTypes: row.eventTypes.split(','),
    accountIds: row.accountIds === null ? null : (JSON.parse(row.accountIds) as string[]),
    status: row.status,
    disabledReason: row.disabledReason,
    secret,
    createdAt: row.createdAt,
  };
}

function ownerShard(shards: ShardSet, ownerId: string): { shard: Shard; logical: ReturnType<typeof toLogicalShard> } {
  const logical = toLogicalShard(
    createHash('sha256').update(ownerId, 'utf8').digest().readUInt16BE(0) % logicalShardCount,
  );
  return { shard: shards.byLogical(logical), logical };
}

/** A stream's starting row: at the account's head now (events after the registration). */
function streamAtHead(endpointId: string, row: FollowedRow) {
  return {
    endpointId,
    stripeId: row.id,
    accountId: row.parentId ?? row.id,
    lastSequence: row.lastSequence,
    available: row.available,
    frozen: row.frozen,
    pending: row.pending,
  };
}

/** The accounts an endpoint names, with their stripes, each read on its own shard. */
async function namedAccounts(shards: ShardSet, ids: readonly string[]): Promise<Map<Shard, FollowedRow[]>> {
  const byShard = new Map<Shard, string[]>();
  for (const id of ids) {
    const shard = shards.of('account', id);
    pushTo(byShard, shard, id);
  }
  // A merchant's stripes live on other shards: its home row is read first, then every shard for its stripes.
  const homes = new Map<Shard, FollowedRow[]>();
  await Promise.all(
    [...byShard].map(async ([shard, local]) => homes.set(shard, await accountsAndStripesToFollow(shard.db, local))),
  );
  return homes;
}

/**
 * The accounts a new endpoint follows, with their stripes, by shard: those it names, each checked
 * as one the caller may follow; or, naming none, every account of the owners the caller follows.
 */
async function accountsToFollow(
  ctx: WebhooksContext,
  accountIds: readonly string[] | null,
): Promise<Result<Map<Shard, FollowedRow[]>, CreateEndpointError>> {
  const { identity, shards } = ctx;
  if (accountIds !== null) {
    const follow = await namedAccounts(shards, accountIds);
    const found = new Map([...follow.values()].flat().map((row) => [row.id, row]));
    for (const id of accountIds) {
      const account = found.get(id);
      // Someone else's account and no account at all look the same to a non-operator.
      if (!account || account.parentId !== null)
        return err(mayTouchMissing(identity, id) ?? { kind: 'AccountNotFound', accountId: id });
      const notYours = mayFollowAccount(identity, account);
      if (notYours) return err(notYours);
    }
    return ok(follow);
  }
  const follow = new Map<Shard, FollowedRow[]>();
  const owners = ownersFollowedBy(identity);
  await Promise.all(
    shards.all.map(async (shard) => follow.set(shard, await accountsOfOwnersToFollow(shard.db, owners))),
  );
  return ok(follow);
}

export async function createEndpoint(
  ctx: WebhooksContext,
  input: CreateEndpointInput,
): Promise<Result<EndpointView, CreateEndpointError>> {
  const { identity, shards } = ctx;
  const refused = mayRegisterEndpoints(identity);
  if (refused) return err(refused);
  const plan = decideEndpointInput(input, (raw) => urlRefusal(raw, ctx.services.policy));
  if (!plan.ok) return plan;
  const now = ctx.services.now();
  const followed = await accountsToFollow(ctx, plan.value.accountIds);
  if (!followed.ok) return followed;
  const follow = followed.value;
  const home = ownerShard(shards, identity.sub);
  const id = newId('webhookEndpoint', home.logical);
  const secret = newSecret();
  const row = {
    id,
    ownerId: identity.sub,
    ownerRole: identity.role,
    url: plan.value.url,
    description: plan.value.description,
    eventTypes: plan.value.eventTypes.join(','),
    accountIds: plan.value.accountIds === null ? null : JSON.stringify(plan.value.accountIds),
    status: 'ENABLED' as const,
    secretSealed: sealSecret(ctx.services.secretKey, id, secret),
    createdAt: now,
    updatedAt: now,
  };
  // The count and the insert in one transaction, under locks on the owner's rows: concurrent registrations cannot pass
  // the cap together. Under the new id's fence (writable-here.ts underEndpointFence): fenced, FencedWrite, no row.
  const refusal = await underEndpointFence(home.shard, id, async (tx) => {
    const count = await countEndpointsOfOwnerLocked(tx, identity.sub);
    if (count.enabled >= endpointsPerOwnerMax)
      return `at most ${endpointsPerOwnerMax} enabled endpoints per owner; disable one first`;
    // Disabled rows count here: otherwise create → disable loops would grow them without bound (limits.ts).
    if (count.rows >= endpointsPerOwnerRowsMax)
      return `at most ${endpointsPerOwnerRowsMax} endpoints per owner, disabled ones included`;
    await insertEndpoint(tx, row);
    return null;
  });
  if (refusal !== null) return err({ kind: 'InvalidInput', field: 'url', message: refusal });
  // Streams start at each account's head: the endpoint receives what happens after it was made.
  // A shard that fails here leaves its accounts to the dispatcher's discovery, which starts them at their head too.
  await Promise.all(
    [...follow].map(([shard, rows]) =>
      insertStreamsWritable(
        shards,
        shard,
        rows.map((r) => streamAtHead(id, r)),
      ),
    ),
  );
  const stored = await endpointById(home.shard.db, id);
  return ok(endpointView(stored!, secret));
}

/** The endpoint if the caller may manage it; FORBIDDEN for someone else's. */
async function managedEndpoint(
  ctx: WebhooksContext,
  endpointId: string,
): Promise<Result<{ row: EndpointRow; shard: Shard }, ManageEndpointError>> {
  const parsed = parseId('webhookEndpoint', endpointId);
  if (!parsed)
    return err({ kind: 'InvalidInput', field: 'endpointId', message: `"${endpointId}" is not a webhook endpoint id` });
  const none = mayHaveEndpoints(ctx.identity);
  if (none) return err(none);
  const shard = ctx.shards.of('webhookEndpoint', endpointId);
  const row = await endpointById(shard.db, endpointId);
  if (!row) return err({ kind: 'WebhookEndpointNotFound', endpointId });
  const refused = mayManageEndpoint(ctx.identity, row);
  if (refused) return err(refused);
  return ok({ row, shard });
}

/** The endpoint if the caller may read it; null when there is none (or the id is malformed). */
export async function readEndpoint(ctx: WebhooksContext, endpointId: string): Promise<Readable<EndpointView>> {
  const found = await managedEndpoint(ctx, endpointId);
  if (found.ok) return ok(endpointView(found.value.row));
  return found.error.kind === 'Forbidden' ? err(found.error) : ok(null);
}

export async function listEndpoints(ctx: WebhooksContext, first: number): Promise<Result<EndpointView[], Forbidden>> {
  const none = mayHaveEndpoints(ctx.identity);
  if (none) return err(none);
  const { shard } = ownerShard(ctx.shards, ctx.identity.sub);
  return ok((await endpointsOfOwner(shard.db, ctx.identity.sub, first)).map((row) => endpointView(row)));
}

export async function disableEndpointBy(
  ctx: WebhooksContext,
  endpointId: string,
): Promise<Result<EndpointView, ManageEndpointError>> {
  const found = await managedEndpoint(ctx, endpointId);
  if (!found.ok) return found;
  const reason = `disabled by ${ctx.identity.role} ${ctx.identity.sub}`;
  const now = ctx.services.now();
  // Under the endpoint's fence (writable-here.ts underEndpointFence): fenced, FencedWrite and still ENABLED.
  const disabled = await underEndpointFence(found.value.shard, endpointId, (tx) =>
    disableEndpoint(tx, endpointId, reason, now),
  );
  if (disabled) {
    // A shard that fails here is left to the dispatcher, which closes a disabled endpoint's queues on its next refresh.
    await closeEndpointQueues(ctx.shards, endpointId, reason).catch((error: unknown) =>
      ctx.log.warn({ err: error, endpointId }, "webhooks: closing a disabled endpoint's queues failed"),
    );
  }
  return ok(endpointView((await endpointById(found.value.shard.db, endpointId))!));
}

export async function rotateSecret(
  ctx: WebhooksContext,
  endpointId: string,
): Promise<Result<EndpointView, ManageEndpointError>> {
  const found = await managedEndpoint(ctx, endpointId);
  if (!found.ok) return found;
  const { row: seen, shard } = found.value;
  const now = ctx.services.now();
  const secret = newSecret();
  // Under the row's lock, and only over the secret this request read: of two concurrent rotations the second is
  // refused,
  // where it would otherwise push the first one's secret out (or, with a third, drop it) right after it was answered.
  // Under the endpoint's fence (writable-here.ts underEndpointFence): fenced, FencedWrite and the secret unchanged.
  const rotated = await underEndpointFence(shard, endpointId, async (tx) => {
    const row = (await endpointByIdLocked(tx, endpointId))!;
    if (row.secretSealed !== seen.secretSealed) return false;
    // The current secret keeps signing beside the new one for the overlap; re-sealed so its seal is as fresh as the new
    // one's.
    const previous = openSecret(ctx.services.secretKey, endpointId, row.secretSealed);
    await rotateEndpointSecret(
      tx,
      endpointId,
      {
        next: sealSecret(ctx.services.secretKey, endpointId, secret),
        previous: sealSecret(ctx.services.secretKey, endpointId, previous),
        previousUntil: new Date(now.getTime() + secretRotationOverlapMs),
      },
      now,
    );
    return true;
  });
  if (!rotated) return err({ kind: 'RotationRaced', endpointId });
  return ok(endpointView((await endpointById(shard.db, endpointId))!, secret));
}

/** Queues again every event recorded at or after `since`, on every shard holding the endpoint's deliveries. */
export async function redeliver(
  ctx: WebhooksContext,
  endpointId: string,
  since: Date,
): Promise<Result<{ endpointId: string; count: number }, ManageEndpointError>> {
  const found = await managedEndpoint(ctx, endpointId);
  if (!found.ok) return found;
  // Its deliveries would be queued and never sent: disabling is final (disabled-endpoints.ts).
  if (found.value.row.status !== 'ENABLED')
    return err({
      kind: 'InvalidInput',
      field: 'endpointId',
      message: `webhook endpoint ${endpointId} is disabled: nothing is delivered to it; register a new endpoint`,
    });
  const now = ctx.services.now();
  // Each database under its fence rows (requeueHere): a range a move fenced or is bringing here refuses the redelivery
  // (SHARD_UNAVAILABLE, retryable), a range moved away is requeued where it now is.
  const counts = await Promise.all(ctx.shards.all.map((shard) => requeueHere(shard, endpointId, since, now)));
  return ok({ endpointId, count: counts.reduce((a, b) => a + b, 0) });
}
