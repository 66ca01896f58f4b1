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
 * docs/ARCHITECTURE.md ("Read models"). The shared library (the ledger) is everyone's.
 */
const repoRoot = fileURLToPath(new URL('../', import.meta.url));

const parts: Readonly<Record<string, string>> = {
  ...Object.fromEntries(partsList.map((part) => [part.name, `${folderOf(part)}/src`])),
  shared: 'subgraphs/shared/src',
  // A module of the shared library with tables of its own: its folder, its door (index.ts).
  ledger: 'subgraphs/shared/src/ledger',
  idempotency: 'subgraphs/shared/src/idempotency',
};
type Part = string;
const everyonesPart: Part = 'shared';

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

/**
 * The imports of one source file (its path relative to the repository) that reach into another
 * part's tables: its db/ folder (schema or SQL), or a read-model/ module that is not listed.
 * Type-only, re-exports and dynamic imports count; comments and strings do not.
 */
function foreignTableImports(file: string, text: string): string[] {
  const own = partOf(file);
  return ts.preProcessFile(text, true, true).importedFiles.flatMap(({ fileName }) => {
    const target = targetOf(file, fileName);
    const owner = target === null ? null : partOf(target);
    if (target === null || owner === null || owner === own || owner === everyonesPart) return [];
    const inside = target.slice(parts[owner]!.length + 1);
    if (inside.startsWith('db/'))
      return [`${file} imports ${fileName}: ${owner}'s tables (ask it over GraphQL or through a read model)`];
    if (
      (inside.startsWith('read-model/') || inside.startsWith('write-model/')) &&
      !modelsReadBy(own).includes(`${target}.ts`)
    ) {
      return [
        `${file} imports ${fileName}: a read or write model its part.ts does not declare in reads (nor docs/ARCHITECTURE.md)`,
      ];
    }
    return [];
  });
}

describe('imports between parts', () => {
  const files = Object.values(parts)
    .flatMap((src) => sourcesUnder(join(repoRoot, src)))
    .map((f) => relative(repoRoot, f).split(sep).join('/'));

  it("reach no other part's db/ (schema or SQL), only its listed read models", () => {
    expect(files.length).toBeGreaterThan(100);
    expect(files.flatMap((file) => foreignTableImports(file, readFileSync(join(repoRoot, file), 'utf8')))).toEqual([]);
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

  it('would notice a reach into another part, however it is written', () => {
    const refused: Array<[string, string]> = [
      ['gateway/src/security/audit.ts', "import type { AuditEventRow } from '@paygraph/transaction/db/schema/audit';"],
      [
        'subgraphs/settlement/src/services/settle.ts',
        "import { payments } from '../../../transaction/src/db/schema/transactions';",
      ],
      [
        'subgraphs/transaction/src/services/payment.ts',
        "const store = await import('@paygraph/settlement/db/settlement-store');",
      ],
      [
        'subgraphs/account/src/db/account-views.ts',
        "export { auditEvents } from '../../../../gateway/src/db/schema/audit';",
      ],
      ['subgraphs/shared/src/db/migrate.ts', "import { holds } from '@paygraph/transaction/db/holds';"],
      ['subgraphs/settlement/src/context.ts', "import { x } from '@paygraph/transaction/read-model/unlisted';"],
      [
        'subgraphs/settlement/src/services/settle.ts',
        "import { x } from '@paygraph/transaction/write-model/unlisted';",
      ],
    ];
    for (const [file, line] of refused) expect(foreignTableImports(file, line), line).toHaveLength(1);
    const allowed: Array<[string, string]> = [
      [
        'subgraphs/settlement/src/context.ts',
        "import { settlementIdsOfPayments } from '@paygraph/transaction/read-model/settlement';",
      ],
      [
        'subgraphs/settlement/src/services/settle.ts',
        "import { markSettled } from '@paygraph/transaction/write-model/settlement';",
      ],
      ['gateway/src/db/audit-store.ts', "import { insertRows } from '@paygraph/shared/db/raw';"],
      ['gateway/src/db/audit-store.ts', "import { auditEvents } from './schema/audit';"],
      ['subgraphs/transaction/src/read-model/settlement.ts', "import { payments } from '../db/schema/transactions';"],
      [
        'subgraphs/account/src/services/x.ts',
        "// import { payments } from '@paygraph/transaction/db/schema/transactions';",
      ],
    ];
    for (const [file, line] of allowed) expect(foreignTableImports(file, line), line).toEqual([]);
  });
});

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
