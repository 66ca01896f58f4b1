import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { productionSources, repoRoot, sourcesUnder } from './support/sources';

/**
 * One authorization shape per part (issue 36, item 4): each part's `services/access.ts` is the
 * one module of its predicates (who may read, write, operate), built on the shared rules of
 * `shared/src/authorization.ts`; only its services ask it; resolvers parse, call a service and
 * answer its refusal (FORBIDDEN), never decide one; and the channel rule is written once, in
 * the shared library. Read off each source file, as layering.test.ts reads the layers.
 */

/** Every part: a folder under subgraphs/ with src/resolvers (shared is the library, not a part). */
const parts = readdirSync(join(repoRoot, 'subgraphs'), { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(repoRoot, 'subgraphs', d.name, 'src', 'resolvers')))
  .map((d) => d.name);

const roleNames = '(?:customer|merchant|partner|operator|channel)';
/**
 * A role compared with a role's name (`role === 'operator'`, `'channel' !== x.role`, `case 'partner':`): a decision
 * about roles.
 */
const roleComparison = new RegExp(`[!=]==?\\s*'${roleNames}'|'${roleNames}'\\s*[!=]==?|\\bcase\\s+'${roleNames}'\\s*:`);
const channelComparison = /[!=]==?\s*'channel'|'channel'\s*[!=]==?|\bcase\s+'channel'\s*:/g;

interface Import {
  specifier: string;
  /** `import type …` (or every name imported as a type): erased, so it decides nothing. */
  typeOnly: boolean;
}

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
      found.push({ specifier: statement.moduleSpecifier.text, typeOnly });
    } else if (
      ts.isExportDeclaration(statement) &&
      statement.moduleSpecifier &&
      ts.isStringLiteral(statement.moduleSpecifier)
    ) {
      found.push({ specifier: statement.moduleSpecifier.text, typeOnly: statement.isTypeOnly });
    }
  }
  return found;
}

/** Comments say why, and may name roles and predicates: only code is read. */
function codeOf(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

/** The shape rules a part's file breaks, by where it sits under the part's src/ (`inSrc`). */
function breachesOf(inSrc: string, text: string): string[] {
  const layer = inSrc.split('/')[0];
  const isAccess = inSrc === 'services/access.ts';
  const code = codeOf(text);
  const found: string[] = [];
  for (const imported of importsOf(inSrc, text)) {
    if (imported.typeOnly) continue;
    if (layer === 'resolvers' && /(?:^|\/)services\/access$|^\.\/access$/.test(imported.specifier)) {
      found.push(`resolvers ask services, never the access predicates: ${imported.specifier}`);
    }
    if (!isAccess && /^@paygraph\/shared\/authorization$/.test(imported.specifier)) {
      found.push(`only services/access.ts asks the shared rules (a type may be named): ${imported.specifier}`);
    }
    if (!isAccess && /^@paygraph\/shared\/identity$/.test(imported.specifier)) {
      found.push(`roles are decided in services/access.ts (a type may be named): ${imported.specifier}`);
    }
    if (!isAccess && /^\.\.?\/(?:.*\/)?authorization$/.test(imported.specifier)) {
      found.push(`one module of predicates per part, services/access.ts: ${imported.specifier}`);
    }
  }
  if (layer === 'resolvers' && /\bpermitted\s*\(/.test(code)) found.push('resolvers do not decide who may: permitted(');
  if (layer === 'resolvers' && /\bidentity\b/.test(code))
    found.push("resolvers do not read the caller's identity: services do");
  if (!isAccess && roleComparison.test(code))
    found.push(`roles are compared in services/access.ts only: ${roleComparison.exec(code)![0]}`);
  if (!isAccess && /\bforbiddenBecause\s*\(/.test(code))
    found.push('refusals are made in services/access.ts only: forbiddenBecause(');
  return found;
}

function partBreaches(part: string): string[] {
  const src = join(repoRoot, 'subgraphs', part, 'src');
  const breaches = existsSync(join(src, 'services', 'access.ts')) ? [] : [`${part}: has no services/access.ts`];
  for (const file of sourcesUnder(src)) {
    const inSrc = relative(src, file).split(sep).join('/');
    if (inSrc.startsWith('generated/')) continue;
    breaches.push(...breachesOf(inSrc, readFileSync(file, 'utf8')).map((b) => `${part}/src/${inSrc}: ${b}`));
  }
  return breaches;
}

describe('one authorization shape per part', () => {
  it('finds the parts', () => {
    expect(parts).toEqual(expect.arrayContaining(['account', 'transaction', 'settlement', 'webhooks']));
  });

  for (const part of parts) {
    it(`${part}: services/access.ts decides, services ask it, resolvers answer`, () => {
      expect(partBreaches(part)).toEqual([]);
    });
  }

  it('the channel rule is written once, in shared/src/authorization.ts', () => {
    const comparisons = productionSources().flatMap((file) => {
      const count = codeOf(readFileSync(file, 'utf8')).match(channelComparison)?.length ?? 0;
      return count === 0 ? [] : [`${relative(repoRoot, file).split(sep).join('/')} × ${count}`];
    });
    expect(comparisons).toEqual(['subgraphs/shared/src/authorization.ts × 1']);
  });
});

/** Files that break one rule each (and ones that keep them), as they would sit under a part's src/. */
const samples: Record<string, string> = {
  'resolvers/asks-access.ts': "import { mayReadAccount } from '../services/access';\n",
  'resolvers/permits.ts': 'export const r = (ctx: C) => { permitted(refusal(ctx)); };\n',
  'resolvers/reads-identity.ts': 'export const r = (ctx: C) => ctx.identity.sub;\n',
  'resolvers/answers.ts':
    "import { allowed } from '@paygraph/shared/graphql/errors';\nimport type { Forbidden } from '@paygraph/shared/authorization';\n",
  'services/compares-role.ts': "export const isOperator = (i: { role: string }) => i.role === 'operator';\n",
  'services/switches-role.ts':
    "export function f(role: string) { switch (role) { case 'partner': return 1; } return 0; }\n",
  'services/refuses.ts':
    "import { forbiddenBecause } from '@paygraph/shared/authorization';\nexport const no = forbiddenBecause('no');\n",
  'services/asks-shared.ts': "import { mayWrite } from '@paygraph/shared/authorization';\n",
  'services/old-module.ts': "import { operatorOnly } from './authorization';\n",
  'services/asks-access.ts': "import { mayPayFrom } from './access';\n// an operator (role === 'operator') may\n",
  'services/access.ts':
    "import { forbiddenBecause, mayRead } from '@paygraph/shared/authorization';\nexport const f = (r: string) => r === 'operator';\n",
  'domain/compares-role.ts': "export const f = (r: string) => 'customer' !== r;\n",
  'services/legs.ts': "export const payer = (leg: { role: string }) => leg.role === 'PAYER';\n",
};

describe('the shape rules', () => {
  // Each rule, shown to fail on a file that breaks it, so that a rule that stopped matching is noticed.
  it('catch each breach they name, and let pass what keeps them', () => {
    const broken = Object.entries(samples)
      .filter(([inSrc, text]) => breachesOf(inSrc, text).length > 0)
      .map(([inSrc]) => inSrc);
    expect(broken.sort()).toEqual([
      'domain/compares-role.ts',
      'resolvers/asks-access.ts',
      'resolvers/permits.ts',
      'resolvers/reads-identity.ts',
      'services/asks-shared.ts',
      'services/compares-role.ts',
      'services/old-module.ts',
      'services/refuses.ts',
      'services/switches-role.ts',
    ]);
  });

  it('count a channel comparison each way it is written', () => {
    expect(
      "a.role === 'channel' || 'channel' !== b; switch (r) { case 'channel': }".match(channelComparison),
    ).toHaveLength(3);
  });
});
