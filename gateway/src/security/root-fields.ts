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
  answerKeys: AnswerKeys;
}

/**
 * Whether the `__typename` and `id` keys of a root field's answer are those fields themselves. A client may alias
 * another field to either name (`__typename: message`, `id: description`): the audit then takes neither value for
 * what its name says (an error's message may quote input; a description is the client's own text).
 */
export interface AnswerKeys {
  typename: boolean;
  id: boolean;
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
  answerKeys: AnswerKeys;
}

/** The root fields of an operation, fragments expanded, in the order execution meets them. */
export function rootSelectionsOf(
  schema: GraphQLSchema,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  operation: OperationDefinitionNode,
): RootSelection[] {
  const rootType = schema.getRootType(operation.operation);
  const fields = new Map<string, RootSelection>();
  eachField(operation.selectionSet.selections, fragments, (selection) => {
    const responseKey = selection.alias?.value ?? selection.name.value;
    const answerKeys = answerKeysOf(selection, fragments);
    // Fields with one response key are merged by execution and run once, their selections merged too.
    const merged = fields.get(responseKey);
    if (merged) {
      merged.answerKeys = {
        typename: merged.answerKeys.typename && answerKeys.typename,
        id: merged.answerKeys.id && answerKeys.id,
      };
      return;
    }
    const definition = rootType?.getFields()[selection.name.value];
    fields.set(responseKey, { name: selection.name.value, responseKey, node: selection, definition, answerKeys });
  });
  return [...fields.values()];
}

/** Whether a field's answer keys `__typename` and `id` are no alias of another field. */
function answerKeysOf(node: FieldNode, fragments: ReadonlyMap<string, FragmentDefinitionNode>): AnswerKeys {
  const keys = { typename: true, id: true };
  eachField(node.selectionSet?.selections ?? [], fragments, (field) => {
    const key = field.alias?.value ?? field.name.value;
    if (key === '__typename' && field.name.value !== key) keys.typename = false;
    if (key === 'id' && field.name.value !== key) keys.id = false;
  });
  return keys;
}

/** The fields of one selection set, in order: inline fragments and fragment spreads expanded (a spread once). */
function eachField(
  selections: readonly SelectionNode[],
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  visit: (field: FieldNode) => void,
): void {
  const seen = new Set<string>();
  const walk = (list: readonly SelectionNode[]) => {
    for (const selection of list) {
      if (selection.kind === Kind.FIELD) visit(selection);
      else if (selection.kind === Kind.INLINE_FRAGMENT) walk(selection.selectionSet.selections);
      else if (!seen.has(selection.name.value)) {
        seen.add(selection.name.value);
        const fragment = fragments.get(selection.name.value);
        if (fragment) walk(fragment.selectionSet.selections);
      }
    }
  };
  walk(selections);
}

/** The root fields with their arguments: a mutation's read from its coerced variables, a query's left null. */
export function rootFieldsOf(
  operation: OperationDefinitionNode,
  selections: readonly RootSelection[],
  coercedVariables: Readonly<Record<string, unknown>> | null,
): RootField[] {
  const variables = operation.operation === 'mutation' ? coercedVariables : null;
  return selections.map(({ name, responseKey, node, definition, answerKeys }) => {
    let args: Record<string, unknown> | null = null;
    if (definition && variables) {
      try {
        args = getArgumentValues(definition, node, variables as Record<string, unknown>);
      } catch {
        // Arguments that do not coerce are refused by execution before any subgraph is called.
        args = null;
      }
    }
    return { name, responseKey, args, answerKeys };
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
  /** Whether its result's `__typename` and `id` keys are those fields (its root field's). */
  answerKeys: AnswerKeys;
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
      actions.push(actionOf(name, field, null, record(field.args?.input)));
      continue;
    }
    const inputs: unknown = field.args?.inputs;
    if (!Array.isArray(inputs)) {
      actions.push(actionOf(name, field, 0, null));
      continue;
    }
    for (let index = 0; index < inputs.length && actions.length < max; index++)
      actions.push(actionOf(name, field, index, record(inputs[index])));
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
  root: Pick<RootField, 'responseKey' | 'answerKeys'>,
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
    responseKey: root.responseKey,
    answerKeys: root.answerKeys,
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
