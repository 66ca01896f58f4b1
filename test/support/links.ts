import { randomInt } from 'node:crypto';
import { composeIBAN } from 'ibantools';
import { expect } from 'vitest';
import { luhnValid } from '@paygraph/transaction/domain/external-accounts';
import { contractOperation, gql } from './graphql';
import { unique } from './env';

/** Linked external accounts in tests: the contract's documents, fresh IBANs and cards, a registered channel. */
export const linkDocs = {
  link: contractOperation('LinkExternalAccount'),
  verify: contractOperation('VerifyExternalAccount'),
  unlink: contractOperation('UnlinkExternalAccount'),
  report: contractOperation('ReportExternalBalance'),
  register: contractOperation('RegisterChannelAccount'),
};

/** Not in the contract: the refusal's own fields, to check which field it names. */
export const linkDetail = `mutation LinkDetail($input: LinkExternalAccountInput!) {
  linkExternalAccount(input: $input) {
    __typename
    ... on ExternalAccount { id ownerId status display }
    ... on UserError { code message }
    ... on InvalidInput { field }
    ... on ExternalAccountInUse { inUseField: field }
  }
}`;

/** A valid IBAN no other test uses: a German one with a random account number. */
export function freshIban(): string {
  const bban = `37040044${String(randomInt(0, 1e9)).padStart(10, '0')}`;
  return composeIBAN({ countryCode: 'DE', bban })!;
}

/** A Luhn-valid 16-digit card number no other test uses. */
export function freshCard(): string {
  const body = `4${String(randomInt(0, 1e9)).padStart(9, '0')}${String(randomInt(0, 1e5)).padStart(5, '0')}`;
  for (let d = 0; d <= 9; d++) if (luhnValid(`${body}${d}`)) return `${body}${d}`;
  throw new Error('no Luhn digit');
}

/** A channel with a registered bank account (RegisterChannelAccount), so links may name it. */
export async function registeredChannel(operator: string, gatewayUrl: string): Promise<string> {
  const channel = unique('bank')
    .replace(/[^A-Za-z0-9_.-]/g, '-')
    .slice(0, 60);
  const input = { channel, accountIdentification: freshIban(), currency: 'EUR' };
  const answer = await gql(gatewayUrl, linkDocs.register, { input }, operator);
  expect(answer.errors).toBeUndefined();
  return channel;
}

export const linkedMoneyDocs = {
  withdraw: contractOperation('WithdrawToLinked'),
  deposit: contractOperation('DepositFromLinked'),
};

/** Not in the contract: a withdrawal's refusal with the field it names. */
export const withdrawDetail = `mutation WithdrawLinkedDetail($input: WithdrawInput!) {
  withdraw(input: $input) {
    __typename
    ... on Withdrawal { id channel externalAccount { id } }
    ... on UserError { code message }
    ... on InvalidInput { field }
    ... on ExternalAccountNotVerified { status }
  }
}`;
