import { expect } from 'vitest';
import { sql } from 'drizzle-orm';
import { newId, shardOf } from '@paygraph/shared/ids';
import { accountsAndStripes, insertAccount, stripeIdOf } from '@paygraph/shared/ledger/index';
import { addDays, businessDateOf } from '@paygraph/shared/business-date';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import { runSettlement } from '@paygraph/settlement/services/settle';
import { reconcile } from '@paygraph/settlement/services/reconcile';
import { counterMismatches, outstandingMismatches } from '@paygraph/settlement/db/ledger-checks';
import type { Stack } from './stack';
import { contractOperation, gql } from './graphql';
import { testSettlementSettings, unique } from './env';
import { systemKindTotal } from './ledger';

/**
 * The helpers of the settlement advance tests (subgraphs/settlement/test/int/advances.test.ts,
 * advance-attacks.test.ts, advance-crash.test.ts): the contract's operations through the
 * gateway, as an operator unless another caller is given, and the advance tables and stripes read
 * by SQL. `stack` and `operator` are asked for at each call: the files make them in beforeAll.
 */
export type Stripes = Map<string, { available: bigint; pending: bigint }>;

export const sum = (values: Iterable<bigint>): bigint => [...values].reduce((a, b) => a + b, 0n);

const docs = {
  terms: contractOperation('SetAdvanceTerms'),
  offer: contractOperation('AdvanceOffer'),
  advance: contractOperation('AdvanceSettlement'),
  refund: contractOperation('RefundPayment'),
  withdraw: contractOperation('Withdraw'),
  credit: contractOperation('SetCreditLimit'),
  feeRate: `mutation($input: SetMerchantFeeRateInput!) { setMerchantFeeRate(input: $input) { __typename } }`,
  settlement: contractOperation('SettlementWithAdvances'),
};

const jsonOf = (value: unknown) => JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? String(v) : v));

export const today = () => businessDateOf(new Date());

/** Each stripe of the merchant as expected: start plus the deltas (others unchanged). */
export function expectStripes(
  now: Stripes,
  start: Stripes,
  deltas: Record<string, { available?: bigint; pending?: bigint }>,
): void {
  // A stripe opened since (the first payment from a shard) started at zero.
  for (const id of new Set([...start.keys(), ...now.keys(), ...Object.keys(deltas)])) {
    const s0 = start.get(id) ?? { available: 0n, pending: 0n };
    const d = deltas[id] ?? {};
    expect(now.get(id), id).toEqual({
      available: s0.available + (d.available ?? 0n),
      pending: s0.pending + (d.pending ?? 0n),
    });
  }
}

type Rows<T> = [T[]];

/** The helpers, as fields bound to the instance (arrow functions), so a file may destructure them. */
export class AdvanceKit {
  constructor(
    private readonly stackOf: () => Stack,
    private readonly operatorOf: () => string,
  ) {}

  readonly q = (doc: string, variables: Record<string, unknown> = {}, as = this.operatorOf()) =>
    gql(this.stackOf().gatewayUrl, doc, variables, as);
  readonly shards = () => this.stackOf().shards;
  readonly physicalOf = (accountId: string) => this.shards().topology.physicalOf[shardOf('account', accountId)]!;
  /** Rows of one statement on the shard that holds `id`. */
  readonly rowsOn = async <T>(id: string, query: ReturnType<typeof sql>): Promise<T[]> =>
    ((await this.shards().of('account', id).db.execute(query)) as unknown as Rows<T>)[0];

  readonly open = async (ownerId: string, type: 'PERSONAL' | 'MERCHANT', as = this.operatorOf()): Promise<string> => {
    const r = await this.q(contractOperation('OpenAccount'), { input: { ownerId, type, currency: 'USD' } }, as);
    expect(r.data!.openAccount.__typename, JSON.stringify(r)).toBe('Account');
    return r.data!.openAccount.id as string;
  };
  readonly deposit = async (accountId: string, amount: string): Promise<void> => {
    const d = await this.q(contractOperation('Deposit'), {
      input: { idempotencyKey: unique('dep'), accountId, amount, currency: 'USD', externalRef: unique('ext') },
    });
    expect(d.data!.deposit.__typename, JSON.stringify(d)).toBe('Deposit');
  };
  /**
   * A funded payer on each physical shard, so that a merchant they pay has a stripe on every shard; by physical shard.
   */
  readonly payersOnEveryShard = async (amount: string): Promise<Map<number, string>> => {
    const found = new Map<number, string>();
    for (let i = 0; i < 200 && found.size < this.shards().all.length; i++) {
      const id = await this.open(unique('payer'), 'PERSONAL');
      const physical = this.physicalOf(id);
      if (found.has(physical)) continue;
      await this.deposit(id, amount);
      found.set(physical, id);
    }
    expect(found.size).toBe(this.shards().all.length);
    return found;
  };
  /**
   * A payer whose payments credit the merchant's home row (its logical shard: stripeIdOf), funded with `amount`, and
   * one of `payers` on another database (when there is another), whose payments credit a stripe there.
   */
  readonly homeAndRemote = async (
    payers: Map<number, string>,
    merchant: string,
    amount = '10000000',
  ): Promise<{ home: string; remote: string }> => {
    const logical = shardOf('account', merchant);
    const home = newId('account', logical);
    await insertAccount(this.shards().byLogical(logical).db, {
      id: home,
      ownerId: unique('payer'),
      type: 'PERSONAL',
      currency: 'USD',
    });
    await this.deposit(home, amount);
    const remote = [...payers.entries()].find(([p]) => p !== this.physicalOf(merchant))?.[1] ?? home;
    return { home, remote };
  };
  readonly pay = async (payer: string, payee: string, amount: string, as = this.operatorOf()): Promise<string> => {
    const r = await this.q(
      contractOperation('CreatePayment'),
      {
        input: { idempotencyKey: unique('pay'), payerAccountId: payer, payeeAccountId: payee, amount, currency: 'USD' },
      },
      as,
    );
    expect(r.data!.createPayment.__typename, JSON.stringify(r)).toBe('Payment');
    expect(r.data!.createPayment.status).toBe('SUCCEEDED');
    return r.data!.createPayment.id as string;
  };
  readonly refund = async (paymentId: string, amount: string, as = this.operatorOf()) =>
    (await this.q(docs.refund, { input: { idempotencyKey: unique('ref'), paymentId, amount } }, as)).data!
      .refundPayment as Record<string, any>;
  readonly withdraw = async (accountId: string, amount: string, as = this.operatorOf()) =>
    (
      await this.q(
        docs.withdraw,
        { input: { idempotencyKey: unique('wdr'), accountId, amount, currency: 'USD', externalRef: unique('out') } },
        as,
      )
    ).data!.withdraw as Record<string, any>;
  /** Every stripe of the merchant (home row included) as stored, by id. */
  readonly stripes = async (merchant: string): Promise<Stripes> => {
    const rows = (
      await Promise.all(this.shards().all.map((s) => accountsAndStripes(s.db, [merchant], [merchant])))
    ).flat();
    return new Map(rows.map((a) => [a.id, { available: a.available, pending: a.pending }]));
  };
  /** The merchant's row a payment of the payer credits: its stripe on the payer's logical shard (stripeIdOf). */
  readonly stripeOf = async (merchant: string, payer: string): Promise<string> => {
    const id = stripeIdOf(merchant, shardOf('account', payer));
    expect((await this.stripes(merchant)).has(id), `a stripe of ${merchant} beside ${payer}`).toBe(true);
    return id;
  };
  /** The account's available and pending over all its rows. */
  readonly balanceOf = async (accountId: string): Promise<{ available: bigint; pending: bigint }> => {
    const rows = [...(await this.stripes(accountId)).values()];
    return { available: sum(rows.map((r) => r.available)), pending: sum(rows.map((r) => r.pending)) };
  };
  readonly advanceRows = (merchant: string) =>
    this.rowsOn<{ id: string; status: string; amount: string; fee: string }>(
      merchant,
      sql`SELECT id, status, CAST(amount AS CHAR) AS amount, CAST(fee_amount AS CHAR) AS fee FROM advances WHERE merchant_account_id = ${merchant} ORDER BY created_at, id`,
    );
  /** The advance's pieces on every shard. */
  readonly piecesOf = async (
    advanceId: string,
  ): Promise<Array<{ stripe: string; amount: bigint; fee: bigint; reversed: boolean }>> => {
    const all = await Promise.all(
      this.shards().all.map(async (s) => {
        const [rows] = (await s.db.execute(
          sql`SELECT stripe_account_id AS stripe, CAST(amount AS CHAR) AS amount, CAST(fee_amount AS CHAR) AS fee, reversed FROM advance_pieces WHERE advance_id = ${advanceId}`,
        )) as unknown as Rows<{ stripe: string; amount: string; fee: string; reversed: number }>;
        return rows.map((r) => ({
          stripe: r.stripe,
          amount: BigInt(r.amount),
          fee: BigInt(r.fee),
          reversed: r.reversed === 1,
        }));
      }),
    );
    return all.flat();
  };
  /** advance_outstanding of every stripe of the merchant, by stripe (a stripe without a row: absent). */
  readonly outstanding = async (merchant: string): Promise<Map<string, bigint>> => {
    const all = await Promise.all(
      this.shards().all.map(async (s) => {
        const [rows] = (await s.db.execute(
          sql`SELECT stripe_account_id AS stripe, CAST(outstanding AS CHAR) AS o FROM advance_outstanding WHERE merchant_account_id = ${merchant}`,
        )) as unknown as Rows<{ stripe: string; o: string }>;
        return rows.map((r) => [r.stripe, BigInt(r.o)] as const);
      }),
    );
    return new Map(all.flat());
  };
  /** What refunds repaid of the stripe's outstanding advance (advance_refund_offsets), by refund. */
  readonly refundOffsets = async (stripe: string): Promise<Array<{ refundId: string; amount: bigint }>> =>
    (
      await this.rowsOn<{ refundId: string; amount: string }>(
        stripe,
        sql`SELECT refund_id AS refundId, CAST(amount AS CHAR) AS amount FROM advance_refund_offsets WHERE stripe_account_id = ${stripe}`,
      )
    ).map((r) => ({ refundId: r.refundId, amount: BigInt(r.amount) }));
  /** The refund top-ups (sweeps from the home row to a stripe) of the merchant, on its home shard. */
  readonly topUps = async (
    merchant: string,
  ): Promise<Array<{ id: string; refundId: string; from: string; to: string; amount: bigint; status: string }>> =>
    (
      await this.rowsOn<{ id: string; refundId: string; from: string; to: string; amount: string; status: string }>(
        merchant,
        sql`SELECT id, withdrawal_id AS refundId, stripe_account_id AS \`from\`, merchant_account_id AS \`to\`, CAST(amount AS CHAR) AS amount, status
          FROM sweeps WHERE stripe_account_id = ${merchant} ORDER BY created_at, id`,
      )
    ).map((r) => ({ ...r, amount: BigInt(r.amount) }));
  /**
   * What a refund moved between the merchant's rows before it gave back (services/refund-top-up.ts), on every shard:
   * pending from another stripe, available from another row.
   */
  readonly moves = async (
    refundId: string,
  ): Promise<Array<{ from: string; to: string; bucket: string; amount: bigint; status: string }>> => {
    const all = await Promise.all(
      this.shards().all.map(async (s) => {
        const [rows] = (await s.db.execute(
          sql`SELECT stripe_account_id AS \`from\`, merchant_account_id AS \`to\`, bucket, CAST(amount AS CHAR) AS amount, status, created_at AS at
            FROM sweeps WHERE withdrawal_id = ${refundId}`,
        )) as unknown as Rows<{ from: string; to: string; bucket: string; amount: string; status: string; at: Date }>;
        return rows;
      }),
    );
    return all
      .flat()
      .sort((a, b) => a.at.getTime() - b.at.getTime())
      .map(({ at: _at, ...r }) => ({ ...r, amount: BigInt(r.amount) }));
  };
  readonly setTerms = (
    merchant: string,
    maxAdvanceBps: number,
    feeBps: number,
    outstandingMax: string,
    as = this.operatorOf(),
  ) => this.q(docs.terms, { input: { merchantAccountId: merchant, maxAdvanceBps, feeBps, outstandingMax } }, as);
  readonly termsOk = async (
    merchant: string,
    maxAdvanceBps: number,
    feeBps: number,
    outstandingMax: string,
  ): Promise<void> => {
    expect(
      (await this.setTerms(merchant, maxAdvanceBps, feeBps, outstandingMax)).data!.setAdvanceTerms.__typename,
    ).toBe('AdvanceTerms');
  };
  readonly feeRate = async (merchant: string, feeBps: number): Promise<void> => {
    expect(
      (await this.q(docs.feeRate, { input: { merchantAccountId: merchant, feeBps } })).data!.setMerchantFeeRate
        .__typename,
    ).toBe('FeeRate');
  };
  readonly advance = (merchant: string, amount: unknown, as = this.operatorOf(), idempotencyKey = unique('adv')) =>
    this.q(docs.advance, { input: { idempotencyKey, merchantAccountId: merchant, amount } }, as);
  readonly offer = async (merchant: string, as = this.operatorOf()) =>
    (await this.q(docs.offer, { merchantAccountId: merchant }, as)).data!.advanceOffer as {
      allowedAmount: string;
      outstanding: string;
      feeBps: number;
    };
  readonly setCredit = async (accountId: string, limit: string): Promise<void> => {
    const r = await this.q(docs.credit, { input: { accountId, limit } });
    expect(r.data!.setCreditLimit.__typename, JSON.stringify(r)).toBe('Account');
  };
  readonly feeIncome = () => systemKindTotal(this.shards(), 'FEE_INCOME', 'USD');
  /** Settles the merchant's date with a clock a day after it, as the worker would. */
  readonly settle = async (merchant: string, date = today(), shards: ShardSet = this.shards()) => {
    const r = await runSettlement(
      shards,
      merchant,
      date,
      () => new Date(`${addDays(date, 1)}T12:00:00Z`),
      testSettlementSettings(),
    );
    expect(r.ok, jsonOf(r)).toBe(true);
    return r.ok ? r.value : (undefined as never);
  };
  readonly settlementView = async (id: string, as = this.operatorOf()) =>
    (await this.q(docs.settlement, { id }, as)).data!.settlement as Record<string, string>;
  /**
   * The books agree: every shard balances, reconciliation finds no settlement or balance mismatch, and every stripe's
   * outstanding advance is its pieces less what settlements covered and refunds moved (`npm run verify`'s check).
   */
  readonly booksAgree = async (dates: string[] = [today()]) => {
    expect((await this.q(`{ ledgerHealth { balanced } }`)).data!.ledgerHealth.balanced).toBe(true);
    for (const date of dates) {
      const bad = (await reconcile(this.shards(), date)).filter(
        (d) => d.kind === 'SETTLEMENT_MISMATCH' || d.kind === 'BALANCE_MISMATCH',
      );
      expect(bad.map(jsonOf)).toEqual([]);
    }
    const counters = await Promise.all(this.shards().all.map((s) => outstandingMismatches(s.db)));
    expect(counters.flat().map(jsonOf)).toEqual([]);
    const covered = await Promise.all(this.shards().all.map((s) => counterMismatches(s.db)));
    expect(covered.flat().map(jsonOf)).toEqual([]);
  };
}
