import {
  Kind,
  getArgumentValues,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionNode,
} from 'graphql';

/**
 * The root fields of an operation with their arguments, read the way execution will read them
 * (variables coerced against the schema once per request, coerced-variables.ts), for the rate
 * limiter's weights and the audit records. When the variables do not coerce (null), execution
 * refuses the operation before any subgraph is called, so the arguments are simply unknown (null)
 * here. Only a mutation's arguments are ever read (money weights, audit records): a query's are
 * null as well.
 */
/** Money mutations, and setFxRate: a rate prices money movements, so its changes are audited alike. */
export const moneyMutationFields = [
  'deposit',
  'withdraw',
  'createPayment',
  'createPayments',
  'refundPayment',
  'createHold',
  'captureHold',
  'voidHold',
  'setFxRate',
] as const;
export type MoneyMutationField = (typeof moneyMutationFields)[number];

export function isMoneyMutationField(name: string): name is MoneyMutationField {
  return (moneyMutationFields as readonly string[]).includes(name);
}

/**
 * The mutations the money budget counts (RATE_LIMIT_MONEY_PER_MINUTE): the money mutations, and
 * createFxQuote, which writes a row for every call and prices a payment, so that a caller asks
 * for quotes at the pace it may pay, not at the reads budget's. A quote moves no money, so it is
 * not audited as one.
 */
const moneyBudgetFields: readonly string[] = [...moneyMutationFields, 'createFxQuote'];

export function takesMoneyBudget(name: string): boolean {
  return moneyBudgetFields.includes(name);
}

export interface RootField {
  name: string;
  /** Where the field's result sits in `data`: its alias or its name. */
  responseKey: string;
  args: Record<string, unknown> | null;
}

/**
 * A root field as the document selects it, before its arguments are read: what an operation's root fields are does
 * not depend on its variables, so it is worked out once per document (document-analysis.ts).
 */
export interface RootSelection {
  name: string;
  responseKey: string;
  node: FieldNode;
  definition: GraphQLField<unknown, unknown> | undefined;
}

/** The root fields of an operation, fragments expanded, in the order execution meets them. */
export function rootSelectionsOf(
  schema: GraphQLSchema,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  operation: OperationDefinitionNode,
): RootSelection[] {
  const rootType = schema.getRootType(operation.operation);
  const fields = new Map<string, RootSelection>();
  const seen = new Set<string>();
  const collect = (selections: readonly SelectionNode[]) => {
    for (const selection of selections) {
      if (selection.kind === Kind.FIELD) {
        const responseKey = selection.alias?.value ?? selection.name.value;
        // Fields with one response key are merged by execution and run once.
        if (fields.has(responseKey)) continue;
        const definition = rootType?.getFields()[selection.name.value];
        fields.set(responseKey, { name: selection.name.value, responseKey, node: selection, definition });
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        collect(selection.selectionSet.selections);
      } else if (!seen.has(selection.name.value)) {
        seen.add(selection.name.value);
        const fragment = fragments.get(selection.name.value);
        if (fragment) collect(fragment.selectionSet.selections);
      }
    }
  };
  collect(operation.selectionSet.selections);
  return [...fields.values()];
}

/** The root fields with their arguments: a mutation's read from its coerced variables, a query's left null. */
export function rootFieldsOf(
  operation: OperationDefinitionNode,
  selections: readonly RootSelection[],
  coercedVariables: Readonly<Record<string, unknown>> | null,
): RootField[] {
  const variables = operation.operation === 'mutation' ? coercedVariables : null;
  return selections.map(({ name, responseKey, node, definition }) => {
    let args: Record<string, unknown> | null = null;
    if (definition && variables) {
      try {
        args = getArgumentValues(definition, node, variables as Record<string, unknown>);
      } catch {
        // Arguments that do not coerce are refused by execution before any subgraph is called.
        args = null;
      }
    }
    return { name, responseKey, args };
  });
}

/** One movement of money asked for: a root field, or one input of createPayments. */
export interface MoneyAction {
  field: MoneyMutationField;
  responseKey: string;
  /** The input's position in createPayments' inputs; null for the single-input mutations. */
  index: number | null;
  idempotencyKey: string | null;
  /** The account debited or credited: deposit's and withdraw's account, a payment's payer. */
  accountId: string | null;
  /** A payment's or a hold's payee. */
  counterpartyAccountId: string | null;
  /**
   * The payment a refund takes back, or the hold a capture or void ends. The audit adds the payment or hold a create
   * made, read from its answer (audit.ts madeIdOf).
   */
  paymentId: string | null;
  amount: string | null;
  currency: string | null;
  /** Free text the client wrote (externalRef, description, reason), not yet masked. */
  note: string | null;
}

/**
 * The money actions of a mutation's root fields, in order, the first `max` of them; other fields have none. The
 * audit of a request refused before it ran lists only a few (auditUnexecutedMoneyActionsMax) and counts the rest
 * (moneyActionCount): building all of them first made one request of ten aliases of a 1,000-input createPayments
 * build 10,000 actions to list 10.
 */
export function moneyActionsOf(
  operation: OperationDefinitionNode,
  fields: readonly RootField[],
  max = Number.POSITIVE_INFINITY,
): MoneyAction[] {
  if (operation.operation !== 'mutation') return [];
  const actions: MoneyAction[] = [];
  for (const field of fields) {
    const name = field.name;
    if (actions.length >= max) break;
    if (!isMoneyMutationField(name)) continue;
    if (name !== 'createPayments') {
      actions.push(actionOf(name, field.responseKey, null, record(field.args?.input)));
      continue;
    }
    const inputs: unknown = field.args?.inputs;
    if (!Array.isArray(inputs)) {
      actions.push(actionOf(name, field.responseKey, 0, null));
      continue;
    }
    for (let index = 0; index < inputs.length && actions.length < max; index++)
      actions.push(actionOf(name, field.responseKey, index, record(inputs[index])));
  }
  return actions;
}

/** How many money actions moneyActionsOf answers with no `max`, counted without building them. */
export function moneyActionCount(operation: OperationDefinitionNode, fields: readonly RootField[]): number {
  if (operation.operation !== 'mutation') return 0;
  let count = 0;
  for (const field of fields) {
    if (!isMoneyMutationField(field.name)) continue;
    const inputs = field.name === 'createPayments' ? field.args?.inputs : undefined;
    count += Array.isArray(inputs) ? inputs.length : 1;
  }
  return count;
}

/**
 * Units a request takes from the money budget: one per money field (createFxQuote's too), one per input of
 * createPayments.
 */
export function moneyWeight(operation: OperationDefinitionNode, fields: readonly RootField[]): number {
  if (operation.operation !== 'mutation') return 0;
  let weight = 0;
  for (const field of fields) {
    if (!takesMoneyBudget(field.name)) continue;
    const inputs = field.name === 'createPayments' ? field.args?.inputs : undefined;
    weight += Array.isArray(inputs) ? Math.max(1, inputs.length) : 1;
  }
  return weight;
}

function actionOf(
  field: MoneyMutationField,
  responseKey: string,
  index: number | null,
  input: Record<string, unknown> | null,
): MoneyAction {
  const text = (name: string) => {
    const value = input?.[name];
    return typeof value === 'string'
      ? value
      : typeof value === 'number' || typeof value === 'bigint'
        ? String(value)
        : null;
  };
  const common = {
    field,
    responseKey,
    index,
    idempotencyKey: text('idempotencyKey'),
    amount: text('amount'),
    currency: text('currency'),
  };
  switch (field) {
    case 'deposit':
    case 'withdraw':
      return {
        ...common,
        accountId: text('accountId'),
        counterpartyAccountId: null,
        paymentId: null,
        note: text('externalRef'),
      };
    case 'createPayment':
    case 'createPayments':
    case 'createHold':
      return {
        ...common,
        accountId: text('payerAccountId'),
        counterpartyAccountId: text('payeeAccountId'),
        paymentId: null,
        note: text('description'),
      };
    case 'refundPayment':
      return {
        ...common,
        accountId: null,
        counterpartyAccountId: null,
        paymentId: text('paymentId'),
        note: text('reason'),
      };
    case 'captureHold':
    case 'voidHold':
      return { ...common, accountId: null, counterpartyAccountId: null, paymentId: text('holdId'), note: null };
    case 'setFxRate':
      // The pair and the rate are the record: a rate is no amount of money, so amount stays null.
      return {
        ...common,
        currency: text('baseCurrency'),
        accountId: null,
        counterpartyAccountId: null,
        paymentId: null,
        note: `${text('baseCurrency')}/${text('quoteCurrency')} rate ${text('rate')} spread ${text('spreadBps') ?? '0'} bps`,
      };
  }
}

function record(value: unknown): Record<string, unknown> | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
}
