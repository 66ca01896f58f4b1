import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { relative, sep } from 'node:path';
import ts from 'typescript';
import { productionSources, repoRoot } from './support/sources';

/**
 * An account has one shape (issue 14): `Account` in subgraphs/shared/src/ledger/account.ts.
 * db/ maps what it reads into it; every other layer takes it, or a Pick of it where it needs
 * less. Five declarations of the same fields once drifted apart (a status typed as a plain
 * string in one, a balance missing from another); these checks fail if a second one comes back.
 */

/** Fields only an account has: a declaration that names two of them is declaring an account. */
const accountFields = new Set(['available', 'frozen', 'pending', 'ownerId', 'parentId', 'stripeShards', 'lastSequence', 'lastEntryHash']);

/** The declarations allowed to name them, and why. */
const allowed = [
  'subgraphs/shared/src/ledger/account.ts Account', // the one shape
  // The hand-written read's row as mysql2 sends it (snake_case, BIGINT as strings), mapped into
  // Account once by accountOfRaw; kept for the posting path's CPU (docs/PERFORMANCE.md).
  'subgraphs/shared/src/db/ledger-store.ts RawAccount',
];

function memberNames(node: ts.InterfaceDeclaration | ts.TypeLiteralNode | ts.ClassLikeDeclaration): string[] {
  const names: string[] = [];
  for (const member of node.members) {
    if ((ts.isPropertySignature(member) || ts.isPropertyDeclaration(member)) && (ts.isIdentifier(member.name) || ts.isStringLiteral(member.name))) {
      names.push(member.name.text);
    }
  }
  return names;
}

/** The name a declaration goes by: its own, or that of the alias, parameter or variable it types. */
function nameOf(node: ts.Node): string {
  for (let at: ts.Node | undefined = node; at; at = at.parent) {
    if ((ts.isInterfaceDeclaration(at) || ts.isTypeAliasDeclaration(at) || ts.isClassDeclaration(at) || ts.isParameter(at)
      || ts.isVariableDeclaration(at) || ts.isFunctionDeclaration(at) || ts.isMethodDeclaration(at)) && at.name && ts.isIdentifier(at.name)) {
      return at.name.text;
    }
  }
  return '(anonymous)';
}

/** Every interface, object type or class in `text` that declares two or more of an account's own fields. */
function accountDeclarations(path: string, text: string): string[] {
  const source = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isInterfaceDeclaration(node) || ts.isTypeLiteralNode(node) || ts.isClassDeclaration(node) || ts.isClassExpression(node)) {
      const named = memberNames(node).filter((n) => accountFields.has(n));
      if (named.length >= 2) found.push(`${path} ${nameOf(node)}`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** Whether code (not a comment) in `text` names the drizzle row type of accounts. */
function namesAccountRow(path: string, text: string): boolean {
  const source = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const visit = (node: ts.Node): boolean => {
    if (ts.isIdentifier(node) && node.text === 'AccountRow') return true;
    if ((ts.isQualifiedName(node) || ts.isPropertyAccessExpression(node)) && node.getText(source) === 'accounts.$inferSelect') return true;
    return ts.forEachChild(node, visit) ?? false;
  };
  return visit(source);
}

function relativePath(file: string): string {
  return relative(repoRoot, file).split(sep).join('/');
}

describe('the shape of an account', () => {
  it('is declared once, in ledger/account.ts (and as the raw row the posting path maps from)', () => {
    const files = productionSources();
    expect(files.length).toBeGreaterThan(50);
    const found = files.flatMap((file) => accountDeclarations(relativePath(file), readFileSync(file, 'utf8')));
    expect(found.sort()).toEqual([...allowed].sort());
  });

  it('is mapped from the drizzle row in db/ only', () => {
    const leaks = productionSources()
      .map(relativePath)
      .filter((path) => !/^subgraphs\/[^/]+\/src\/db\//.test(path))
      .filter((path) => namesAccountRow(path, readFileSync(`${repoRoot}${path}`, 'utf8')));
    expect(leaks).toEqual([]);
    expect(namesAccountRow('sample.ts', "import type { AccountRow } from '@paygraph/shared/db/schema/ledger';")).toBe(true);
    expect(namesAccountRow('sample.ts', 'let row: typeof accounts.$inferSelect;')).toBe(true);
    expect(namesAccountRow('sample.ts', '/** Not the AccountRow: the Account. */ let a: Account;')).toBe(false);
  });

  it('would notice a second declaration, however it is written', () => {
    const second = [
      'interface AccountState { id: string; available: bigint; frozen: bigint }',
      'export type Stripe = { id: string; parentId: string | null; lastSequence: bigint };',
      'function f(home: { ownerId: string; stripeShards: bigint }) { return home; }',
      'type V = Pick<Account, "id"> & { available: bigint; pending: bigint };',
      'class Watched { ownerId = ""; frozen = 0n; }',
    ];
    for (const sample of second) expect(accountDeclarations('sample.ts', sample), sample).toHaveLength(1);
    const derived = [
      "type Balances = Pick<Account, 'available' | 'frozen' | 'pending'>;",
      "interface View extends Pick<Account, 'id' | 'available' | 'frozen'> { stripeIds: string[] }",
      "type Refusal = { code: 'INSUFFICIENT_FUNDS'; accountId: string; available: bigint };",
    ];
    for (const sample of derived) expect(accountDeclarations('sample.ts', sample), sample).toEqual([]);
  });
});
