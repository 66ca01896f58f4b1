import { GraphQLError } from 'graphql';
import { allowed, authorized, badUserInput } from '@paygraph/shared/graphql/errors';
import { formatAmount } from '@paygraph/shared/money';
import { unreachable, type Result } from '@paygraph/shared/result';
import type { LedgerClass } from '@paygraph/shared/ledger/index';
import type { AccountContext } from '../context';
import type { BooksRefusal } from '../domain/books';
import { createEntity, generalLedgerExport, intercompanyPosition, setGlCode, trialBalance } from '../services/books';
import { entityNotFound, invalidInput, unsupportedCurrency } from './user-errors';
import type { MutationResolvers, QueryResolvers } from '../generated/resolvers-types';

/**
 * Entities and their books (docs/BOOKS.md). The queries answer an unknown entity with the error
 * code ENTITY_NOT_FOUND (their results are not unions); the mutations with their union's member.
 */
function answered<T>(result: Result<T, BooksRefusal>): T {
  if (result.ok) return result.value;
  switch (result.error.kind) {
    case 'EntityNotFound':
      throw new GraphQLError(`no entity ${result.error.entity}`, {
        extensions: { code: 'ENTITY_NOT_FOUND', entity: result.error.entity },
      });
    case 'InvalidInput':
      throw badUserInput(`${result.error.field}: ${result.error.message}`);
    case 'UnsupportedCurrency':
      throw badUserInput(`currency ${result.error.currency} is not supported`);
    default:
      return unreachable(result.error);
  }
}

export const booksQueryResolvers = {
  trialBalance: async (_: unknown, args: { entity: string; asOf: string }, ctx: AccountContext) => {
    const currencies = answered(authorized(await trialBalance(ctx, args.entity, args.asOf)));
    return {
      entity: args.entity,
      asOf: args.asOf,
      currencies: currencies.map((c) => ({
        currency: c.currency,
        balanced: c.balanced,
        lines: c.lines.map((l) => ({
          ledgerClass: l.ledgerClass,
          debit: formatAmount(l.debit),
          credit: formatAmount(l.credit),
          balance: formatAmount(l.balance),
          accounts: l.accounts,
        })),
      })),
    };
  },
  generalLedgerExport: async (_: unknown, args: { entity: string; businessDate: string }, ctx: AccountContext) => {
    const journal = answered(authorized(await generalLedgerExport(ctx, args.entity, args.businessDate)));
    return {
      entity: args.entity,
      businessDate: args.businessDate,
      lines: journal.lines.map((l) => ({ ...l, debit: formatAmount(l.debit), credit: formatAmount(l.credit) })),
      csv: journal.csv,
    };
  },
  intercompanyPosition: async (_: unknown, args: { asOf: string }, ctx: AccountContext) =>
    allowed(await intercompanyPosition(ctx, args.asOf)).map((l) => ({ ...l, amount: formatAmount(l.amount) })),
} satisfies QueryResolvers;

export const booksMutationResolvers = {
  createEntity: async (
    _: unknown,
    args: { input: { code: string; name: string; country: string; functionalCurrency: string } },
    ctx: AccountContext,
  ) => {
    const created = authorized(await createEntity(ctx, args.input));
    if (created.ok) return { __typename: 'Entity' as const, ...created.value };
    switch (created.error.kind) {
      case 'InvalidInput':
        return invalidInput(created.error.field, created.error.message);
      case 'UnsupportedCurrency':
        return unsupportedCurrency(created.error.currency);
      case 'EntityNotFound':
        return invalidInput('code', `no entity ${created.error.entity}`);
      default:
        return unreachable(created.error);
    }
  },
  setGlCode: async (
    _: unknown,
    args: { input: { entity: string; ledgerClass: LedgerClass; glCode: string } },
    ctx: AccountContext,
  ) => {
    const set = authorized(await setGlCode(ctx, args.input));
    if (set.ok) return { __typename: 'GlCode' as const, ...set.value };
    switch (set.error.kind) {
      case 'InvalidInput':
        return invalidInput(set.error.field, set.error.message);
      case 'EntityNotFound':
        return entityNotFound(set.error.entity);
      case 'UnsupportedCurrency':
        return invalidInput('glCode', 'no currency is asked for');
      default:
        return unreachable(set.error);
    }
  },
} satisfies MutationResolvers;
