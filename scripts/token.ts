import { parseArgs } from 'node:util';
import { readScriptConfig, scriptConfig } from './lib/config';
import { isRole, mintToken, roles } from '../subgraphs/shared/src/identity';
import { tokenLifetimeSeconds } from '../subgraphs/shared/src/limits';

/**
 * `npm run token -- --sub alice --role customer [--ttl 3600]` prints a JWT signed with
 * JWT_SECRET, and nothing else on stdout, so `TOKEN=$(npm run -s token -- ...)` works.
 */
const usage = [
  `usage: npm run token -- --sub <subject> --role <${roles.join('|')}> [--ttl <seconds>]`,
  '  operator            anything',
  '  customer, merchant  their own accounts (ownerId = subject): open, read, pay, withdraw, refund; no deposits',
  '  partner             reads its own accounts; moves no money',
  '  channel             the bank or card integration: records deposits into any account; nothing else',
].join('\n');

function parseTtlSeconds(raw: string | undefined): number {
  if (raw === undefined) return tokenLifetimeSeconds;
  const ttl = Number(raw);
  if (!Number.isSafeInteger(ttl) || ttl <= 0)
    throw new Error(`--ttl must be a positive whole number of seconds, got "${raw}"`);
  return ttl;
}

function readArgs(): { sub?: string; role?: string; ttl?: string } {
  try {
    return parseArgs({ options: { sub: { type: 'string' }, role: { type: 'string' }, ttl: { type: 'string' } } })
      .values;
  } catch (error) {
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${usage}`);
  }
}

async function main(): Promise<void> {
  const values = readArgs();
  const { sub, role } = values;
  if (sub === undefined || sub === '') throw new Error(`--sub is required\n${usage}`);
  if (role === undefined || !isRole(role)) throw new Error(`--role must be one of ${roles.join(', ')}\n${usage}`);
  const config = readScriptConfig(scriptConfig, process.env);
  const secret = config.tokens.secret;
  if (secret === null) {
    throw new Error(
      'JWT_SECRET is not set. Set it to the secret the running system uses ' +
        '(npm start prints the one it generated when JWT_SECRET was unset), e.g. JWT_SECRET=... npm run token -- ...',
    );
  }
  console.log(await mintToken({ sub, role }, secret, parseTtlSeconds(values.ttl), config.tokens));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
});
