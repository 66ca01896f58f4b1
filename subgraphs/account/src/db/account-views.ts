import type { ShardSet, Shard } from '@paygraph/shared/shards/pool';
import { parseId } from '@paygraph/shared/ids';
import {
  accountsAndStripes,
  accountsByOwner,
  accountsWithHeadPages,
  type Account,
  type EntryLine,
  placedHere,
  stripeShardsOf,
} from '@paygraph/shared/ledger/index';
import { Coalescer } from '@paygraph/shared/shards/coalescer';
import { asShardUnavailable, isShardUnreachable, type ShardUnavailable } from '@paygraph/shared/shards/unavailable';
import { buildViews, type AccountView } from '../domain/account-view';

export interface LoadedViews {
  views: Map<string, AccountView>;
  /** Accounts whose own shard could not be reached: each answers SHARD_UNAVAILABLE alone. */
  failed: Map<string, ShardUnavailable>;
}

/**
 * The newest entries of an account's own row (not its stripes'), `limit` at most, read in the
 * same round trip as the account when the request's selection asked for its first page. Kept
 * per request beside the views (the context's entriesRead) rather than in them, so that the view
 * (domain/account-view.ts) stays free of db/ row types.
 */
export interface HeadEntries {
  limit: number;
  rows: EntryLine[];
}

/** The head page read with the account, when it was read with the page `first` asks for (limit first + 1). */
export function headEntriesOf(
  read: ReadonlyMap<string, HeadEntries>,
  accountId: string,
  limit: number,
): EntryLine[] | null {
  const page = read.get(accountId);
  return page !== undefined && page.limit === limit ? page.rows : null;
}

/**
 * Account reads, batched per shard: one round trip per home shard for the requested accounts
 * living there (a primary-key read), with the newest entries of those in `headPages` (recorded in `headPagesRead`;
 * limit by
 * id) read in the same round trip, then, for merchants only, one per shard their stripe
 * directories name (ledger/stripes.ts). A PERSONAL account and its first page of entries cost one
 * round trip to its own shard, and a shard holding nothing asked for is not asked. A shard that
 * cannot be reached fails only the accounts that need it: those living there (`failed`), and
 * merchants with a stripe there, which come back with `unreadStripeShard` set and show no balance.
 */
export async function loadAccountViews(
  shards: ShardSet,
  ids: readonly string[],
  headPages: ReadonlyMap<string, number> = new Map(),
  headPagesRead: Map<string, HeadEntries> = new Map(),
): Promise<LoadedViews> {
  const byHome = new Map<Shard, string[]>();
  for (const id of new Set(ids)) {
    const parsed = parseId('account', id);
    if (parsed) addTo(byHome, shards.byLogical(parsed.shard), id);
  }
  const down = new Map<Shard, ShardUnavailable>();
  const pagesRead = new Map<string, { limit: number; rows: EntryLine[] }>();
  const homes = await eachReachable(byHome, down, async (shard, list) => {
    const pages = list.flatMap((id) => {
      const limit = headPages.get(id);
      return limit === undefined ? [] : [{ accountId: id, limit }];
    });
    const read = await accountsWithHeadPages(shard.db, list, pages);
    for (const page of pages)
      pagesRead.set(page.accountId, { limit: page.limit, rows: read.headPages.get(page.accountId) ?? [] });
    return read.accounts;
  });
  const byStripeShard = new Map<Shard, string[]>();
  for (const home of homes) for (const shard of stripeShardsOf(shards, home)) addTo(byStripeShard, shard, home.id);
  // Each stripe from the database the map places it on: a shard move's copy of a stripe (left on its source until the
  // move's clean, arriving on its target before the switch) was added to the merchant's balance beside the live one.
  const stripes = await eachReachable(byStripeShard, down, async (shard, parents) =>
    (await accountsAndStripes(shard.db, [], parents)).filter((stripe) => placedHere(shards, shard, stripe.id)),
  );
  const views = buildViews([...homes, ...stripes]);
  for (const [id, page] of pagesRead) if (views.has(id)) headPagesRead.set(id, page);
  const failed = new Map<string, ShardUnavailable>();
  if (down.size > 0) {
    markUnreadStripes(shards, homes, views, down);
    for (const [shard, list] of byHome) if (down.has(shard)) for (const id of list) failed.set(id, down.get(shard)!);
  }
  return { views, failed };
}

export interface OwnerPage {
  views: AccountView[];
  hasNextPage: boolean;
  /** Shards that could not be read: their accounts are missing from `views`. */
  unavailable: ShardUnavailable[];
}

/**
 * An owner's accounts after `afterId`, in id (= creation) order, merged across shards: this
 * read asks every shard, since an owner's accounts may live on any. A shard that cannot be
 * reached leaves its accounts out (listed in `unavailable`) rather than failing the page; a
 * merchant listed from another shard whose directory names that shard gets
 * `unreadStripeShard`, since its balance would be short of that stripe.
 */
export async function loadOwnerPage(
  shards: ShardSet,
  ownerId: string,
  afterId: string | null,
  first: number,
): Promise<OwnerPage> {
  const down = new Map<Shard, ShardUnavailable>();
  const rows = await eachReachable(new Map(shards.all.map((s) => [s, null])), down, (shard) =>
    accountsByOwner(shard.db, ownerId, afterId, first + 1, shards.placement.placedLogicals(shard)),
  );
  const views = buildViews(rows);
  if (down.size > 0) markUnreadStripes(shards, rows, views, down);
  const sorted = [...views.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { views: sorted.slice(0, first), hasNextPage: sorted.length > first, unavailable: [...down.values()] };
}

/**
 * One read per shard, in parallel. A shard that cannot be reached is recorded in `down` and
 * contributes nothing; any other failure fails the whole read.
 */
async function eachReachable<K>(
  work: ReadonlyMap<Shard, K>,
  down: Map<Shard, ShardUnavailable>,
  read: (shard: Shard, key: K) => Promise<Account[]>,
): Promise<Account[]> {
  const asked = [...work];
  const answers = await Promise.allSettled(asked.map(([shard, key]) => read(shard, key)));
  const rows: Account[] = [];
  answers.forEach((answer, i) => {
    const shard = asked[i]![0];
    if (answer.status === 'fulfilled') rows.push(...answer.value);
    else if (isShardUnreachable(answer.reason))
      down.set(shard, asShardUnavailable(shard.name, answer.reason) as ShardUnavailable);
    else throw answer.reason;
  });
  return rows;
}

/** Merchants with a stripe on a shard that is down show no balance rather than one short of that stripe. */
function markUnreadStripes(
  shards: ShardSet,
  rows: readonly Account[],
  views: Map<string, AccountView>,
  down: ReadonlyMap<Shard, ShardUnavailable>,
): void {
  for (const row of rows) {
    const view = row.parentId === null ? views.get(row.id) : undefined;
    const missing = view ? stripeShardsOf(shards, row).find((s) => down.has(s)) : undefined;
    if (view && missing) view.unreadStripeShard = missing.name;
  }
}

function addTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/**
 * A reader of accounts rows by id, their own row only (a merchant's stripes are not read): the
 * rows of concurrent requests on one shard in one statement (shards/coalescer.ts), each request
 * answered the row as a statement sent after it asked read it. For the rendered answers' check of
 * an account's state (services/rendered-answers.ts): a primary-key read per request was most of
 * what a served read cost the account subgraph (its writes to MySQL's socket). Null for an id that
 * names no row, or a stripe's. Locks: none.
 */
export function accountRowReader(): (shards: ShardSet, id: string) => Promise<Account | null> {
  const rows = new Coalescer<string, Account | null>('account rows', async (shard, ids) => {
    const read = await accountsAndStripes(shard.db, [...new Set(ids)], []);
    const byId = new Map(read.filter((r) => r.parentId === null).map((r) => [r.id, r]));
    return ids.map((id) => byId.get(id) ?? null);
  });
  return (shards, id) => {
    const parsed = parseId('account', id);
    return parsed ? rows.load(shards.byLogical(parsed.shard), id) : Promise.resolve(null);
  };
}
