import type { Leg, PostingSpec } from './posting-rules';

/**
 * Intercompany, in one place for every kind of posting (docs/BOOKS.md): a posting whose legs
 * fall in two or more legal entities gets, besides its own legs, legs on intercompany accounts
 * so that each entity's legs sum to zero per currency on their own. An entity whose legs take
 * money out (sum < 0) owes it: a due-to leg (+) in its books; an entity whose legs bring money in
 * is owed: a due-from leg (−) in its. A refund, taking money back the other way, therefore posts
 * the pair the other way. Payments of two legs, splits, FX, bulk, captures, refunds, advances:
 * all are postings, so all are expanded here, by the engine, and by nothing else. Pure.
 */
export type IntercompanyKind = 'INTERCOMPANY_DUE_TO' | 'INTERCOMPANY_DUE_FROM';

/** One intercompany leg to add, before its account is known: whose books, against whom, how much. */
export interface IntercompanyDraft {
  entity: string;
  counterpartyEntity: string;
  kind: IntercompanyKind;
  currency: string;
  /** Signed as a leg: + for a due-to, − for a due-from. */
  amount: bigint;
}

const none: readonly IntercompanyDraft[] = Object.freeze([]);

/**
 * The intercompany legs a posting needs, given each leg's account's entity (undefined for an
 * account that is not there: the rules refuse the posting anyway). The common case, every leg
 * in one entity, returns at the first loop's end without allocating. Between several entities
 * in one currency, debtors are matched to creditors in code order, so the answer is the same
 * for the same posting every time.
 */
export function intercompanyDrafts(
  spec: PostingSpec,
  entityOf: (accountId: string) => string | undefined,
): readonly IntercompanyDraft[] {
  let first: string | undefined;
  let mixed = false;
  for (const leg of spec.legs) {
    const entity = entityOf(leg.accountId);
    if (entity === undefined) return none;
    if (first === undefined) first = entity;
    else if (entity !== first) mixed = true;
  }
  if (!mixed) return none;
  const sums = new Map<string, Map<string, bigint>>();
  for (const leg of spec.legs) {
    const currency = leg.currency ?? spec.currency;
    const perEntity = sums.get(currency) ?? new Map<string, bigint>();
    sums.set(currency, perEntity);
    const entity = entityOf(leg.accountId)!;
    perEntity.set(entity, (perEntity.get(entity) ?? 0n) + leg.amount);
  }
  return [...sums.keys()].sort().flatMap((currency) => pairUp(currency, sums.get(currency)!));
}

/** Matches the entities that owe (sum < 0) with those owed (sum > 0) in one currency. */
function pairUp(currency: string, perEntity: ReadonlyMap<string, bigint>): IntercompanyDraft[] {
  const byCode = [...perEntity].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const debtors = byCode.filter(([, sum]) => sum < 0n).map(([entity, sum]) => ({ entity, left: -sum }));
  const creditors = byCode.filter(([, sum]) => sum > 0n).map(([entity, sum]) => ({ entity, left: sum }));
  const drafts: IntercompanyDraft[] = [];
  let d = 0;
  let c = 0;
  while (d < debtors.length && c < creditors.length) {
    const debtor = debtors[d]!;
    const creditor = creditors[c]!;
    const amount = debtor.left < creditor.left ? debtor.left : creditor.left;
    drafts.push(
      { entity: debtor.entity, counterpartyEntity: creditor.entity, kind: 'INTERCOMPANY_DUE_TO', currency, amount },
      {
        entity: creditor.entity,
        counterpartyEntity: debtor.entity,
        kind: 'INTERCOMPANY_DUE_FROM',
        currency,
        amount: -amount,
      },
    );
    debtor.left -= amount;
    creditor.left -= amount;
    if (debtor.left === 0n) d += 1;
    if (creditor.left === 0n) c += 1;
  }
  return drafts;
}

/** The key an intercompany account is known by: entity, kind, currency, counterparty. */
export function intercompanyKey(draft: Omit<IntercompanyDraft, 'amount'>): string {
  return `${draft.entity}|${draft.kind}|${draft.currency}|${draft.counterpartyEntity}`;
}

/**
 * The posting with its intercompany legs added (the same spec when it needs none). `accountOf`
 * names each draft's account, which the engine has opened and locked by then.
 */
export function expandIntercompany(
  spec: PostingSpec,
  entityOf: (accountId: string) => string | undefined,
  accountOf: (key: string) => string,
): PostingSpec {
  const drafts = intercompanyDrafts(spec, entityOf);
  if (drafts.length === 0) return spec;
  const legs: Leg[] = drafts.map((draft) => ({
    accountId: accountOf(intercompanyKey(draft)),
    bucket: 'AVAILABLE',
    amount: draft.amount,
    currency: draft.currency,
  }));
  return { ...spec, legs: [...spec.legs, ...legs] };
}
