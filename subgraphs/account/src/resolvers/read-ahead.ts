import {
  Kind,
  getArgumentValues,
  isObjectType,
  type FieldNode,
  type GraphQLResolveInfo,
  type SelectionSetNode,
} from 'graphql';
import { pageSize } from '@paygraph/shared/graphql/paging';

/**
 * How many rows of its first page of entries the Account a resolver returns will be asked for
 * (the page size plus one, to learn hasNextPage), read ahead from the resolver's selection so
 * that the page can come in the account's own round trip. Null when the selection asks no
 * `entries`, asks for a later page (`after`), asks two pages of different sizes, or names a page
 * size the entries resolver will refuse (it reports that itself).
 */
export function firstEntriesPageRows(info: GraphQLResolveInfo): number | null {
  const account = info.schema.getType('Account');
  const entries = isObjectType(account) ? account.getFields().entries : undefined;
  if (!entries) return null;
  const found: FieldNode[] = [];
  const collect = (selectionSet: SelectionSetNode | undefined, seen: ReadonlySet<string>): void => {
    for (const selection of selectionSet?.selections ?? []) {
      if (selection.kind === Kind.FIELD) {
        if (selection.name.value === 'entries') found.push(selection);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        if (!selection.typeCondition || selection.typeCondition.name.value === 'Account')
          collect(selection.selectionSet, seen);
      } else {
        const fragment = info.fragments[selection.name.value];
        if (fragment && fragment.typeCondition.name.value === 'Account' && !seen.has(fragment.name.value)) {
          collect(fragment.selectionSet, new Set([...seen, fragment.name.value]));
        }
      }
    }
  };
  for (const node of info.fieldNodes) collect(node.selectionSet, new Set());
  let rows: number | null = null;
  for (const node of found) {
    try {
      const args = getArgumentValues(entries, node, info.variableValues) as {
        first?: number | null;
        after?: string | null;
      };
      if (args.after !== undefined && args.after !== null) return null;
      const wanted = pageSize(args.first) + 1;
      if (rows !== null && rows !== wanted) return null;
      rows = wanted;
    } catch {
      return null;
    }
  }
  return rows;
}
