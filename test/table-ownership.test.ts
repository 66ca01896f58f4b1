import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { getTableName, is } from 'drizzle-orm';
import { MySqlTable } from 'drizzle-orm/mysql-core';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import { rawRows } from '@paygraph/shared/db/raw';
import { testShards } from './support/env';
import { sourcesUnder } from './support/sources';
import { pushTo } from '@paygraph/shared/collections';
import { folderOf, parts as partsList } from '../scripts/lib/parts';

/**
 * Each table has one owning part, and only that part holds its schema and SQL (issue 14); the
 * others ask it over GraphQL or through a read model it publishes, documented in
 * docs/ARCHITECTURE.md ("Table ownership and read models"). A part's insides are its own (issue 46): another part
 * imports it only through its door, its index.ts, or a read or write model it publishes and the
 * importer declares. The parts are the gateway and each subgraph (their src/), and the shared
 * library's modules, the ledger and idempotency (their folders); the rest of the shared library
 * is everyone's. scripts/ wire the parts together and may import their files, but not a shared
 * module's insides; tests may pin any internal.
 */
const repoRoot = fileURLToPath(new URL('../', import.meta.url));

const parts: Readonly<Record<string, string>> = {
  ...Object.fromEntries(partsList.map((part) => [part.name, `${folderOf(part)}/src`])),
  shared: 'subgraphs/shared/src',
  // A module of the shared library with tables of its own: its folder, its door (index.ts).
  ledger: 'subgraphs/shared/src/ledger',
  idempotency: 'subgraphs/shared/src/idempotency',
  control: 'subgraphs/shared/src/control',
};
type Part = string;
const everyonesPart: Part = 'shared';
/** The shared library's modules: closed to every file outside their folder, scripts included. */
const sharedModules: ReadonlySet<Part> = new Set(['ledger', 'idempotency', 'control']);

/** A model a part declares it uses (its part.ts `reads`, `<owner>/<model>`), as the owner's file. */
function modelFile(model: string): string {
  const [owner, ...rest] = model.split('/');
  return `${parts[owner!]}/${rest.join('/')}.ts`;
}
const declaredModels = [...new Set(partsList.flatMap((part) => part.reads.map(modelFile)))];
/** The models a part declares it uses (none for the shared library, which reads no part's tables). */
function modelsReadBy(part: Part | null): string[] {
  return partsList.find((p) => p.name === part)?.reads.map(modelFile) ?? [];
}
/** The read models, the only modules through which one part reads another's tables. They write nothing. */
const readModels: readonly string[] = declaredModels.filter((file) => file.includes('/read-model/'));
/** The write models, the only modules through which one part writes another's tables (settlement's marks). */
const writeModels: readonly string[] = declaredModels.filter((file) => file.includes('/write-model/'));

/** Calls that write through drizzle (`.insert(`, `.update(`, `.delete(`) and SQL text that does. */
function writesIn(path: string, text: string): string[] {
  const source = ts.createSourceFile(path, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (
      ts.isCallExpression(node) &&
      ts.isPropertyAccessExpression(node.expression) &&
      ['insert', 'update', 'delete'].includes(node.expression.name.text)
    ) {
      found.push(
        `${path}:${source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1} .${node.expression.name.text}(`,
      );
    }
    if (
      (ts.isNoSubstitutionTemplateLiteral(node) ||
        ts.isTemplateHead(node) ||
        ts.isTemplateMiddle(node) ||
        ts.isTemplateTail(node) ||
        ts.isStringLiteral(node)) &&
      /\b(INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM)\b/i.test(node.text)
    ) {
      found.push(`${path}:${source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1} SQL`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The part whose src holds a path (relative to the repository), if any: the innermost (the ledger before shared). */
function partOf(path: string): Part | null {
  const found = Object.entries(parts)
    .filter(([, src]) => path === src || path.startsWith(`${src}/`))
    .sort(([, a], [, b]) => b.length - a.length)[0];
  return found ? (found[0] as Part) : null;
}

/** A part's schema files: its db/schema/*.ts, or a module's store/schema.ts (the ledger's). */
function schemaFilesOf(src: string): string[] {
  return [...sourcesUnder(join(repoRoot, src, 'db', 'schema')), join(repoRoot, src, 'store', 'schema.ts')].filter(
    (file) => existsSync(file),
  );
}

/** The ledger's tables, by SQL name and by the name its schema gives them: only its store/ writes them. */
const ledgerTables = [
  'accounts',
  'postings',
  'ledger_entries',
  'posting_rejections',
  'account_days',
  'ledger_class_days',
  'entities',
  'gl_codes',
  'gl_exports',
  'owner_shards',
];
const ledgerTableBindings = new Set([
  'accounts',
  'postings',
  'ledgerEntries',
  'postingRejections',
  'accountDays',
  'ledgerClassDays',
  'entities',
  'glCodes',
  'glExports',
  'ownerShards',
]);
const ledgerSqlWrite = new RegExp(
  `\\b(INSERT\\s+(IGNORE\\s+)?INTO|REPLACE\\s+INTO|UPDATE|DELETE\\s+FROM)\\s+\`?(${ledgerTables.join('|')})\\b`,
  'i',
);

/** The local names a file gives the ledger's tables it imports (from its read model or anywhere in its folder). */
function ledgerTablesImported(path: string, source: ts.SourceFile): Set<string> {
  const names = new Set<string>();
  for (const statement of source.statements) {
    if (!ts.isImportDeclaration(statement) || !ts.isStringLiteral(statement.moduleSpecifier)) continue;
    const target = targetOf(path, statement.moduleSpecifier.text);
    if (target === null || !target.startsWith(`${parts.ledger}/`)) continue;
    const bindings = statement.importClause?.namedBindings;
    if (!bindings || !ts.isNamedImports(bindings)) continue;
    for (const b of bindings.elements)
      if (ledgerTableBindings.has((b.propertyName ?? b.name).text)) names.add(b.name.text);
  }
  return names;
}

/**
 * Writes to the ledger's tables in a file: a drizzle insert, update or delete of one, a row
 * insert through db/raw.ts (insertRows), or SQL text that writes one.
 */
function ledgerWritesIn(path: string, text: string): string[] {
  const source = ts.createSourceFile(path, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const tables = ledgerTablesImported(path, source);
  const found: string[] = [];
  const at = (node: ts.Node) => `${path}:${source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1}`;
  const names = (node: ts.Expression | undefined) =>
    node !== undefined && ts.isIdentifier(node) && tables.has(node.text);
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node)) {
      const callee = node.expression;
      const method = ts.isPropertyAccessExpression(callee) ? callee.name.text : null;
      if (method !== null && ['insert', 'update', 'delete'].includes(method) && names(node.arguments[0]))
        found.push(`${at(node)} .${method}( of a ledger table`);
      if (ts.isIdentifier(callee) && callee.text === 'insertRows' && names(node.arguments[1]))
        found.push(`${at(node)} insertRows of a ledger table`);
    }
    if (
      (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateLiteralToken(node)) &&
      ledgerSqlWrite.test(node.text)
    )
      found.push(`${at(node)} SQL writing a ledger table`);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** An import specifier as a path relative to the repository, or null for a package outside it. */
function targetOf(file: string, specifier: string): string | null {
  const workspace = /^@paygraph\/([^/]+)\/(.+)$/.exec(specifier);
  const absolute = workspace
    ? join(repoRoot, workspace[1] === 'gateway' ? 'gateway' : `subgraphs/${workspace[1]}`, 'src', workspace[2]!)
    : specifier.startsWith('.')
      ? resolve(repoRoot, dirname(file), specifier)
      : null;
  if (absolute === null) return null;
  return relative(repoRoot, absolute).split(sep).join('/').replace(/\.ts$/, '');
}

/** Whether an import of `owner`'s `target` goes through its door: its index.ts (or its folder, which is that). */
function isDoor(owner: Part, target: string): boolean {
  return target === parts[owner] || target === `${parts[owner]}/index`;
}

/** Why `file`'s import of `target`, inside `owner`, reaches into it; null when it does not. */
function reachInto(file: string, owner: Part, target: string): string | null {
  const own = partOf(file);
  if (owner === own || owner === everyonesPart || isDoor(owner, target)) return null;
  if (own === null && !sharedModules.has(owner)) return null;
  const inside = target.slice(parts[owner]!.length + 1);
  if (inside.startsWith('read-model/') || inside.startsWith('write-model/'))
    return modelsReadBy(own).includes(`${target}.ts`)
      ? null
      : 'a read or write model its part.ts does not declare in reads (nor docs/ARCHITECTURE.md)';
  if (inside.startsWith('db/')) return `${owner}'s tables (ask it over GraphQL or through a read model)`;
  return `${owner}'s insides (import its index.ts)`;
}

/**
 * The imports of one source file (its path relative to the repository) that reach into another
 * part: anything of it but its index.ts and the read and write models the file's part declares.
 * Static, type-only and dynamic imports, re-exports, `import(…)` types and require() count (the
 * compiler's pre-processor finds them all); comments and strings do not.
 */
function foreignImports(file: string, text: string): string[] {
  return ts.preProcessFile(text, true, true).importedFiles.flatMap(({ fileName }) => {
    const target = targetOf(file, fileName);
    const owner = target === null ? null : partOf(target);
    const why = target === null || owner === null ? null : reachInto(file, owner, target);
    return why === null ? [] : [`${file} imports ${fileName}: ${why}`];
  });
}

describe('imports between parts', () => {
  const files = [...new Set(Object.values(parts))]
    .flatMap((src) => sourcesUnder(join(repoRoot, src)))
    .map((f) => relative(repoRoot, f).split(sep).join('/'));
  const tools = sourcesUnder(join(repoRoot, 'scripts')).map((f) => relative(repoRoot, f).split(sep).join('/'));

  it("reach no other part's insides: only its index.ts and the read and write models they declare", () => {
    expect(files.length).toBeGreaterThan(100);
    expect(tools.length).toBeGreaterThan(10);
    expect(
      [...files, ...tools].flatMap((file) => foreignImports(file, readFileSync(join(repoRoot, file), 'utf8'))),
    ).toEqual([]);
  });

  it("declare tables only in db/schema/ (a module's in its store/schema.ts)", () => {
    const elsewhere = files.filter(
      (file) =>
        !/\/src\/db\/schema\/[^/]+\.ts$/.test(file) &&
        !/^subgraphs\/shared\/src\/[^/]+\/store\/schema\.ts$/.test(file) &&
        /\bmysqlTable\s*\(/.test(readFileSync(join(repoRoot, file), 'utf8')),
    );
    expect(elsewhere).toEqual([]);
  });

  it("write nothing through a read model: a write to another part's tables is a listed write model", () => {
    expect(readModels.flatMap((module) => writesIn(module, readFileSync(join(repoRoot, module), 'utf8')))).toEqual([]);
    for (const module of writeModels)
      expect(writesIn(module, readFileSync(join(repoRoot, module), 'utf8')).length, module).toBeGreaterThan(0);
    // Would be caught: a drizzle write and raw SQL that writes, but not a read or a comment.
    expect(
      writesIn(
        'x.ts',
        'await tx.update(payments).set({ settlementId });\nawait db.execute(sql`UPDATE payments SET x = 1`);',
      ).length,
    ).toBe(2);
    expect(
      writesIn(
        'x.ts',
        'await tx.select().from(payments); // tx.update(payments)\nawait db.execute(sql`SELECT 1 FROM payments`);',
      ),
    ).toEqual([]);
  });

  it('have every read and write model listed here documented in docs/ARCHITECTURE.md', () => {
    const section = ownershipSection();
    for (const module of [...readModels, ...writeModels]) {
      expect(existsSync(join(repoRoot, module)), module).toBe(true);
      expect(section, module).toContain(module);
    }
  });

  it("write the ledger's tables only in its store/ (a read model reads)", () => {
    const outsideStore = [...files, ...tools].filter((file) => !file.startsWith(`${parts.ledger}/store/`));
    expect(outsideStore.flatMap((file) => ledgerWritesIn(file, readFileSync(join(repoRoot, file), 'utf8')))).toEqual(
      [],
    );
    const tables = "import { accounts, postings as p } from '@paygraph/shared/ledger/read-model/tables';\n";
    for (const write of [
      'await tx.update(accounts).set({ available: 0n });',
      'await db.delete(p).where(eq(p.id, id));',
      'await insertRows(tx, accounts, rows);',
      "await rawWrite(db, 'UPDATE accounts SET available = 0 WHERE id = ?', [id]);",
      'await db.execute(sql`DELETE FROM ledger_entries WHERE account_id = ${id}`);',
      "await rawWrite(db, 'INSERT IGNORE INTO posting_rejections (dedupe_key) VALUES (?)', [k]);",
    ])
      expect(ledgerWritesIn('subgraphs/settlement/src/db/x.ts', tables + write), write).toHaveLength(1);
    for (const read of [
      'await db.select().from(accounts).where(eq(accounts.id, id));',
      "await rawRows(db, 'SELECT available FROM accounts WHERE id = ?', [id]); // UPDATE accounts SET",
      'await tx.update(payments).set({ settlementId });',
    ])
      expect(ledgerWritesIn('subgraphs/settlement/src/db/x.ts', tables + read), read).toEqual([]);
  });

  it('would notice a reach into another part, however it is written', () => {
    for (const [file, line] of reaches) expect(foreignImports(file, line), `${file}: ${line}`).toHaveLength(1);
    for (const [file, line] of doors) expect(foreignImports(file, line), `${file}: ${line}`).toEqual([]);
  });
});

/** Imports that reach into another part, one of each form, as they would sit in the file named. */
const reaches: ReadonlyArray<readonly [string, string]> = [
  // Another part's tables, and read or write models the importer does not declare.
  ['gateway/src/security/audit.ts', "import type { AuditEventRow } from '@paygraph/transaction/db/schema/audit';"],
  [
    'subgraphs/settlement/src/services/settle.ts',
    "import { payments } from '../../../transaction/src/db/schema/transactions';",
  ],
  [
    'subgraphs/account/src/db/account-views.ts',
    "export { auditEvents } from '../../../../gateway/src/db/schema/audit';",
  ],
  ['subgraphs/shared/src/db/migrate.ts', "import { holds } from '@paygraph/transaction/db/holds';"],
  ['subgraphs/settlement/src/context.ts', "import { x } from '@paygraph/transaction/read-model/unlisted';"],
  ['subgraphs/settlement/src/services/settle.ts', "import { x } from '@paygraph/transaction/write-model/unlisted';"],
  [
    'subgraphs/account/src/db/account-views.ts',
    "import { accounts } from '@paygraph/shared/ledger/read-model/tables';",
  ],
  // Another part's services, domain or server, in every form an import takes.
  [
    'subgraphs/settlement/src/services/advances.ts',
    "import { withIdempotencyKey } from '@paygraph/transaction/services/idempotency';",
  ],
  [
    'subgraphs/settlement/src/services/settle.ts',
    "import { payTwoLegs } from '../../../transaction/src/services/two-leg-payment';",
  ],
  [
    'subgraphs/transaction/src/services/payment.ts',
    "const store = await import('@paygraph/settlement/db/settlement-store');",
  ],
  [
    'subgraphs/transaction/src/services/payment.ts',
    "const settle = await import('../../../settlement/src/services/settle');",
  ],
  [
    'subgraphs/webhooks/src/services/materialize.ts',
    "const { runOutboxStep } = require('@paygraph/transaction/services/relay');",
  ],
  ['subgraphs/webhooks/src/services/materialize.ts', "import relay = require('@paygraph/transaction/services/relay');"],
  ['gateway/src/server.ts', "import type { KeySpec } from '@paygraph/transaction/domain/payment-plan';"],
  ['gateway/src/server.ts', "type Plan = import('@paygraph/transaction/domain/payment-plan').PaymentPlan;"],
  [
    'subgraphs/webhooks/src/domain/events.ts',
    "export { encodeBalanceCursor } from '@paygraph/account/domain/balance-cursor';",
  ],
  ['subgraphs/webhooks/src/domain/events.ts', "export * from '@paygraph/account/server';"],
  // A shared module's insides, from a part, the rest of the library, a script or another module.
  ['subgraphs/transaction/src/services/legs.ts', "import { postBatch } from '@paygraph/shared/ledger/engine/batch';"],
  [
    'subgraphs/account/src/db/account-writes.ts',
    "import { insertAccount } from '@paygraph/shared/ledger/store/accounts';",
  ],
  [
    'subgraphs/settlement/src/services/advances.ts',
    "import { keyHeld } from '@paygraph/shared/idempotency/store/keys';",
  ],
  ['subgraphs/shared/src/server/main.ts', "import { keyRing } from '../ledger/rules/tamper';"],
  ['scripts/verify.ts', "import { lockAccounts } from '../subgraphs/shared/src/ledger/store/postings';"],
  ['subgraphs/shared/src/ledger/engine/batch.ts', "import { scopeOf } from '../../idempotency/store/keys';"],
];

/** Imports through a door, of a declared model, within a part, or of the library: none is a reach. */
const doors: ReadonlyArray<readonly [string, string]> = [
  [
    'subgraphs/settlement/src/context.ts',
    "import { settlementIdsOfPayments } from '@paygraph/transaction/read-model/settlement';",
  ],
  [
    'subgraphs/settlement/src/services/settle.ts',
    "import { markSettled } from '@paygraph/transaction/write-model/settlement';",
  ],
  [
    'subgraphs/settlement/src/db/ledger-checks.ts',
    "import { postings } from '@paygraph/shared/ledger/read-model/tables';",
  ],
  ['gateway/src/db/audit-store.ts', "import { insertRows } from '@paygraph/shared/db/raw';"],
  ['gateway/src/db/audit-store.ts', "import { auditEvents } from './schema/audit';"],
  ['subgraphs/transaction/src/read-model/settlement.ts', "import { payments } from '../db/schema/transactions';"],
  [
    'subgraphs/account/src/services/x.ts',
    "// import { payments } from '@paygraph/transaction/db/schema/transactions';",
  ],
  ['subgraphs/account/src/services/x.ts', 'const hint = "import(\'@paygraph/transaction/services/relay\')";'],
  ['subgraphs/transaction/src/services/legs.ts', "import { postOne } from '@paygraph/shared/ledger/index';"],
  ['subgraphs/settlement/src/services/settle.ts', "import { postOne } from '@paygraph/shared/ledger';"],
  [
    'subgraphs/settlement/src/services/advances.ts',
    "import { withIdempotencyKey } from '@paygraph/shared/idempotency/index';",
  ],
  ['subgraphs/webhooks/src/domain/events.ts', "import { encodeBalanceCursor } from '@paygraph/account/index';"],
  ['subgraphs/shared/src/server/main.ts', "import { setKeyRing } from '../ledger/index';"],
  ['subgraphs/shared/src/events/ledger-hints.ts', "import { onCommitted } from '../ledger';"],
  ['subgraphs/shared/src/ledger/engine/batch.ts', "import { lockAndReadPrior } from '../store/postings';"],
  ['scripts/verify.ts', "import { verifyShard } from '../subgraphs/shared/src/ledger/index';"],
  ['scripts/bench/recon-e2e.ts', "import { openAccountRow } from '../../subgraphs/account/src/db/account-writes';"],
];

/** docs/ARCHITECTURE.md's "Table ownership and read models", up to the next heading. */
function ownershipSection(): string {
  const architecture = readFileSync(join(repoRoot, 'docs/ARCHITECTURE.md'), 'utf8');
  return /\*\*Table ownership and read models\.\*\*([\s\S]*?)\n## /.exec(architecture)?.[1] ?? '';
}

/** The tables the documentation's ownership table gives each part (its row's second cell). */
function documentedOwners(): Map<string, Part[]> {
  const owners = new Map<string, Part[]>();
  for (const line of ownershipSection().split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    const part = cells[1] as Part;
    if (!(part in parts)) continue;
    for (const [, table] of (cells[2] ?? '').matchAll(/`([a-z_]+)`/g)) pushTo(owners, table!, part);
  }
  return owners;
}

/** A table and the parts whose schema files declare it. */
type Declarations = ReadonlyMap<string, readonly Part[]>;

async function declaredTables(): Promise<Declarations> {
  const owners = new Map<string, Part[]>();
  for (const [part, src] of Object.entries(parts) as Array<[Part, string]>) {
    for (const file of schemaFilesOf(src)) {
      const module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
      for (const value of Object.values(module)) {
        if (!is(value, MySqlTable)) continue;
        const name = getTableName(value);
        const list = owners.get(name) ?? [];
        if (!list.includes(part)) list.push(part);
        owners.set(name, list);
      }
    }
  }
  return owners;
}

/** What breaks "one table, one owner": a table with none or several, or a declared table no migration made. */
function ownershipProblems(tables: readonly string[], declared: Declarations): string[] {
  const problems = tables.flatMap((table) => {
    const owners = declared.get(table) ?? [];
    if (owners.length === 1) return [];
    return [
      owners.length === 0
        ? `${table}: in the database but in no part's schema`
        : `${table}: declared by ${owners.join(' and ')}`,
    ];
  });
  for (const table of declared.keys())
    if (!tables.includes(table)) problems.push(`${table}: declared but not in the database`);
  return problems;
}

describe('tables of the migrated database', () => {
  let shards: ShardSet;
  beforeAll(() => {
    shards = testShards(1);
  });
  afterAll(async () => {
    await shards.close();
  });

  it("are each declared in exactly one part's schema files", async () => {
    const declared = await declaredTables();
    expect(declared.size).toBeGreaterThan(10);
    for (const shard of shards.all) {
      // drizzle's bookkeeping, one table per migration set, belongs to the migrator.
      const rows = await rawRows<{ name: string }>(
        shard.db,
        "SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME NOT LIKE '\\_\\_migrations\\_%' ORDER BY 1",
      );
      expect(
        ownershipProblems(
          rows.map((r) => r.name),
          declared,
        ),
        shard.name,
      ).toEqual([]);
    }
  });

  it('are each given to their owner in docs/ARCHITECTURE.md', async () => {
    expect(documentedOwners()).toEqual(await declaredTables());
  });

  it('would notice a table with two owners, one with none, and one never migrated', () => {
    const declared: Declarations = new Map<string, Part[]>([
      ['payments', ['transaction']],
      ['audit_events', ['gateway', 'transaction']],
      ['ghosts', ['account']],
    ]);
    expect(ownershipProblems(['payments', 'audit_events', 'orphans'], declared)).toEqual([
      'audit_events: declared by gateway and transaction',
      "orphans: in the database but in no part's schema",
      'ghosts: declared but not in the database',
    ]);
  });
});
