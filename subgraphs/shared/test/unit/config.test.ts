import { afterEach, describe, expect, it } from 'vitest';
import { envMinorUnits } from '../../src/config';
import { amountMaxMinorUnitsDefault, balanceMaxMinorUnits } from '../../src/limits';

const name = 'PAYGRAPH_TEST_MINOR_UNITS';

afterEach(() => {
  delete process.env[name];
});

describe('envMinorUnits (AMOUNT_MAX)', () => {
  it('takes the default when unset or empty, and whole numbers of minor units up to BIGINT', () => {
    expect(envMinorUnits(name, amountMaxMinorUnitsDefault)).toBe(10n ** 15n);
    process.env[name] = '';
    expect(envMinorUnits(name, amountMaxMinorUnitsDefault)).toBe(10n ** 15n);
    for (const [raw, value] of [['1', 1n], ['5000000', 5_000_000n], ['9223372036854775807', balanceMaxMinorUnits]] as const) {
      process.env[name] = raw;
      expect(envMinorUnits(name, amountMaxMinorUnitsDefault)).toBe(value);
    }
  });

  it('refuses anything else, naming the variable', () => {
    for (const raw of ['abc', '0', '-5', '+5', '1e15', '1.5', ' 5', '05', '9223372036854775808', '1'.repeat(30)]) {
      process.env[name] = raw;
      expect(() => envMinorUnits(name, amountMaxMinorUnitsDefault), raw).toThrow(new RegExp(`^${name} must be a whole number`));
    }
  });
});
