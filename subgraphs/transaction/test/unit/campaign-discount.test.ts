import { describe, expect, it } from 'vitest';
import {
  campaignDiscount,
  planLegs,
  receivingShares,
  refundLegChanges,
  type CampaignTerms,
  type ReceivingShare,
} from '../../src/domain/payment-legs';
import { useSeededRandom } from '../../../../test/support/seeded-random';

const random = useSeededRandom();
const now = new Date('2026-01-01T00:00:00Z');

function terms(t: Partial<CampaignTerms>): CampaignTerms {
  return {
    id: 'cmp_1',
    currency: 'USD',
    percentOffBps: null,
    amountOff: null,
    maxDiscountPerPayment: null,
    payeeAccountIds: null,
    endsAt: null,
    ...t,
  };
}

function receiving(...legs: Array<[string, string, bigint]>): ReceivingShare[] {
  return legs.map(([accountId, ownerId, amount]) => ({ accountId, ownerId, amount }));
}

function discount(c: CampaignTerms, legs: ReceivingShare[], payerOwnerId = 'buyer', currency = 'USD') {
  return campaignDiscount(c, { payerOwnerId, currency, receiving: legs }, now);
}

function refusal(result: ReturnType<typeof discount>): string | null {
  return result.ok ? null : result.error.kind;
}

/** Issue 31: a campaign pays only for what it was funded for. */
describe('campaignDiscount', () => {
  it("refuses when a split of the whole amount goes to the payer owner's second account, the shop's leg 0", () => {
    const shop = terms({ percentOffBps: 5000, payeeAccountIds: ['shop'] });
    expect(refusal(discount(shop, receiving(['shop', 'merchant', 0n], ['buyer-2', 'buyer', 1000n])))).toBe(
      'CampaignNotApplicable',
    );
  });

  it("refuses an open campaign on a transfer between one owner's accounts, and any payment one of whose receivers is the payer's owner's", () => {
    expect(refusal(discount(terms({ percentOffBps: 5000 }), receiving(['buyer-2', 'buyer', 1000n])))).toBe(
      'CampaignNotApplicable',
    );
    expect(
      refusal(discount(terms({ amountOff: 10n }), receiving(['shop', 'merchant', 990n], ['buyer-2', 'buyer', 10n]))),
    ).toBe('CampaignNotApplicable');
    // Even a receiving leg of 0: the payee's leg when splits take the whole amount.
    expect(
      refusal(discount(terms({ amountOff: 10n }), receiving(['buyer-2', 'buyer', 0n], ['shop', 'merchant', 1000n]))),
    ).toBe('CampaignNotApplicable');
    const limited = terms({ percentOffBps: 5000, payeeAccountIds: ['shop', 'buyer-2'] });
    expect(refusal(discount(limited, receiving(['shop', 'merchant', 500n], ['buyer-2', 'buyer', 500n])))).toBe(
      'CampaignNotApplicable',
    );
  });

  it('discounts only the share eligible accounts receive', () => {
    const shop = terms({ percentOffBps: 5000, payeeAccountIds: ['shop'] });
    expect(discount(shop, receiving(['shop', 'merchant', 601n], ['platform', 'platform-owner', 399n]))).toEqual({
      ok: true,
      value: 300n,
    });
    // An eligible split and an ineligible payee: the split's share.
    expect(discount(shop, receiving(['other', 'other-owner', 700n], ['shop', 'merchant', 300n]))).toEqual({
      ok: true,
      value: 150n,
    });
    const off = terms({ amountOff: 250n, payeeAccountIds: ['shop'] });
    expect(discount(off, receiving(['shop', 'merchant', 200n], ['platform', 'platform-owner', 800n]))).toEqual({
      ok: true,
      value: 200n,
    });
    const capped = terms({
      percentOffBps: 10_000,
      maxDiscountPerPayment: 120n,
      payeeAccountIds: ['shop', 'co-seller'],
    });
    expect(
      discount(
        capped,
        receiving(['shop', 'merchant', 100n], ['co-seller', 'seller', 50n], ['platform', 'platform-owner', 850n]),
      ),
    ).toEqual({ ok: true, value: 120n });
    // An open campaign: every receiving leg is eligible, so the whole amount.
    expect(
      discount(
        terms({ percentOffBps: 3333 }),
        receiving(['shop', 'merchant', 334n], ['a', 'a', 333n], ['b', 'b', 334n]),
      ),
    ).toEqual({ ok: true, value: 333n });
  });

  it('refuses when no eligible account receives anything, and keeps a computed 0 as no discount', () => {
    const shop = terms({ percentOffBps: 5000, payeeAccountIds: ['shop'] });
    expect(refusal(discount(shop, receiving(['other', 'other-owner', 1000n])))).toBe('CampaignNotApplicable');
    expect(refusal(discount(shop, receiving(['shop', 'merchant', 0n], ['other', 'other-owner', 1000n])))).toBe(
      'CampaignNotApplicable',
    );
    expect(discount(terms({ percentOffBps: 1 }), receiving(['shop', 'merchant', 9_999n]))).toEqual({
      ok: true,
      value: 0n,
    });
  });

  it('refuses an ended campaign and one in another currency, as before', () => {
    const legs = receiving(['shop', 'merchant', 1000n]);
    expect(refusal(discount(terms({ percentOffBps: 100, endsAt: now }), legs))).toBe('CampaignNotApplicable');
    expect(refusal(discount(terms({ percentOffBps: 100 }), legs, 'buyer', 'EUR'))).toBe('CampaignNotApplicable');
  });

  it('sees the payee leg as amount - splits and every split, through planLegs', () => {
    const legs = planLegs({
      payerAccountId: 'buyer-1',
      payeeAccountId: 'shop',
      amount: 1000n,
      currency: 'USD',
      splits: [{ accountId: 'buyer-2', amount: 1000n }],
      discount: null,
    });
    expect(legs.ok).toBe(true);
    const owners: Record<string, string> = { shop: 'merchant', 'buyer-2': 'buyer' };
    expect(receivingShares(legs.ok ? legs.value : [], (id) => owners[id]!)).toEqual(
      receiving(['shop', 'merchant', 0n], ['buyer-2', 'buyer', 1000n]),
    );
  });
});

describe('refunds of a discounted split payment', () => {
  it('never return more to payer and campaign than was paid, one unit at a time, and a full refund restores every leg exactly', () => {
    for (let run = 0; run < 50; run++) {
      const amount = BigInt(random.between(1, 1500));
      const split = BigInt(random.between(0, Number(amount)));
      const payee = amount - split;
      const c =
        random.below(2) === 0
          ? terms({ percentOffBps: random.between(1, 10_000), payeeAccountIds: ['shop'] })
          : terms({ amountOff: BigInt(random.between(1, 5000)), payeeAccountIds: ['shop'] });
      const decided = discount(c, receiving(['shop', 'merchant', payee], ['platform', 'platform-owner', split]));
      if (!decided.ok) {
        expect(payee, `seed ${random.seed} run ${run}`).toBe(0n);
        continue;
      }
      const planned = planLegs({
        payerAccountId: 'buyer',
        payeeAccountId: 'shop',
        amount,
        currency: 'USD',
        splits: [{ accountId: 'platform', amount: split }],
        discount: { fundingAccountId: 'fund', amount: decided.value },
      });
      expect(planned.ok).toBe(true);
      const legs = (planned.ok ? planned.value : []).map((l) => ({ ...l, refunded: 0n }));
      for (let refunded = 1n; refunded <= amount; refunded++) {
        const changes = refundLegChanges(legs, amount, refunded);
        legs.forEach((l, i) => (l.refunded += changes[i]!));
        const paying = legs.filter((l) => l.role === 'PAYER' || l.role === 'CAMPAIGN');
        expect(paying.reduce((sum, l) => sum + l.refunded, 0n)).toBe(refunded);
        for (const l of legs)
          expect(l.refunded <= l.amount && l.refunded >= 0n, `seed ${random.seed} run ${run} ${l.role}`).toBe(true);
        const campaignLeg = legs.find((l) => l.role === 'CAMPAIGN');
        if (campaignLeg) {
          // Rounded up, in the funder's favour: net, the campaign never paid more than its share of what was kept.
          expect(campaignLeg.refunded).toBe((refunded * campaignLeg.amount + amount - 1n) / amount);
          expect(campaignLeg.amount - campaignLeg.refunded, `seed ${random.seed} run ${run}`).toBe(
            ((amount - refunded) * campaignLeg.amount) / amount,
          );
        }
      }
      for (const l of legs) expect(l.refunded, `seed ${random.seed} run ${run} ${l.role}`).toBe(l.amount);
    }
  });
});

describe('refunds of a discounted payment (issue 31: refunds follow the same shares)', () => {
  it("gives a 3-unit payment's campaign of 1 its unit back with a refund of 2, so the campaign pays nothing for the 1-unit purchase kept", () => {
    // A 50% open campaign discounts 3 JPY by floor(1.5) = 1; the 1 unit kept is discounted by floor(0.5) = 0.
    const legs = [
      { role: 'PAYER' as const, amount: 2n, refunded: 0n },
      { role: 'CAMPAIGN' as const, amount: 1n, refunded: 0n },
      { role: 'PAYEE' as const, amount: 3n, refunded: 0n },
    ];
    expect(refundLegChanges(legs, 3n, 2n)).toEqual([1n, 1n, 2n]);
  });
});

describe('refunds of a payment with splits: no receiver gives back more than it received', () => {
  // The simulator's seed 1814216641: a merchant PAYEE of 3794 (14281 less splits of 2837 and 7650).
  const legs = () => [
    { role: 'PAYER' as const, amount: 14281n, refunded: 0n },
    { role: 'PAYEE' as const, amount: 3794n, refunded: 0n },
    { role: 'SPLIT' as const, amount: 2837n, refunded: 0n },
    { role: 'SPLIT' as const, amount: 7650n, refunded: 0n },
  ];

  it('raises the first split to its ceiling rather than have the PAYEE give back 3795 of its 3794', () => {
    // Floors 2836 and 7649 would leave the PAYEE 14280 - 2836 - 7649 = 3795.
    expect(refundLegChanges(legs(), 14281n, 14280n)).toEqual([14280n, 3794n, 2837n, 7649n]);
    // The last unit then comes from the split that rounded up, none from the PAYEE.
    const after = legs().map((l, i) => ({ ...l, refunded: [14280n, 3794n, 2837n, 7649n][i]! }));
    expect(refundLegChanges(after, 14281n, 14281n)).toEqual([1n, 0n, 0n, 1n]);
  });

  it('keeps every receiving leg within [0, its amount] at every refunded total, a PAYEE of 0 and many splits included', () => {
    for (let run = 0; run < 200; run++) {
      const splits = Array.from({ length: random.between(1, 5) }, () => BigInt(random.between(1, 50)));
      const payee = random.below(3) === 0 ? 0n : BigInt(random.between(1, 50));
      const amount = payee + splits.reduce((a, b) => a + b, 0n);
      const state = [
        { role: 'PAYER' as const, amount, refunded: 0n },
        { role: 'PAYEE' as const, amount: payee, refunded: 0n },
        ...splits.map((s) => ({ role: 'SPLIT' as const, amount: s, refunded: 0n })),
      ];
      let refunded = 0n;
      while (refunded < amount) {
        refunded += BigInt(random.between(1, Number(amount - refunded)));
        refundLegChanges(state, amount, refunded).forEach((c, i) => (state[i]!.refunded += c));
        const receiving = state.filter((l) => l.role !== 'PAYER');
        expect(
          receiving.reduce((sum, l) => sum + l.refunded, 0n),
          `seed ${random.seed} run ${run}`,
        ).toBe(refunded);
        for (const l of receiving)
          expect(
            l.refunded >= 0n && l.refunded <= l.amount,
            `seed ${random.seed} run ${run} ${l.role} ${l.refunded}/${l.amount} at ${refunded}/${amount}`,
          ).toBe(true);
      }
      for (const l of state) expect(l.refunded, `seed ${random.seed} run ${run}`).toBe(l.amount);
    }
  });
});
