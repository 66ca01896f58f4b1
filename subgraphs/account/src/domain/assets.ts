import { isAssetCode, isIsoCode } from '@paygraph/shared/money';
import { assetExponentMax, assetNameLengthMax } from '@paygraph/shared/limits';
import { err, ok, type Result } from '@paygraph/shared/result';
import type { AssetRecord } from '@paygraph/shared/ledger/index';

/**
 * Platform assets as DefineAsset takes them (docs/ASSETS.md): the input's shape, and what a second
 * definition of a code answers. Pure: no I/O, no clock.
 */
export type AssetRefusal = { kind: 'InvalidInput'; field: 'code' | 'exponent' | 'name'; message: string };

const invalid = (field: AssetRefusal['field'], message: string) =>
  err<AssetRefusal>({ kind: 'InvalidInput', field, message });

/** A DefineAsset input as an asset, or the first field that is wrong (code, exponent, name, in that order). */
export function decideAsset(input: AssetRecord): Result<AssetRecord, AssetRefusal> {
  if (isIsoCode(input.code))
    return invalid('code', `${input.code} is an ISO 4217 code; an asset's code must not be one`);
  if (!isAssetCode(input.code)) return invalid('code', 'code must be 3-8 capital letters A-Z');
  if (!Number.isInteger(input.exponent) || input.exponent < 0 || input.exponent > assetExponentMax)
    return invalid('exponent', `exponent must be an integer from 0 to ${assetExponentMax}`);
  const name = input.name.trim();
  if (name.length === 0 || name.length > assetNameLengthMax)
    return invalid('name', `name must be 1-${assetNameLengthMax} characters`);
  return ok({ code: input.code, exponent: input.exponent, name });
}

/**
 * Defining a code again answers the asset as stored when the exponent is the same (a retry, or a
 * second operator agreeing); another exponent is refused: amounts already held in it would change
 * their meaning.
 */
export function sameAsset(asked: AssetRecord, stored: AssetRecord): Result<AssetRecord, AssetRefusal> {
  return asked.exponent === stored.exponent
    ? ok(stored)
    : invalid('exponent', `asset ${stored.code} is defined with exponent ${stored.exponent}; it never changes`);
}
