import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { sourcesUnder } from './support/sources';

/**
 * Every subgraph reads the same way (issue 22, shared/LAYOUT.md): resolvers parse, call a
 * service and map its answer; services authorize (a refusal is a value, answered FORBIDDEN at
 * the resolver edge) and orchestrate; domain/ is pure; db/ owns the SQL. These rules are read
 * off each source file's imports, as table-ownership.test.ts reads table ownership.
 */
const repoRoot = fileURLToPath(new URL('../', import.meta.url));

/**
 * Every subgraph, a new one included: a folder under subgraphs/ with src/resolvers (shared is the library, not a
 * subgraph).
 */
const subgraphs = readdirSync(join(repoRoot, 'subgraphs'), { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(repoRoot, 'subgraphs', d.name, 'src', 'resolvers')))
  .map((d) => d.name);

/** Modules that do I/O: a domain module imports none of them (nor a clock or randomness, which imports cannot show). */
const ioModules = new Set([
  'fs',
  'fs/promises',
  'net',
  'http',
  'https',
  'http2',
  'tls',
  'dgram',
  'dns',
  'child_process',
  'worker_threads',
  'mysql2',
  'mysql2/promise',
  'ioredis',
  'undici',
  'ws',
  'drizzle-orm',
  'drizzle-orm/mysql-core',
  'drizzle-orm/mysql2',
]);

interface Import {
  specifier: string;
  /** `import type …` (or every name imported as a type): erased, so it runs nothing. */
  typeOnly: boolean;
  names: string[];
  /** The names imported as values (not `type`): what the file can run. */
  values: string[];
}

/** The static imports and re-exports of a file, and its dynamic imports (counted as value imports). */
function importsOf(path: string, text: string): Import[] {
  const source = ts.createSourceFile(path, text, ts.ScriptTarget.ES2022, false, ts.ScriptKind.TS);
  const found: Import[] = [];
  for (const statement of source.statements) {
    if (ts.isImportDeclaration(statement) && ts.isStringLiteral(statement.moduleSpecifier)) {
      const clause = statement.importClause;
      const bindings =
        clause?.namedBindings && ts.isNamedImports(clause.namedBindings) ? clause.namedBindings.elements : [];
      const typeOnly =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (clause.name === undefined && bindings.length > 0 && bindings.every((b) => b.isTypeOnly)));
      found.push({
        specifier: statement.moduleSpecifier.text,
        typeOnly,
        names: bindings.map((b) => (b.propertyName ?? b.name).text),
        values: typeOnly ? [] : bindings.filter((b) => !b.isTypeOnly).map((b) => (b.propertyName ?? b.name).text),
      });
    } else if (
      ts.isExportDeclaration(statement) &&
      statement.moduleSpecifier &&
      ts.isStringLiteral(statement.moduleSpecifier)
    ) {
      found.push({ specifier: statement.moduleSpecifier.text, typeOnly: statement.isTypeOnly, names: [], values: [] });
    }
  }
  const statics = new Set(found.map((i) => i.specifier));
  for (const { fileName } of ts.preProcessFile(text, true, true).importedFiles) {
    if (!statics.has(fileName)) found.push({ specifier: fileName, typeOnly: false, names: [], values: [] });
  }
  return found;
}

/** The folder of the part an import reaches (`db`, `services`, …), own or another part's, or null for a package. */
function layerOf(specifier: string): string | null {
  const workspace = /^@paygraph\/[^/]+\/([^/]+)\//.exec(specifier);
  if (workspace) return workspace[1]!;
  const relativePath = /^(?:\.\.?\/)+([^/.][^/]*)\//.exec(specifier);
  return relativePath ? relativePath[1]! : null;
}

/**
 * The ledger's pure face: what its index.ts re-exports from its rules/ (no I/O). Its door also
 * opens on its engine and store, which a resolver (it calls services) or a domain rule (pure) must
 * not call, as they could not when those sat in db/.
 */
const ledgerRules: ReadonlySet<string> = new Set(
  ts
    .createSourceFile(
      'index.ts',
      readFileSync(join(repoRoot, 'subgraphs/shared/src/ledger/index.ts'), 'utf8'),
      ts.ScriptTarget.ES2022,
    )
    .statements.flatMap((statement) =>
      ts.isExportDeclaration(statement) &&
      statement.moduleSpecifier &&
      ts.isStringLiteral(statement.moduleSpecifier) &&
      statement.moduleSpecifier.text.startsWith('./rules/') &&
      statement.exportClause &&
      ts.isNamedExports(statement.exportClause)
        ? statement.exportClause.elements.map((e) => e.name.text)
        : [],
    ),
);

/** Whether an import names the ledger's door (its index.ts, or its folder). */
function isLedgerDoor(specifier: string): boolean {
  return /(^@paygraph\/shared|\/shared\/src|^\.\.?(\/\.\.)*)\/ledger(\/index)?$/.test(specifier);
}

function nodeModuleName(specifier: string): string {
  return specifier.replace(/^node:/, '');
}

interface Violation {
  file: string;
  rule: string;
}

/** The layer rules a subgraph's file breaks, by the folder under src/ it lives in (`inSrc`). */
function violationsOf(file: string, inSrc: string, text: string): Violation[] {
  const layer = inSrc.split('/')[0];
  const found: Violation[] = [];
  for (const imported of importsOf(file, text)) {
    const target = layerOf(imported.specifier);
    if (
      layer === 'resolvers' &&
      target === 'db' &&
      !(imported.typeOnly && imported.specifier.includes('/db/schema/'))
    ) {
      found.push({
        file,
        rule: `resolvers call services, never db/ (only a row's type from db/schema/ may be named): ${imported.specifier}`,
      });
    }
    if (layer === 'services' && imported.specifier === 'graphql' && imported.names.includes('GraphQLError')) {
      found.push({ file, rule: 'services answer refusals as values, never GraphQL errors: graphql GraphQLError' });
    }
    if (layer === 'services' && /\/graphql\/errors$/.test(imported.specifier)) {
      found.push({ file, rule: `services answer refusals as values, never GraphQL errors: ${imported.specifier}` });
    }
    if (layer === 'domain' && (target === 'db' || target === 'services' || target === 'resolvers')) {
      found.push({ file, rule: `domain/ is pure: it imports no ${target}/ (${imported.specifier})` });
    }
    if (layer === 'domain' && !imported.typeOnly && ioModules.has(nodeModuleName(imported.specifier))) {
      found.push({ file, rule: `domain/ is pure: no I/O (${imported.specifier})` });
    }
    const unruly = isLedgerDoor(imported.specifier) ? imported.values.filter((n) => !ledgerRules.has(n)) : [];
    if (layer === 'domain' && unruly.length > 0) {
      found.push({ file, rule: `domain/ is pure: of the ledger it takes only its rules, not ${unruly.join(', ')}` });
    }
    if (layer === 'resolvers' && unruly.length > 0) {
      found.push({ file, rule: `resolvers call services, never the ledger's engine or store: ${unruly.join(', ')}` });
    }
    if (layer === 'resolvers' && /^@paygraph\/shared\/identity$/.test(imported.specifier) && !imported.typeOnly) {
      found.push({ file, rule: 'resolvers do not decide who may: services do (services/access.ts)' });
    }
  }
  if (layer === 'resolvers' && /\bidentity\.role\b/.test(text)) {
    found.push({ file, rule: 'resolvers do not decide who may (identity.role): services do' });
  }
  return found;
}

describe('layers in every subgraph', () => {
  it('finds the subgraphs', () => {
    expect(subgraphs).toEqual(expect.arrayContaining(['account', 'transaction', 'settlement']));
  });

  for (const subgraph of subgraphs) {
    it(`${subgraph}: resolvers → services → domain, db/ behind services, refusals as values`, () => {
      const src = join(repoRoot, 'subgraphs', subgraph, 'src');
      const files = sourcesUnder(src);
      expect(files.length).toBeGreaterThan(0);
      const found = files.flatMap((f) =>
        violationsOf(
          relative(repoRoot, f).split(sep).join('/'),
          relative(src, f).split(sep).join('/'),
          readFileSync(f, 'utf8'),
        ),
      );
      expect(found).toEqual([]);
    });
  }
});

/** Files that break one rule each (and two that keep them), as they would sit under a subgraph's src/. */
const samples: Record<string, string> = {
  'resolvers/calls-db.ts': "import { loadOwnerPage } from '../db/account-views';\n",
  'resolvers/names-a-row.ts': "import type { HoldRow } from '../db/schema/transactions';\n",
  'resolvers/asks-role.ts':
    "export const isOperator = (ctx: { identity: { role: string } }) => ctx.identity.role === 'operator';\n",
  'resolvers/checks-owner.ts': "import { mayRead } from '@paygraph/shared/identity';\n",
  'services/throws.ts': "import { forbidden } from '@paygraph/shared/graphql/errors';\n",
  'services/throws-graphql.ts': "import { GraphQLError } from 'graphql';\n",
  'services/returns-a-value.ts': "import { forbiddenBecause } from '@paygraph/shared/authorization';\n",
  'domain/uses-db.ts': "import type { PaymentRow } from '../db/schema/transactions';\n",
  'domain/reads-file.ts': "import { readFileSync } from 'node:fs';\n",
  'domain/calls-a-service.ts': "import { readAccounts } from '../services/accounts';\n",
  'domain/posts.ts': "import { postOne, totalOf } from '@paygraph/shared/ledger/index';\n",
  'domain/keeps-to-rules.ts': "import { dedupeKeys, totalOf, type EntryRow } from '@paygraph/shared/ledger/index';\n",
  'resolvers/reads-entries.ts': "import { creditUsedOf, entriesPage } from '@paygraph/shared/ledger/index';\n",
  'resolvers/names-an-entry.ts': "import type { EntryRow } from '@paygraph/shared/ledger/index';\n",
};

describe('the layer rules', () => {
  // Each rule, shown to fail on a file that breaks it, so that a rule that stopped matching is noticed.
  it('catch each breach they name, and let pass what keeps them', () => {
    const broken = Object.entries(samples)
      .flatMap(([inSrc, text]) => violationsOf(inSrc, inSrc, text))
      .map((v) => v.file);
    expect([...new Set(broken)].sort()).toEqual([
      'domain/calls-a-service.ts',
      'domain/posts.ts',
      'domain/reads-file.ts',
      'domain/uses-db.ts',
      'resolvers/asks-role.ts',
      'resolvers/calls-db.ts',
      'resolvers/checks-owner.ts',
      'resolvers/reads-entries.ts',
      'services/throws-graphql.ts',
      'services/throws.ts',
    ]);
  });
});
