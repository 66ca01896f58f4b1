import { createHmac } from 'node:crypto';
import type { Forbidden } from '@paygraph/shared/authorization';
import { newId, toLogicalShard } from '@paygraph/shared/ids';
import { withIdempotencyKey } from '@paygraph/shared/idempotency/index';
import { parseAmount } from '@paygraph/shared/money';
import { err, ok, type Result } from '@paygraph/shared/result';
import { isRegisteredChannel } from '@paygraph/settlement/read-model/channels';
import {
  claimIdentity,
  hasEverVerifiedLink,
  insertLink,
  linksByIds,
  linksOfOwner,
  lockedLinksOfOwner,
  moveLinkStatus,
  recordReportedBalance,
  releaseIdentity,
  relink,
} from '../db/external-accounts';
import type { ExternalAccountRow, ExternalAccountStatus } from '../db/schema/external-accounts';
import {
  claimShard,
  displayOf,
  linkAllows,
  ownerLinkAnchor,
  ownerLinkShard,
  parseExternalAccountId,
  parseLink,
  verification,
  type LinkExternalAccountInput,
  type LinkRefusal,
  type ParsedLink,
} from '../domain/external-accounts';
import {
  invalidInput,
  type LinkExternalAccountError,
  type ReportExternalBalanceError,
  type UnlinkExternalAccountError,
  type VerifyExternalAccountError,
} from '../domain/errors';
import { externalAccountsPerOwnerMax, reportedAsOfAheadMsMax } from '../limits';
import { isChannelCaller, mayActAsChannelOf, mayManageLink, mayManageLinksOf, payoutHeldToLinksOf } from './access';
import type { ServiceContext } from './context';
import { recordLinkChange, underLinkFence } from './link-events';

/** What linking a card needs besides a request's context: the HMAC key of fingerprints (CARD_FINGERPRINT_KEY). */
export interface LinkContext extends ServiceContext {
  cardFingerprintKey: Buffer;
}

/**
 * Linked external accounts: an owner links a bank account, card or wallet at a channel; the
 * channel (or an operator) verifies it; the owner unlinks it; the channel reports the balance it
 * holds. A card's number lives only in this request's memory: the link keeps its channel token,
 * last four digits and a keyed fingerprint (HMAC-SHA256 with CARD_FINGERPRINT_KEY), and no
 * message, log line or key content carries the number.
 */

/** How a card's number is kept: a fingerprint to compare, a token to pay out with; neither reversible without the key. */
function cardKeys(ctx: LinkContext, channel: string, digits: string): { fingerprint: string; token: string } {
  const fingerprint = createHmac('sha256', ctx.cardFingerprintKey).update(`card:${digits}`).digest('hex');
  const token = createHmac('sha256', ctx.cardFingerprintKey).update(`token:${channel}:${digits}`).digest('hex');
  return { fingerprint, token: `ctok_${token.slice(0, 40)}` };
}

interface LinkPlan {
  link: ParsedLink;
  identityKey: string;
  channelToken: string | null;
  display: string;
}

function planLink(ctx: LinkContext, link: ParsedLink): LinkPlan {
  const id = link.identifier;
  const display = displayOf(id);
  if (id.kind === 'CARD') {
    const { fingerprint, token } = cardKeys(ctx, link.channel, id.digits);
    return { link, identityKey: fingerprint, channelToken: token, display };
  }
  return { link, identityKey: id.kind === 'BANK_ACCOUNT' ? id.iban : id.walletId, channelToken: null, display };
}

function controlDb(ctx: ServiceContext) {
  return ctx.shards.byLogical(toLogicalShard(0)).db;
}

export async function linkExternalAccount(
  ctx: LinkContext,
  input: LinkExternalAccountInput,
): Promise<Result<ExternalAccountRow, LinkExternalAccountError | Forbidden>> {
  const parsed = parseLink(input);
  if (!parsed.ok) return parsed;
  const notYours = mayManageLinksOf(ctx.identity, parsed.value.ownerId);
  if (notYours) return err(notYours);
  if (!(await isRegisteredChannel(controlDb(ctx), parsed.value.channel)))
    return err(invalidInput('channel', `no channel ${parsed.value.channel} is registered (RegisterChannelAccount)`));
  const plan = planLink(ctx, parsed.value);
  const ownerId = plan.link.ownerId;
  const spec = {
    anchor: { kind: 'externalAccount' as const, id: ownerLinkAnchor(ownerId) },
    key: plan.link.idempotencyKey,
    operation: 'LINK_EXTERNAL_ACCOUNT',
    // The card's fingerprint, never its number, is what a replay is compared by.
    content: {
      ownerId,
      kind: plan.link.identifier.kind,
      channel: plan.link.channel,
      identityKey: plan.identityKey,
      currency: plan.link.currency,
      holderName: plan.link.holderName,
    },
    newResourceId: () => newId('externalAccount', ownerLinkShard(ownerId)),
  };
  return withIdempotencyKey(ctx, spec, async ({ resourceId }) => {
    if (plan.link.identifier.kind !== 'CARD') return answerOf(await writeLink(ctx, plan, resourceId));
    // An unlocked read, so that a request already at the bound claims nothing; requests racing past it are refused
    // under writeLink's lock, and each of those releases the claim it took (linkCard).
    const full = await beyondLinkBound(ctx, plan, resourceId);
    if (!full) return linkCard(ctx, plan, resourceId);
    // A claim of the owner's on this card that no link names (a request that died, or met a fence, between its claim
    // and its release) is released here: that request's retry meets the bound first, and nothing else would release it.
    // The bound stays reached (links are never deleted), so no link of the owner's can come to name the card.
    if (!full.identityLinked) await releaseClaim(ctx, plan);
    return err(linkBoundReached());
  });
}

/**
 * A card's link: its claim on the fingerprint's shard, then the link on the owner's, two databases and two
 * transactions. Refused at the owner's bound with no link of the owner's naming the card, the claim is released: none
 * can name it later (links are never deleted, so the bound stays reached) and none of the owner's requests racing this
 * one can either, so the release takes no link's claim. Should the process die after the claim and before the link or
 * the release, or either meet a fence (FencedWrite, retryable), the claim stays without a link until the owner's next
 * link of the card: linked, or refused at the bound (linkExternalAccount releases it then, before the claim); until
 * then no other owner can link the card.
 */
async function linkCard(
  ctx: LinkContext,
  plan: LinkPlan,
  id: string,
): Promise<Result<ExternalAccountRow, LinkExternalAccountError>> {
  const { ownerId } = plan.link;
  // Refused FencedWrite (retryable) while a move fences the claim's logical shard: the key stays, and a retry with
  // it claims the card where the map then places it.
  const logical = claimShard(plan.identityKey);
  const holder = await claimIdentity(ctx.shards.byLogical(logical), logical, plan.identityKey, ownerId);
  if (holder !== ownerId) return err({ kind: 'ExternalAccountInUse' as const, field: 'identifier' });
  const written = await writeLink(ctx, plan, id);
  if (!written.ok && written.error.kind === 'BeyondBound' && !written.error.identityLinked)
    await releaseClaim(ctx, plan);
  return answerOf(written);
}

/** Releases the owner's claim of the plan's card (none: nothing), on the fingerprint's shard, under its fence. */
async function releaseClaim(ctx: LinkContext, plan: LinkPlan): Promise<void> {
  const logical = claimShard(plan.identityKey);
  await releaseIdentity(ctx.shards.byLogical(logical), logical, plan.identityKey, plan.link.ownerId);
}

/** writeLink's answer as the request's: its bound's refusal is INVALID_INPUT on ownerId. */
function answerOf(written: Written): Result<ExternalAccountRow, LinkExternalAccountError> {
  if (written.ok) return written;
  return err(written.error.kind === 'BeyondBound' ? linkBoundReached() : written.error);
}

/** The same external account as the plan's, linked before by its owner (answered or linked again, not counted anew). */
function isSameLink(l: ExternalAccountRow, plan: LinkPlan): boolean {
  const { link } = plan;
  return (
    l.kind === link.identifier.kind &&
    l.channel === link.channel &&
    l.identityKey === plan.identityKey &&
    l.currency === link.currency
  );
}

function linkBoundReached() {
  return invalidInput('ownerId', `an owner may link at most ${externalAccountsPerOwnerMax} external accounts`);
}

/**
 * When this link would be one more than the owner may have (read without a lock): the bound is reached, and whether a
 * link of the owner's names the plan's identity; else null.
 */
async function beyondLinkBound(ctx: ServiceContext, plan: LinkPlan, id: string): Promise<BeyondBound | null> {
  const links = await linksOfOwner(ctx.shards.byLogical(ownerLinkShard(plan.link.ownerId)).db, plan.link.ownerId);
  const counted = links.some((l) => l.id === id || isSameLink(l, plan));
  if (counted || links.length < externalAccountsPerOwnerMax) return null;
  return { kind: 'BeyondBound', identityLinked: links.some((l) => namesIdentity(l, plan)) };
}

/** Whether a link of the owner's names the plan's identity (a card's claim it took is that link's too). */
function namesIdentity(l: ExternalAccountRow, plan: LinkPlan): boolean {
  return l.kind === plan.link.identifier.kind && l.identityKey === plan.identityKey;
}

/**
 * A new link refused for the owner's bound, as the owner's links stood under their lock: whether one of them names
 * the plan's identity (a card's claim it took is that link's too, so it stays).
 */
interface BeyondBound {
  kind: 'BeyondBound';
  identityLinked: boolean;
}

type Written = Result<ExternalAccountRow, LinkExternalAccountError | BeyondBound>;

/**
 * The link under the key's id, in one transaction over the owner's links (locked): the link
 * the key made before (a replay), the same account linked before (answered, or PENDING again
 * after a rejection or unlink), or a new one within the owner's bound. Under the owner's link shard's fence
 * (underLinkFence): fenced, FencedWrite and nothing written; the key stays, and its retry writes the link.
 */
async function writeLink(ctx: ServiceContext, plan: LinkPlan, id: string): Promise<Written> {
  const { link } = plan;
  const shard = ctx.shards.byLogical(ownerLinkShard(link.ownerId));
  return underLinkFence(shard, link.ownerId, async (tx) => {
    const links = await lockedLinksOfOwner(tx, link.ownerId);
    const made = links.find((l) => l.id === id);
    if (made) return ok(made);
    const same = links.find((l) => isSameLink(l, plan));
    if (same) {
      if (same.status !== 'REJECTED' && same.status !== 'UNLINKED') return ok(same);
      await relink(tx, same.id, link.holderName);
      await recordLinkChange(tx, same, 'PENDING', ctx.now());
      return ok({ ...same, status: 'PENDING' as const, decidedBy: null, decidedAt: null, holderName: link.holderName });
    }
    if (links.length >= externalAccountsPerOwnerMax) {
      const identityLinked = links.some((l) => namesIdentity(l, plan));
      return err({ kind: 'BeyondBound' as const, identityLinked });
    }
    const row = {
      id,
      ownerId: link.ownerId,
      kind: link.identifier.kind,
      channel: link.channel,
      currency: link.currency,
      identityKey: plan.identityKey,
      display: plan.display,
      holderName: link.holderName,
      channelToken: plan.channelToken,
      status: 'PENDING' as const,
      decidedBy: null,
      decidedAt: null,
      verifiedAt: null,
      reportedBalance: null,
      reportedAsOf: null,
      createdBy: ctx.identity.sub,
      createdAt: ctx.now(),
    };
    await insertLink(tx, row);
    await recordLinkChange(tx, row, 'PENDING', row.createdAt);
    return ok(row);
  });
}

/** A link by an id a client sent: malformed is INVALID_INPUT (field named), absent is EXTERNAL_ACCOUNT_NOT_FOUND. */
export async function readLink(
  ctx: ServiceContext,
  raw: string,
  field: string,
): Promise<Result<ExternalAccountRow, VerifyExternalAccountError>> {
  const id = parseExternalAccountId(raw);
  if (id === null) return err(invalidInput(field, `"${raw}" is not an external account id`));
  const [link] = await linksByIds(ctx.shards.of('externalAccount', id).db, [id]);
  return link ? ok(link) : err({ kind: 'ExternalAccountNotFound', externalAccountId: id });
}

export async function verifyExternalAccount(
  ctx: ServiceContext,
  input: { externalAccountId: string; verified: boolean },
): Promise<Result<ExternalAccountRow, VerifyExternalAccountError | Forbidden>> {
  const found = await readLink(ctx, input.externalAccountId, 'externalAccountId');
  if (!found.ok) return found;
  const notYours = mayActAsChannelOf(ctx.identity, found.value);
  if (notYours) return err(notYours);
  for (let link = found.value; ;) {
    const next = verification(link, input.verified);
    if (!next.ok) return next;
    if (next.value === 'same') return ok(link);
    const decided = { by: ctx.identity.sub, at: ctx.now() };
    if (await moveLink(ctx, link, ['PENDING'], next.value, decided)) {
      const verifiedAt = next.value === 'VERIFIED' ? decided.at : link.verifiedAt;
      return ok({ ...link, status: next.value, decidedBy: decided.by, decidedAt: decided.at, verifiedAt });
    }
    // Decided (or unlinked) meanwhile: answer as that state says.
    [link] = (await linksByIds(ctx.shards.of('externalAccount', link.id).db, [link.id])) as [ExternalAccountRow];
  }
}

export async function unlinkExternalAccount(
  ctx: ServiceContext,
  rawId: string,
): Promise<Result<ExternalAccountRow, UnlinkExternalAccountError | Forbidden>> {
  const found = await readLink(ctx, rawId, 'id');
  if (!found.ok) return found;
  const link = found.value;
  const notYours = mayManageLink(ctx.identity, link);
  if (notYours) return err(notYours);
  if (link.status === 'UNLINKED') return ok(link);
  // Unlinked meanwhile by another request: that one wrote the event.
  await moveLink(ctx, link, ['PENDING', 'VERIFIED', 'REJECTED'], 'UNLINKED', null);
  return ok({ ...link, status: 'UNLINKED' });
}

/**
 * Moves a link from one of `from` to `to` and writes its event, in one transaction on the link's
 * shard: both or neither. False when it was no longer in `from` (someone else moved it; no event). Under the owner's
 * link shard's fence (underLinkFence): fenced, FencedWrite (retryable), neither written.
 */
async function moveLink(
  ctx: ServiceContext,
  link: ExternalAccountRow,
  from: readonly ExternalAccountStatus[],
  to: ExternalAccountStatus,
  decided: { by: string; at: Date } | null,
): Promise<boolean> {
  return underLinkFence(ctx.shards.of('externalAccount', link.id), link.ownerId, async (tx) => {
    if (!(await moveLinkStatus(tx, link.id, from, to, decided))) return false;
    await recordLinkChange(tx, link, to, decided?.at ?? ctx.now());
    return true;
  });
}

export async function reportExternalBalance(
  ctx: ServiceContext,
  input: { externalAccountId: string; balance: string; asOf: string },
): Promise<Result<ExternalAccountRow, ReportExternalBalanceError | Forbidden>> {
  const balance = parseAmount(input.balance);
  if (!balance.ok) return err(invalidInput('balance', 'balance must be an integer number of minor units'));
  const asOf = new Date(input.asOf);
  if (asOf.getTime() > ctx.now().getTime() + reportedAsOfAheadMsMax)
    return err(invalidInput('asOf', `asOf may be at most ${reportedAsOfAheadMsMax} ms ahead of the platform's clock`));
  const found = await readLink(ctx, input.externalAccountId, 'externalAccountId');
  if (!found.ok) return found;
  const link = found.value;
  if (isChannelCaller(ctx.identity) && ctx.identity.sub !== link.channel)
    return err(
      invalidInput('externalAccountId', `linked account ${link.id} is at another channel; a channel reports its own`),
    );
  const notYours = mayActAsChannelOf(ctx.identity, link);
  if (notYours) return err(notYours);
  const shard = ctx.shards.of('externalAccount', link.id);
  await underLinkFence(shard, link.ownerId, (tx) => recordReportedBalance(tx, link.id, balance.value, asOf));
  // The newest report, this one or a later one already there.
  const [now] = await linksByIds(shard.db, [link.id]);
  return ok(now!);
}

/**
 * The link a deposit or withdrawal named, for its answer: whoever reads the transfer (its account's owner, an
 * operator, the channel that recorded it) sees what the link shows (its display), never more than the row keeps.
 */
export async function linkOfTransfer(ctx: ServiceContext, id: string): Promise<ExternalAccountRow | null> {
  const [link] = await linksByIds(ctx.shards.of('externalAccount', id).db, [id]);
  return link ?? null;
}

/** The other end of a deposit or withdrawal: the link it names (or none) and the movement's channel. */
export interface LinkedEnd {
  externalAccountId: string | null;
  channel: string | null;
}

/**
 * A link the movement may not name now, or a withdrawal that must name one (unnamedPayoutRefusal).
 * `earlierEnd` is the end a request made before would have named when the refusal is only a link's
 * status (unlinked or rejected since; verified since): a replay of that request answers what it
 * made, as every replay does (services/external-transfer.ts).
 */
export interface LinkRefused {
  refusal: LinkRefusal;
  earlierEnd: LinkedEnd | null;
}

/**
 * The other end of a deposit or withdrawal that names a linked account (externalAccountId), or
 * none: the link must be the account owner's, in the movement's currency, usable for the
 * movement (a payout: VERIFIED only), and the movement's channel becomes the link's, so that
 * reconciliation reads it at the link's channel.
 */
export async function linkedEnd(
  ctx: ServiceContext,
  kind: 'DEPOSIT' | 'WITHDRAWAL',
  rawId: string | null | undefined,
  account: { ownerId: string },
  movement: { currency: string; channel: string | null },
): Promise<Result<LinkedEnd, LinkRefused>> {
  if (rawId === null || rawId === undefined) return ok({ externalAccountId: null, channel: movement.channel });
  const id = parseExternalAccountId(rawId);
  if (id === null)
    return err({
      refusal: invalidInput('externalAccountId', `"${rawId}" is not an external account id`),
      earlierEnd: null,
    });
  const [link] = await linksByIds(ctx.shards.of('externalAccount', id).db, [id]);
  const allowed = linkAllows(kind, link, id, { ownerId: account.ownerId, ...movement });
  if (allowed.ok) return ok({ externalAccountId: id, channel: allowed.value.channel });
  // Owner, currency and channel of a link never change; its status does, so only that refusal may hide a replay.
  const statusOnly = allowed.error.kind === 'ExternalAccountNotVerified' && link !== undefined;
  return err({
    refusal: allowed.error,
    earlierEnd: statusOnly ? { externalAccountId: id, channel: link.channel } : null,
  });
}

/**
 * The refusal of an owner's own withdrawal that names no linked account (no externalAccountId) once any of its links
 * was ever VERIFIED, or null. Before links, a withdrawal paid out to whatever externalRef its caller wrote, the first
 * thing an account-takeover fraud changes; an owner whose link was verified is paid out to its verified links, so its
 * own withdrawals must name one (INVALID_INPUT, field externalAccountId), in every currency and for good: a session
 * taken over could otherwise unlink the verified links, or withdraw in a currency they are not in (an account of its
 * own opening, paid into by FX), and name its own externalRef. Not held: an owner none of whose links was ever
 * VERIFIED (a PENDING or REJECTED link vouches for no destination), an operator's withdrawal (payoutHeldToLinksOf),
 * a deposit.
 *
 * Read when the request begins, beside its account's read (the caller's sub is the owner whose links it reads; its
 * answer, or its failure, is looked at only after the account's checks: services/external-transfer.ts): one indexed
 * statement on the owner's link shard, no round trip of its own. A plain read, before the key's claim and the
 * posting: a link verified before it is seen; one verified while the withdrawal is in flight may not be, and that
 * withdrawal pays out as it would have before the link's verdict. `earlierEnd` lets a replay of a withdrawal made
 * before the first verdict answer it.
 */
export async function unnamedPayoutRefusal(
  ctx: ServiceContext,
  kind: 'DEPOSIT' | 'WITHDRAWAL',
  rawId: string | null | undefined,
  movement: { currency: string; channel: string | null },
): Promise<LinkRefused | null> {
  const ownerId = payoutHeldToLinksOf(ctx.identity);
  if (kind !== 'WITHDRAWAL' || (rawId !== null && rawId !== undefined) || ownerId === null) return null;
  const db = ctx.shards.byLogical(ownerLinkShard(ownerId)).db;
  if (!(await hasEverVerifiedLink(db, ownerId))) return null;
  const currency = movement.currency;
  return {
    refusal: invalidInput(
      'externalAccountId',
      `a linked account of this owner's was verified, so its payouts go only to verified linked accounts: name one ` +
        `in ${currency} (externalAccountId), or link one in ${currency} and have it verified`,
    ),
    earlierEnd: { externalAccountId: null, channel: movement.channel },
  };
}
