import { contractOperation, type GraphQLResponse } from '../support/graphql';
import { token, unique } from '../support/env';
import { freshCard, freshIban, linkDocs } from '../support/links';
import type { SeededRandom } from '../support/seeded-random';
import { externalAccountsPerOwnerMax } from '@paygraph/transaction/limits';
import { answerOf, docs, type Sender } from './driver';

/**
 * Issue 48's linked external accounts and payouts in the simulator. From a stream of their own (a
 * fork of the seed), so the operations a seed drew before stay the same: two channels registered by
 * the operator, two owners of the run's own (no owner of the model's: the operations draw callers
 * from its roles) with an EUR account each, and on about one step in linkStepEvery an owner links a
 * bank account, card or wallet at a channel, the channel or an operator verifies (or rejects) it,
 * the owner pays out to a link or its channel records a deposit from one, the owner unlinks one, or
 * a hostile shape: a payout to another owner's link (EXTERNAL_ACCOUNT_NOT_FOUND), to an unverified
 * link (EXTERNAL_ACCOUNT_NOT_VERIFIED), verifying one's own link (FORBIDDEN), linking another owner's
 * card (EXTERNAL_ACCOUNT_IN_USE). This model predicts every answer (a link's status, a payout's
 * balance change exactly, each refusal's code with nothing moved); after each such step both owners'
 * balances are read, and a hostile step's or every portfolioEvery-th step's links are read back.
 */
export type LinkStatus = 'PENDING' | 'VERIFIED' | 'REJECTED' | 'UNLINKED';
export type LinkKind = 'BANK_ACCOUNT' | 'CARD' | 'WALLET';

export interface ModelLink {
  id: string;
  owner: number;
  kind: LinkKind;
  channel: string;
  currency: string;
  /** The IBAN, card number or wallet id as sent (the model's own; the service keeps no card number). */
  identifier: string;
  status: LinkStatus;
}

export interface LinkOwner {
  id: string;
  bearer: string;
  /** Its EUR account and what the model says it holds. */
  account: string;
  balance: bigint;
}

export interface LinkRun {
  random: SeededRandom;
  channels: string[];
  channelBearers: Map<string, string>;
  owners: LinkOwner[];
  links: ModelLink[];
  /** A card's number → the owner whose link claimed it first (the service's fingerprint claim). */
  cardHolders: Map<string, number>;
  /** The last link request answered with a link: replayed by key, with its body or another. */
  lastLink: { bearer: string; input: Record<string, unknown>; id: string } | null;
  linkSteps: number;
}

/** About one step in this many, a link operation (from the links' stream). */
export const linkStepEvery = 8;
/** Every this many link operations (and after each hostile one), the owners' links are read back. */
const portfolioEvery = 10;
const funding = 1_000_000n;
const accountCurrency = 'EUR';

const linkedDocs = {
  link: linkDocs.link,
  verify: linkDocs.verify,
  unlink: linkDocs.unlink,
  portfolio: contractOperation('OwnerPortfolio'),
  /** The contract's WithdrawToLinked and DepositFromLinked with the refusals' own fields (which field, which status). */
  withdraw: `mutation WithdrawToLinkedDetail($input: WithdrawInput!) { withdraw(input: $input) { __typename
    ... on Withdrawal { id status amount currency channel externalAccount { id display } }
    ... on UserError { code message } ... on InvalidInput { field } ... on ExternalAccountNotVerified { linkStatus: status } } }`,
  deposit: `mutation DepositFromLinkedDetail($input: DepositInput!) { deposit(input: $input) { __typename
    ... on Deposit { id status amount currency channel externalAccount { id display } }
    ... on UserError { code message } ... on InvalidInput { field } ... on ExternalAccountNotVerified { linkStatus: status } } }`,
  balance: 'query($id: ID!) { account(id: $id) { balance { available frozen pending } } }',
};

/** Registers the run's channels and opens its owners' accounts (each funded by the operator). */
export async function setUpLinks(s: Sender, operator: string, run: string, random: SeededRandom): Promise<LinkRun> {
  const channels: string[] = [];
  const channelBearers = new Map<string, string>();
  for (const n of [1, 2]) {
    const channel = `${run}-bank${n}`.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 60);
    const input = { channel, accountIdentification: freshIban(), currency: accountCurrency };
    const answer = await s.send(linkDocs.register, { input }, operator);
    if (answer.data?.registerChannelAccount?.__typename !== 'ChannelAccount')
      throw new Error(`registering channel ${channel} failed: ${JSON.stringify(answer)}`);
    channels.push(channel);
    channelBearers.set(channel, await token(channel, 'channel'));
  }
  const owners: LinkOwner[] = [];
  for (const name of ['linkA', 'linkB']) {
    const id = `${run}-${name}`;
    const opened = answerOf(
      await s.send(docs.openAccount, { input: { ownerId: id, type: 'PERSONAL', currency: accountCurrency } }, operator),
      'openAccount',
    );
    if (opened.kind !== 'ok') throw new Error(`opening ${name}'s account failed: ${JSON.stringify(opened)}`);
    const input = {
      idempotencyKey: unique('link-seed'),
      accountId: opened.id,
      amount: String(funding),
      currency: accountCurrency,
    };
    const deposited = await s.send(docs.deposit, { input }, operator);
    if (deposited.data?.deposit?.__typename !== 'Deposit')
      throw new Error(`funding ${name} failed: ${JSON.stringify(deposited)}`);
    owners.push({ id, bearer: await token(id, 'customer'), account: opened.id, balance: funding });
  }
  return { random, channels, channelBearers, owners, links: [], cardHolders: new Map(), lastLink: null, linkSteps: 0 };
}

// --- The model's rules, as services/external-accounts.ts and domain/external-accounts.ts state them ---

/** What a link request answers: the same link (PENDING again if it was rejected or unlinked), a new one, or a refusal. */
export function predictLink(
  run: Pick<LinkRun, 'links' | 'cardHolders'>,
  owner: number,
  request: { kind: LinkKind; channel: string; identifier: string; currency: string },
):
  | { kind: 'same'; link: ModelLink }
  | { kind: 'new' }
  | { kind: 'error'; code: 'EXTERNAL_ACCOUNT_IN_USE' | 'INVALID_INPUT'; field: string } {
  if (request.kind === 'CARD') {
    const holder = run.cardHolders.get(request.identifier);
    if (holder !== undefined && holder !== owner)
      return { kind: 'error', code: 'EXTERNAL_ACCOUNT_IN_USE', field: 'identifier' };
    // The claim is made before the owner's bound is looked at, and stays.
    run.cardHolders.set(request.identifier, owner);
  }
  const mine = run.links.filter((l) => l.owner === owner);
  const same = mine.find(
    (l) =>
      l.kind === request.kind &&
      l.channel === request.channel &&
      l.identifier === request.identifier &&
      l.currency === request.currency,
  );
  if (same) {
    if (same.status === 'REJECTED' || same.status === 'UNLINKED') same.status = 'PENDING';
    return { kind: 'same', link: same };
  }
  if (mine.length >= externalAccountsPerOwnerMax) return { kind: 'error', code: 'INVALID_INPUT', field: 'ownerId' };
  return { kind: 'new' };
}

/** A verdict on a link: PENDING moves to it, the same verdict again answers it, the other is INVALID_INPUT. */
export function predictVerify(link: ModelLink, verified: boolean): { status: LinkStatus } | { code: 'INVALID_INPUT' } {
  const verdict: LinkStatus = verified ? 'VERIFIED' : 'REJECTED';
  if (link.status === 'PENDING' || link.status === verdict) return { status: verdict };
  return { code: 'INVALID_INPUT' };
}

export type MoveExpected = { kind: 'ok' } | { kind: 'error'; code: string; field?: string; linkStatus?: LinkStatus };

/**
 * A payout to a link, or a deposit from one, of `owner`'s account: the link must be the owner's (another's is not
 * found), VERIFIED for a payout (neither REJECTED nor UNLINKED for a deposit), in the movement's currency, at the
 * channel that records it (if a channel does); a payout the account cannot cover is INSUFFICIENT_FUNDS.
 */
export function predictMove(
  kind: 'DEPOSIT' | 'WITHDRAWAL',
  owner: LinkOwner,
  ownerIndex: number,
  link: ModelLink,
  movement: { amount: bigint; currency: string; callerChannel: string | null },
): MoveExpected {
  if (link.owner !== ownerIndex) return { kind: 'error', code: 'EXTERNAL_ACCOUNT_NOT_FOUND' };
  const usable = kind === 'WITHDRAWAL' ? link.status === 'VERIFIED' : ['VERIFIED', 'PENDING'].includes(link.status);
  if (!usable) return { kind: 'error', code: 'EXTERNAL_ACCOUNT_NOT_VERIFIED', linkStatus: link.status };
  if (link.currency !== movement.currency) return { kind: 'error', code: 'INVALID_INPUT', field: 'currency' };
  if (movement.callerChannel !== null && movement.callerChannel !== link.channel)
    return { kind: 'error', code: 'INVALID_INPUT', field: 'channel' };
  if (kind === 'WITHDRAWAL' && owner.balance < movement.amount) return { kind: 'error', code: 'INSUFFICIENT_FUNDS' };
  return { kind: 'ok' };
}

// --- The operations ---

type Tally = Map<string, number>;
const count = (tally: Tally, what: string): void =>
  void tally.set(`link: ${what}`, (tally.get(`link: ${what}`) ?? 0) + 1);

/**
 * One link operation, drawn from the links' stream; answers null when the answers (and then both owners' balances,
 * and for a hostile step or every portfolioEvery-th the links the service holds) are the model's, else what differs.
 */
export async function linkStep(s: Sender, run: LinkRun, operator: string, tally: Tally): Promise<string | null> {
  const r = run.random;
  const owner = r.below(run.owners.length);
  const roll = r.below(20);
  run.linkSteps++;
  const hostile = roll >= 15;
  const wrong =
    roll < 4
      ? await linkOp(s, run, operator, owner, tally)
      : roll < 7
        ? await verifyOp(s, run, operator, owner, tally)
        : roll < 11
          ? await moveOp(s, run, operator, owner, 'WITHDRAWAL', tally)
          : roll < 14
            ? await moveOp(s, run, operator, owner, 'DEPOSIT', tally)
            : roll < 15
              ? await unlinkOp(s, run, operator, owner, tally)
              : await hostileOp(s, run, operator, owner, tally);
  if (wrong) return wrong;
  return (
    (await checkLinkBalances(s, run, operator)) ??
    (hostile || run.linkSteps % portfolioEvery === 0 ? await checkLinks(s, run, operator) : null)
  );
}

const ownLinks = (run: LinkRun, owner: number): ModelLink[] => run.links.filter((l) => l.owner === owner);

function drawIdentifier(r: SeededRandom, kind: LinkKind): string {
  // IBANs and cards fresh (a card's claim is for every run on these databases); a wallet id from the stream.
  if (kind === 'BANK_ACCOUNT') return freshIban();
  if (kind === 'CARD') return freshCard();
  return `w-${r.below(1_000_000)}`;
}

function displayOf(kind: LinkKind, identifier: string): string {
  if (kind === 'BANK_ACCOUNT') return `${identifier.slice(0, 4)} •••• ${identifier.slice(-4)}`;
  if (kind === 'CARD') return `•••• ${identifier.slice(-4)}`;
  return identifier;
}

const linkDetail = `mutation LinkDetail($input: LinkExternalAccountInput!) { linkExternalAccount(input: $input) {
  __typename ... on ExternalAccount { id ownerId kind channel currency display status }
  ... on UserError { code message } ... on InvalidInput { field } ... on ExternalAccountInUse { inUseField: field } } }`;

/** An owner (or an operator for it) links an account: new, one it linked before (the same link), or a replayed key. */
async function linkOp(s: Sender, run: LinkRun, operator: string, owner: number, tally: Tally): Promise<string | null> {
  const r = run.random;
  const o = run.owners[owner]!;
  const shape = r.below(10);
  const last = run.lastLink ? run.links.find((l) => l.id === run.lastLink!.id) : undefined;
  // Only while the link is usable: a key's replay answers what it made, which a decision since may have changed.
  if (shape === 0 && run.lastLink && (last?.status === 'PENDING' || last?.status === 'VERIFIED')) {
    // The same key again: with its body, the link it made; with another, IDEMPOTENCY_KEY_REUSED, nothing linked.
    const { bearer, input, id } = run.lastLink;
    const other = r.below(2) === 0;
    const body = other ? { ...input, holderName: `other-${r.below(1000)}` } : input;
    const answer = (await s.send(linkDetail, { input: body }, bearer)).data?.linkExternalAccount;
    count(tally, `replayed link key${other ? ' with another body' : ''}: ${answer?.code ?? 'answered'}`);
    if (other)
      return answer?.code === 'IDEMPOTENCY_KEY_REUSED'
        ? null
        : `a link key with another body: ${JSON.stringify(answer)}`;
    return answer?.id === id ? null : `a replayed link key: expected ${id}, got ${JSON.stringify(answer)}`;
  }
  const mine = ownLinks(run, owner);
  const again = shape === 1 && mine.length > 0 ? r.pick(mine) : null;
  const kind: LinkKind = again?.kind ?? r.pick(['BANK_ACCOUNT', 'CARD', 'WALLET'] as const);
  const request = {
    kind,
    channel: again?.channel ?? r.pick(run.channels),
    identifier: again?.identifier ?? drawIdentifier(r, kind),
    currency: again?.currency ?? (r.below(6) === 0 ? 'USD' : accountCurrency),
  };
  const bearer = r.below(4) === 0 ? operator : o.bearer;
  const input = { idempotencyKey: unique('sim-link'), ownerId: o.id, holderName: 'Sim Holder', ...request };
  const answer = (await s.send(linkDetail, { input }, bearer)).data?.linkExternalAccount;
  const expected = predictLink(run, owner, request);
  count(tally, `link ${kind}${again ? ' again' : ''} ${expected.kind === 'error' ? expected.code : 'PENDING'}`);
  if (expected.kind === 'error')
    return answer?.code === expected.code
      ? null
      : `linking (${kind}): expected ${expected.code}, got ${JSON.stringify(answer)}`;
  const want = {
    __typename: 'ExternalAccount',
    ownerId: o.id,
    kind,
    channel: request.channel,
    currency: request.currency,
    display: displayOf(kind, request.identifier),
    status: 'PENDING',
  };
  // An account linked before answers its link as it is now (PENDING again if it was rejected or unlinked).
  if (expected.kind === 'same') want.status = expected.link.status;
  if (!sameFields(answer, want))
    return `linking (${kind}): expected ${JSON.stringify(want)}, got ${JSON.stringify(answer)}`;
  if (expected.kind === 'same' && answer!.id !== expected.link.id)
    return `linking an account linked before: expected its link ${expected.link.id}, got ${answer!.id}`;
  if (expected.kind === 'new') {
    if (run.links.some((l) => l.id === answer!.id)) return `a new link answered an earlier one: ${answer!.id}`;
    run.links.push({ id: answer!.id, owner, ...request, status: 'PENDING' });
  }
  run.lastLink = { bearer, input, id: answer!.id };
  return null;
}

function sameFields(answer: Record<string, unknown> | undefined, want: Record<string, unknown>): boolean {
  return answer !== undefined && answer !== null && Object.entries(want).every(([k, v]) => answer[k] === v);
}

/** The link's channel or an operator verifies (mostly) or rejects one of the owner's links, mostly a PENDING one. */
async function verifyOp(
  s: Sender,
  run: LinkRun,
  operator: string,
  owner: number,
  tally: Tally,
): Promise<string | null> {
  const r = run.random;
  const mine = ownLinks(run, owner);
  if (mine.length === 0) return linkOp(s, run, operator, owner, tally);
  const pending = mine.filter((l) => l.status === 'PENDING');
  const link = pending.length > 0 && r.below(4) !== 0 ? r.pick(pending) : r.pick(mine);
  const verified = r.below(5) !== 0;
  const bearer = r.below(3) === 0 ? operator : run.channelBearers.get(link.channel)!;
  const answer = (await s.send(linkedDocs.verify, { input: { externalAccountId: link.id, verified } }, bearer)).data
    ?.verifyExternalAccount;
  const expected = predictVerify(link, verified);
  count(
    tally,
    `verify ${link.status} as ${verified ? 'VERIFIED' : 'REJECTED'}: ${'code' in expected ? expected.code : expected.status}`,
  );
  if ('code' in expected)
    return answer?.code === expected.code
      ? null
      : `deciding ${link.status} link as ${verified}: expected ${expected.code}, got ${JSON.stringify(answer)}`;
  if (answer?.__typename !== 'ExternalAccount' || answer.id !== link.id || answer.status !== expected.status)
    return `deciding ${link.status} link as ${verified}: expected ${expected.status}, got ${JSON.stringify(answer)}`;
  link.status = expected.status;
  return null;
}

/** The owner unlinks one of its links (UNLINKED, kept; no payout or deposit may name it again). */
async function unlinkOp(
  s: Sender,
  run: LinkRun,
  operator: string,
  owner: number,
  tally: Tally,
): Promise<string | null> {
  const mine = ownLinks(run, owner);
  if (mine.length === 0) return linkOp(s, run, operator, owner, tally);
  const link = run.random.pick(mine);
  const answer = (await s.send(linkedDocs.unlink, { id: link.id }, run.owners[owner]!.bearer)).data
    ?.unlinkExternalAccount;
  count(tally, `unlink ${link.status}`);
  if (answer?.__typename !== 'ExternalAccount' || answer.status !== 'UNLINKED')
    return `unlinking a ${link.status} link: ${JSON.stringify(answer)}`;
  link.status = 'UNLINKED';
  return null;
}

/**
 * A payout to one of the owner's links (mostly a VERIFIED one, sometimes more than it holds), or a deposit from one
 * recorded by its channel (sometimes another channel, or an operator).
 */
async function moveOp(
  s: Sender,
  run: LinkRun,
  operator: string,
  owner: number,
  kind: 'DEPOSIT' | 'WITHDRAWAL',
  tally: Tally,
): Promise<string | null> {
  const r = run.random;
  const mine = ownLinks(run, owner);
  if (mine.length === 0) return linkOp(s, run, operator, owner, tally);
  const usable = mine.filter((l) => l.status === 'VERIFIED' || (kind === 'DEPOSIT' && l.status === 'PENDING'));
  const link = usable.length > 0 && r.below(4) !== 0 ? r.pick(usable) : r.pick(mine);
  const o = run.owners[owner]!;
  const amount =
    kind === 'WITHDRAWAL' && r.below(8) === 0
      ? o.balance + 1n + BigInt(r.below(1000))
      : kind === 'WITHDRAWAL' && r.below(8) === 0
        ? o.balance > 0n
          ? o.balance
          : 1n
        : 1n + BigInt(r.below(50_000));
  const otherChannel = run.channels.find((c) => c !== link.channel)!;
  const recorder =
    kind === 'WITHDRAWAL' ? null : r.below(5) === 0 ? null : r.below(6) === 0 ? otherChannel : link.channel;
  const bearer = kind === 'WITHDRAWAL' ? o.bearer : recorder === null ? operator : run.channelBearers.get(recorder)!;
  return move(s, run, { kind, owner, link, amount, bearer, recorder }, tally, '');
}

/** Sends a payout or deposit naming `link` from `owner`'s account and checks its answer (and the model's balance). */
async function move(
  s: Sender,
  run: LinkRun,
  m: {
    kind: 'DEPOSIT' | 'WITHDRAWAL';
    owner: number;
    link: ModelLink;
    amount: bigint;
    bearer: string;
    recorder: string | null;
  },
  tally: Tally,
  shape: string,
): Promise<string | null> {
  const o = run.owners[m.owner]!;
  const input = {
    idempotencyKey: unique(m.kind === 'DEPOSIT' ? 'sim-ldep' : 'sim-lwd'),
    accountId: o.account,
    amount: String(m.amount),
    currency: accountCurrency,
    externalAccountId: m.link.id,
  };
  const field = m.kind === 'DEPOSIT' ? 'deposit' : 'withdraw';
  const response: GraphQLResponse<Record<string, any>> = await s.send(
    m.kind === 'DEPOSIT' ? linkedDocs.deposit : linkedDocs.withdraw,
    { input },
    m.bearer,
  );
  const answer = response.data?.[field];
  const expected = predictMove(m.kind, o, m.owner, m.link, {
    amount: m.amount,
    currency: accountCurrency,
    callerChannel: m.recorder,
  });
  const what = `${shape}${m.kind === 'DEPOSIT' ? 'deposit from' : 'payout to'} a ${m.link.status} ${m.link.currency} link`;
  count(tally, `${what}: ${expected.kind === 'ok' ? 'SUCCEEDED' : expected.code}`);
  if (expected.kind === 'error') {
    const matches =
      answer?.code === expected.code &&
      (expected.field === undefined || answer.field === expected.field) &&
      (expected.linkStatus === undefined || answer.linkStatus === expected.linkStatus);
    return matches
      ? null
      : `${what} of ${m.amount}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(response)}`;
  }
  if (
    answer?.__typename !== (m.kind === 'DEPOSIT' ? 'Deposit' : 'Withdrawal') ||
    answer.status !== 'SUCCEEDED' ||
    answer.amount !== String(m.amount) ||
    answer.channel !== m.link.channel ||
    answer.externalAccount?.id !== m.link.id ||
    answer.externalAccount?.display !== displayOf(m.link.kind, m.link.identifier)
  )
    return `${what} of ${m.amount}: expected SUCCEEDED at ${m.link.channel}, got ${JSON.stringify(response)}`;
  o.balance += m.kind === 'DEPOSIT' ? m.amount : -m.amount;
  return null;
}

/**
 * What a hostile owner tries, each refused with nothing moved or written: a payout to the other owner's link, to
 * its own unverified link, verifying its own link, linking the other owner's card.
 */
async function hostileOp(
  s: Sender,
  run: LinkRun,
  operator: string,
  owner: number,
  tally: Tally,
): Promise<string | null> {
  const r = run.random;
  const o = run.owners[owner]!;
  const victim = (owner + 1 + r.below(run.owners.length - 1)) % run.owners.length;
  const theirs = ownLinks(run, victim);
  const mine = ownLinks(run, owner);
  const amount = 1n + BigInt(r.below(Number(o.balance > 1000n ? 1000n : o.balance > 0n ? o.balance : 1n)));
  const shape = r.below(4);
  const theirCards = theirs.filter((l) => l.kind === 'CARD');
  if (shape === 0 && theirs.length > 0) {
    const verified = theirs.filter((l) => l.status === 'VERIFIED');
    const link = verified.length > 0 ? r.pick(verified) : r.pick(theirs);
    return move(
      s,
      run,
      { kind: 'WITHDRAWAL', owner, link, amount, bearer: o.bearer, recorder: null },
      tally,
      'hostile: ',
    );
  }
  const pending = mine.filter((l) => l.status === 'PENDING');
  if (shape === 1 && pending.length > 0)
    return move(
      s,
      run,
      { kind: 'WITHDRAWAL', owner, link: r.pick(pending), amount, bearer: o.bearer, recorder: null },
      tally,
      'hostile: ',
    );
  if (shape === 3 && theirCards.length > 0) {
    const card = r.pick(theirCards);
    const input = {
      idempotencyKey: unique('sim-steal'),
      ownerId: o.id,
      kind: 'CARD',
      channel: r.pick(run.channels),
      identifier: card.identifier.replace(/(\d{4})(?=\d)/g, '$1 '),
      currency: card.currency,
    };
    const response = await s.send(linkDetail, { input }, o.bearer);
    const answer = response.data?.linkExternalAccount;
    count(tally, `hostile: link another owner's card ${answer?.code ?? answer?.__typename}`);
    if (answer?.code !== 'EXTERNAL_ACCOUNT_IN_USE' || answer.inUseField !== 'identifier')
      return `linking another owner's card: expected EXTERNAL_ACCOUNT_IN_USE, got ${JSON.stringify(response)}`;
    if (JSON.stringify(response).includes(card.identifier.slice(0, 12))) return `the refusal carries the card's number`;
    return null;
  }
  if (mine.length === 0) return linkOp(s, run, operator, owner, tally);
  // Verifying its own link, either verdict: FORBIDDEN, its status as it was (the links are read back after it).
  const link = r.pick(mine);
  const response = await s.send(
    linkedDocs.verify,
    { input: { externalAccountId: link.id, verified: r.below(4) !== 0 } },
    o.bearer,
  );
  const answer = answerOf(response, 'verifyExternalAccount');
  count(
    tally,
    `hostile: verify its own ${link.status} link ${answer.kind === 'forbidden' ? 'FORBIDDEN' : answer.kind}`,
  );
  return answer.kind === 'forbidden' ? null : `an owner verifying its own link: ${JSON.stringify(response)}`;
}

// --- The checks ---

/** Both owners' accounts hold what the model says, all of it available. */
export async function checkLinkBalances(s: Sender, run: LinkRun, operator: string): Promise<string | null> {
  for (const o of run.owners) {
    const response = await s.send(linkedDocs.balance, { id: o.account }, operator);
    const b = response.data?.account?.balance;
    if (!b) return `reading link owner ${o.id}'s account: ${JSON.stringify(response)}`;
    const total = BigInt(b.available) + BigInt(b.frozen) + BigInt(b.pending);
    if (BigInt(b.available) !== o.balance || total !== o.balance)
      return `link owner ${o.id}'s account holds ${total} (available ${b.available}); the model says ${o.balance}`;
  }
  return null;
}

/** Each owner's links as the service lists them (ownerPortfolio, by an operator): the model's, each in its status. */
export async function checkLinks(s: Sender, run: LinkRun, operator: string): Promise<string | null> {
  for (const [i, o] of run.owners.entries()) {
    const response = await s.send(
      linkedDocs.portfolio,
      { ownerId: o.id, reportingCurrency: accountCurrency },
      operator,
    );
    const listed = response.data?.ownerPortfolio?.externalAccounts as
      Array<{ id: string; status: string; channel: string; currency: string }> | undefined;
    if (!listed) return `reading ${o.id}'s portfolio: ${JSON.stringify(response)}`;
    const got = listed.map((l) => `${l.id} ${l.status} ${l.channel} ${l.currency}`).sort();
    const want = ownLinks(run, i)
      .map((l) => `${l.id} ${l.status} ${l.channel} ${l.currency}`)
      .sort();
    if (JSON.stringify(got) !== JSON.stringify(want))
      return `${o.id}'s links: the service lists ${JSON.stringify(got)}; the model holds ${JSON.stringify(want)}`;
    const ledger = (response.data?.ownerPortfolio?.totals as Array<{ currency: string; ledger: string }>).find(
      (t) => t.currency === accountCurrency,
    );
    if (ledger?.ledger !== String(o.balance))
      return `${o.id}'s portfolio total in ${accountCurrency} is ${ledger?.ledger}; the model says ${o.balance}`;
  }
  return null;
}
