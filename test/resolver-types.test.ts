import { existsSync, readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { repoPath, resolverTypeFiles, resolverTypesPath, typedSubgraphs } from '../scripts/lib/resolver-types';
import { diagnosticsOf } from './support/typecheck-in-memory';

/**
 * Resolver and context types come from the subgraph schemas (GraphQL Code Generator, `npm run
 * codegen`), so the compiler checks resolvers against the schema (issue 22). The committed
 * files must be what the schemas generate now, and a resolver or service that answers a union
 * member the schema lacks must not compile.
 */
describe('generated resolver types', () => {
  it('are what the schemas generate (run `npm run codegen` when this fails)', async () => {
    const files = await resolverTypeFiles();
    expect(files.map((f) => f.path).sort()).toEqual(typedSubgraphs.map(resolverTypesPath).sort());
    for (const file of files) {
      const committed = existsSync(repoPath(file.path)) ? readFileSync(repoPath(file.path), 'utf8') : null;
      expect(committed, `${file.path} is stale: run \`npm run codegen\``).toBe(file.content);
    }
  });
});

const serviceSample = (kind: string) => `
import { err, type Result } from '@paygraph/shared/result';
import type { CreatePaymentError } from '../subgraphs/transaction/src/domain/errors';
export function refuse(): Result<never, CreatePaymentError> {
  return err(${kind === 'HoldNotFound' ? "{ kind: 'HoldNotFound', holdId: 'hld_0' }" : "{ kind: 'InsufficientFunds', accountId: 'acc_0', available: 0n }"});
}
`;

const resolverSample = (kind: string) => `
import type { MutationResolvers } from '../subgraphs/transaction/src/generated/resolvers-types';
import { toUserError } from '../subgraphs/transaction/src/resolvers/user-errors';
export const mutationResolvers = {
  createPayment: () => toUserError(${kind === 'HoldNotFound' ? "{ kind: 'HoldNotFound' as const, holdId: 'hld_0' }" : "{ kind: 'InsufficientFunds' as const, accountId: 'acc_0', available: 0n }"}),
} satisfies MutationResolvers;
`;

describe("a mutation's errors are exactly its schema union's members", () => {
  // createPayment's union (CreatePaymentResult) has InsufficientFunds and no HoldNotFound.
  // One program for the four samples: a program costs seconds of CPU.
  let found: Record<string, string[]> = {};
  beforeAll(() => {
    found = diagnosticsOf({
      'service-wrong': serviceSample('HoldNotFound'),
      'service-right': serviceSample('InsufficientFunds'),
      'resolver-wrong': resolverSample('HoldNotFound'),
      'resolver-right': resolverSample('InsufficientFunds'),
    });
  });

  it('a service that refuses a payment with HoldNotFound does not compile; with InsufficientFunds it does', () => {
    expect(found['service-wrong']!.join('\n')).toMatch(
      /^TS2322: [\s\S]*Type '\{ kind: "HoldNotFound"; holdId: string; \}' is not assignable to type 'CreatePaymentError'/,
    );
    expect(found['service-right']).toEqual([]);
  });

  it('a createPayment resolver that answers HoldNotFound does not compile; InsufficientFunds does', () => {
    expect(found['resolver-wrong']!.join('\n')).toMatch(/TS2322[\s\S]*'"HoldNotFound"' is not assignable to type/);
    expect(found['resolver-right']).toEqual([]);
  });
});
