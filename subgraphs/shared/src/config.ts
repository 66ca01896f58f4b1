import { balanceMaxMinorUnits } from './limits';

/**
 * Configuration comes from environment variables; each is documented in README.md
 * with its default. Parsing fails loudly at start-up rather than at the first request.
 */
export function envString(name: string, fallback: string): string {
  const value = process.env[name];
  return value === undefined || value === '' ? fallback : value;
}

export function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value)) throw new Error(`${name} must be an integer, got "${raw}"`);
  return value;
}

export function envBool(name: string, fallback: boolean): boolean {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw === '1' || raw === 'true') return true;
  if (raw === '0' || raw === 'false') return false;
  throw new Error(`${name} must be true or false, got "${raw}"`);
}

/** A positive whole number of minor units, written as decimal digits, that a BIGINT column can hold. */
export function envMinorUnits(name: string, fallback: bigint): bigint {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^[1-9][0-9]{0,18}$/.test(raw) || BigInt(raw) > balanceMaxMinorUnits) {
    throw new Error(`${name} must be a whole number of minor units from 1 to ${balanceMaxMinorUnits}, got "${raw}"`);
  }
  return BigInt(raw);
}

export const defaultMysqlShards = [0, 1, 2, 3]
  .map((i) => `mysql://root@127.0.0.1:3306/paygraph_s${i}`)
  .join(',');

export function isProduction(): boolean {
  return process.env.NODE_ENV === 'production';
}
