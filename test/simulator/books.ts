import { rawRows } from '@paygraph/shared/db/raw';
import { entityByCode, glCodesOf, totalSubtotalCheck } from '@paygraph/shared/ledger/index';
import { entityNets } from '@paygraph/shared/ledger/store/entity-health';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import { contractOperation } from '../support/graphql';
import { balanceOf, type Model } from './model';
import type { Sender } from './driver';

/**
 * Issue 49 in the simulator: legal entities of the run's own, accounts opened in them, and the
 * checks of their books after every step. The model has no rule of its own for them (the
 * intercompany legs are the ledger's): what it knows is each account's balance, and so what each
 * entity's customer and merchant classes must hold. Each check answers the first difference as a
 * sentence, or null.
 */
export const booksDocs = {
  createEntity: contractOperation('CreateEntity'),
  openAccountInEntity: contractOperation('OpenAccountInEntity'),
  trialBalance: contractOperation('TrialBalance'),
  intercompanyPosition: contractOperation('IntercompanyPosition'),
  generalLedgerExport: contractOperation('GeneralLedgerExport'),
  setGlCode: contractOperation('SetGlCode'),
};

export const platformEntity = 'PLATFORM';

/**
 * The run's entities: two or three, fresh codes (the test databases are shared with other
 * files), each in a country and functional currency of its own. Letters first so that their
 * order against PLATFORM (the order the ledger matches debtors to creditors in) is the same
 * every run.
 */
export function entityPlan(count: number, suffix: string) {
  const places = [
    { country: 'DE', functionalCurrency: 'EUR' },
    { country: 'JP', functionalCurrency: 'JPY' },
    { country: 'KW', functionalCurrency: 'KWD' },
  ];
  return places.slice(0, count).map((p, i) => ({
    code: `${'ABC'[i]}-${suffix}`,
    name: `Simulator entity ${i + 1}`,
    ...p,
  }));
}

export async function createEntities(s: Sender, operator: string, plan: ReturnType<typeof entityPlan>): Promise<void> {
  for (const input of plan) {
    const response = await s.send(booksDocs.createEntity, { input }, operator);
    if (response.data?.createEntity?.__typename !== 'Entity')
      throw new Error(`createEntity failed: ${JSON.stringify(response)}`);
  }
}

/**
 * Every shard: each entity of the run (and PLATFORM, which the services' system accounts are
 * in) nets to zero per currency, read from accounts as ledgerHealth reads it (`entities`), one
 * statement a shard; and each of the run's entities is there on every shard it has an account
 * on, so a check that lost it would not pass by saying nothing.
 */
export async function checkEntityNets(
  shards: ShardSet,
  entities: readonly string[],
  shardsOf: ReadonlyMap<string, ReadonlySet<number>>,
): Promise<string | null> {
  const watched = new Set([...entities, platformEntity]);
  const perShard = await Promise.all(shards.all.map((shard) => entityNets(shard)));
  for (const [index, nets] of perShard.entries()) {
    const bad = nets.filter((n) => watched.has(n.entity) && n.net !== 0n);
    if (bad.length > 0)
      return `entity books do not net to zero on database ${index}: ${bad.map((n) => `${n.entity} ${n.currency} ${n.net}`).join('; ')}`;
    for (const entity of entities)
      if (shardsOf.get(entity)?.has(index) && !nets.some((n) => n.entity === entity))
        return `ledgerHealth's entity lines on database ${index} leave out ${entity}, which has accounts there`;
  }
  return null;
}

type Line = { fromEntity: string; toEntity: string; currency: string; amount: string };

/**
 * The intercompany position: IntercompanyPosition answers, for each pair with one of the run's
 * entities, what the intercompany accounts hold (Σ over every shard of each entity's due-to and
 * due-from balances against the other: positive is owed), and the two sides agree (A's towards
 * B is minus B's towards A), read from the accounts, not from the sums the query reads. `owed`
 * gets how many lines name one of the run's entities (the run's tally: the check saw some).
 */
export async function checkIntercompany(
  s: Sender,
  shards: ShardSet,
  operator: string,
  entities: readonly string[],
  asOf: string,
  owed: { count: number },
): Promise<string | null> {
  const response = await s.send(booksDocs.intercompanyPosition, { asOf }, operator);
  if (response.errors) return `IntercompanyPosition failed: ${JSON.stringify(response.errors)}`;
  const ours = (e: string) => entities.includes(e);
  const lines = (response.data!.intercompanyPosition as Line[]).filter((l) => ours(l.fromEntity) || ours(l.toEntity));
  const nets = new Map<string, bigint>();
  for (const shard of shards.all) {
    const rows = await rawRows<{ e: string; cp: string; c: string; n: string }>(
      shard,
      `SELECT entity AS e, counterparty_entity AS cp, currency AS c, SUM(available + frozen + pending) AS n
       FROM accounts WHERE type = 'SYSTEM' AND system_kind IN ('INTERCOMPANY_DUE_TO', 'INTERCOMPANY_DUE_FROM')
         AND (entity IN (?) OR counterparty_entity IN (?)) GROUP BY entity, counterparty_entity, currency`,
      [entities, entities],
    );
    for (const r of rows) nets.set(`${r.e}|${r.cp}|${r.c}`, (nets.get(`${r.e}|${r.cp}|${r.c}`) ?? 0n) + BigInt(r.n));
  }
  for (const [key, net] of nets) {
    const [from, to, currency] = key.split('|') as [string, string, string];
    const mirror = nets.get(`${to}|${from}|${currency}`) ?? 0n;
    if (mirror !== -net)
      return `intercompany accounts disagree: ${from} towards ${to} holds ${net} ${currency}, ${to} towards ${from} ${mirror}`;
    const line = lines.find((l) => l.fromEntity === from && l.toEntity === to && l.currency === currency);
    if (net > 0n && line?.amount !== String(net))
      return `IntercompanyPosition: ${from} owes ${to} ${line?.amount ?? 'nothing'} ${currency}; its accounts say ${net}`;
  }
  const extra = lines.find((l) => (nets.get(`${l.fromEntity}|${l.toEntity}|${l.currency}`) ?? 0n) <= 0n);
  if (extra) return `IntercompanyPosition answers ${JSON.stringify(extra)}, which no intercompany account holds`;
  owed.count = lines.length;
  return null;
}

type TrialCurrency = {
  currency: string;
  balanced: boolean;
  lines: Array<{ ledgerClass: string; debit: string; credit: string; balance: string }>;
};

/**
 * Each of the run's entities' TrialBalance at today's business date: every currency balanced,
 * and its customer and merchant classes equal to what the model says the entity's accounts hold
 * (balance = debit − credit, so minus the money held: CUSTOMER_FUNDS every bucket of its
 * personal accounts, MERCHANT_FUNDS its merchants' available and frozen, MERCHANT_PENDING their
 * pending).
 */
export async function checkTrialBalances(
  s: Sender,
  operator: string,
  m: Model,
  entityOf: readonly string[],
  entities: readonly string[],
  asOf: string,
): Promise<string | null> {
  for (const entity of entities) {
    const response = await s.send(booksDocs.trialBalance, { entity, asOf }, operator);
    if (response.errors) return `TrialBalance of ${entity} failed: ${JSON.stringify(response.errors)}`;
    const currencies = response.data!.trialBalance.currencies as TrialCurrency[];
    const unbalanced = currencies.find((c) => !c.balanced);
    if (unbalanced) return `TrialBalance of ${entity} on ${asOf}: ${unbalanced.currency} not balanced`;
    const want = new Map<string, bigint>();
    const add = (ledgerClass: string, currency: string, amount: bigint) =>
      want.set(`${ledgerClass}|${currency}`, (want.get(`${ledgerClass}|${currency}`) ?? 0n) - amount);
    for (const a of m.accounts) {
      if (entityOf[a.handle] !== entity) continue;
      const b = balanceOf(a);
      if (a.type === 'PERSONAL') add('CUSTOMER_FUNDS', a.currency, b.available + b.pending + b.frozen);
      else {
        add('MERCHANT_FUNDS', a.currency, b.available + b.frozen);
        add('MERCHANT_PENDING', a.currency, b.pending);
      }
    }
    for (const [key, balance] of want) {
      const [ledgerClass, currency] = key.split('|') as [string, string];
      const line = currencies.find((c) => c.currency === currency)?.lines.find((l) => l.ledgerClass === ledgerClass);
      if ((line ? BigInt(line.balance) : 0n) !== balance)
        return `TrialBalance of ${entity} on ${asOf}: ${ledgerClass} ${currency} balance ${line?.balance ?? 'absent'}; its accounts hold ${-balance}, so the model says ${balance}`;
    }
  }
  return null;
}

/** The total–subtotal differences of the entities watched, as sentences, in a stable order. */
export async function totalSubtotalOf(shards: ShardSet, entities: readonly string[]): Promise<string[]> {
  const watched = new Set([...entities, platformEntity]);
  return (await totalSubtotalCheck(shards))
    .filter((d) => watched.has(d.entity))
    .map((d) => `${d.shard} ${d.entity} ${d.ledgerClass} ${d.currency}: books ${d.total}, accounts ${d.subtotal}`)
    .sort();
}

/**
 * The total–subtotal check (ledger/books.ts, as `npm run verify` and the books worker run it) for
 * the run's entities and PLATFORM: no difference but those PLATFORM had before the run began
 * (other test files share the databases, and one of them makes a difference on purpose in an
 * entity of its own; PLATFORM's are taken as found).
 */
export async function checkTotalSubtotal(
  shards: ShardSet,
  entities: readonly string[],
  before: readonly string[],
): Promise<string | null> {
  const now = await totalSubtotalOf(shards, entities);
  const added = now.filter((d) => !before.includes(d));
  const gone = before.filter((d) => !now.includes(d));
  if (added.length === 0 && gone.length === 0) return null;
  return `total–subtotal check: ${[...added.map((d) => `new difference ${d}`), ...gone.map((d) => `difference gone ${d}`)].join('; ')}`;
}

/**
 * A customer asking for the books (issue 49's hostile shape): each of the operators' books
 * operations answers FORBIDDEN, and nothing is written (no entity made, no GL code mapped).
 * Which one is asked comes from the run's entity stream.
 */
export async function customerAsksForBooks(
  s: Sender,
  shards: ShardSet,
  customer: string,
  entity: string,
  asOf: string,
  which: number,
  fresh: string,
): Promise<string | null> {
  const control = shards.all[0]!.db;
  const codesBefore = await glCodesOf(control, entity);
  const asks: Array<[string, string, Record<string, unknown>]> = [
    ['trialBalance', booksDocs.trialBalance, { entity, asOf }],
    ['intercompanyPosition', booksDocs.intercompanyPosition, { asOf }],
    ['generalLedgerExport', booksDocs.generalLedgerExport, { entity, businessDate: asOf }],
    ['setGlCode', booksDocs.setGlCode, { input: { entity, ledgerClass: 'CUSTOMER_FUNDS', glCode: 'HOSTILE-1000' } }],
    [
      'createEntity',
      booksDocs.createEntity,
      { input: { code: fresh, name: 'Hostile', country: 'FR', functionalCurrency: 'EUR' } },
    ],
  ];
  const [field, doc, variables] = asks[which % asks.length]!;
  const response = await s.send(doc, variables, customer);
  const codes = (response.errors ?? []).map((e) => e.extensions?.code);
  if (codes.length === 0 || codes.some((c) => c !== 'FORBIDDEN') || response.data?.[field])
    return `a customer's ${field} was not FORBIDDEN: ${JSON.stringify(response)}`;
  if (await entityByCode(control, fresh)) return `a customer's createEntity made entity ${fresh}`;
  const codesAfter = await glCodesOf(control, entity);
  if (JSON.stringify([...codesAfter]) !== JSON.stringify([...codesBefore]))
    return `a customer's setGlCode changed ${entity}'s GL codes: ${JSON.stringify([...codesAfter])}`;
  return null;
}
