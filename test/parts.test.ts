import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { folderOf, parts, subgraphNames } from '../scripts/lib/parts';
import { supergraphSubgraphs } from '../gateway/src/compose';
import { productionSources, repoRoot, sourcesUnder } from './support/sources';

/**
 * One list of parts (issue 36): each part declares itself in its src/part.ts, scripts/lib/parts.ts
 * lists the declarations, and every tool reads that list. These tests fail when a part is added
 * in one place only: a folder without a declaration in the list, a declaration without its
 * schema or workspace, or a list of the parts written out by hand anywhere in the code.
 */
const repoPath = (file: string) => relative(repoRoot, file).split(sep).join('/');

/** Lists that name every subgraph by hand: an array, an object's keys or a union of string literals. */
export function handWrittenPartLists(path: string, text: string, names: readonly string[]): string[] {
  const source = ts.createSourceFile(path, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const found: string[] = [];
  const namesAll = (named: readonly string[]) => names.every((name) => named.includes(name));
  const at = (node: ts.Node) => `${path}:${source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1}`;
  const visit = (node: ts.Node): void => {
    if (ts.isArrayLiteralExpression(node) && namesAll(node.elements.filter(ts.isStringLiteralLike).map((e) => e.text)))
      found.push(`${at(node)} an array of the parts`);
    if (
      ts.isUnionTypeNode(node) &&
      namesAll(
        node.types.flatMap((t) => (ts.isLiteralTypeNode(t) && ts.isStringLiteral(t.literal) ? [t.literal.text] : [])),
      )
    )
      found.push(`${at(node)} a union of the parts`);
    if (ts.isObjectLiteralExpression(node) && !typedByTheList(node)) {
      const keys = node.properties.flatMap((p) =>
        p.name && (ts.isIdentifier(p.name) || ts.isStringLiteral(p.name)) ? [p.name.text] : [],
      );
      if (namesAll(keys)) found.push(`${at(node)} an object keyed by the parts`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/**
 * An object keyed by every part is allowed where its type is the list's (Record<SubgraphName, …>):
 * then a part added to the list and not to the object does not compile.
 */
function typedByTheList(node: ts.Node): boolean {
  const declaration = node.parent;
  return (
    ts.isVariableDeclaration(declaration) &&
    declaration.type !== undefined &&
    /\b(SubgraphName|PartName)\b/.test(declaration.type.getText())
  );
}

describe('the parts list', () => {
  it("holds every part folder, each declared once in its src/part.ts under its folder's name", () => {
    const folders = readdirSync(join(repoRoot, 'subgraphs'), { withFileTypes: true })
      .filter((d) => d.isDirectory() && d.name !== 'shared' && existsSync(join(repoRoot, 'subgraphs', d.name, 'src')))
      .map((d) => `subgraphs/${d.name}`);
    expect(parts.map(folderOf).sort()).toEqual([...folders, 'gateway'].sort());
    for (const part of parts) {
      expect(existsSync(join(repoRoot, folderOf(part), 'src', 'part.ts')), part.name).toBe(true);
      expect(folderOf(part).split('/').at(-1), part.name).toBe(part.name);
    }
    expect(new Set(parts.map((p) => p.name)).size).toBe(parts.length);
  });

  it('gives every subgraph its schema and every part its workspace', () => {
    const schemas = readdirSync(join(repoRoot, 'schema'))
      .filter((f) => f.endsWith('.graphql') && f !== 'supergraph.graphql')
      .map((f) => f.replace(/\.graphql$/, ''));
    expect(schemas.sort()).toEqual([...subgraphNames].sort());
    const { workspaces } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { workspaces: string[] };
    for (const part of parts) expect(workspaces, part.name).toContain(folderOf(part));
  });

  it('is what the gateway serves: the supergraph composes its subgraphs, in its order', () => {
    expect(supergraphSubgraphs().map((s) => s.name)).toEqual(subgraphNames);
  });

  it('declares workers each part runs, by the name its log lines carry', () => {
    for (const part of parts) {
      const text = sourcesUnder(join(repoRoot, folderOf(part), 'src'))
        .map((f) => readFileSync(f, 'utf8'))
        .join('\n');
      for (const worker of part.workers) expect(text, `${part.name}: ${worker}`).toContain(`name: '${worker}'`);
    }
  });

  it('is written nowhere else by hand: no array, union or object of every subgraph in the code or the test stacks', () => {
    const files = [...productionSources(), ...sourcesUnder(join(repoRoot, 'test', 'support'))];
    expect(
      files.flatMap((file) => handWrittenPartLists(repoPath(file), readFileSync(file, 'utf8'), subgraphNames)),
    ).toEqual([]);
  });

  it('would notice a list written by hand, and let a typed one and a partial one pass', () => {
    const names = ['a', 'b', 'c'];
    const sample = [
      "const list = ['a', 'b', 'c'] as const;",
      "type Name = 'a' | 'b' | 'c';",
      'const ports = { a: 1, b: 2, c: 3 };',
      'const typed: Record<SubgraphName, number> = { a: 1, b: 2, c: 3 };',
      "const some = ['a', 'b'];",
    ].join('\n');
    expect(handWrittenPartLists('x.ts', sample, names)).toEqual([
      'x.ts:1 an array of the parts',
      'x.ts:2 a union of the parts',
      'x.ts:3 an object keyed by the parts',
    ]);
  });

  it('feeds every tool: migrate, codegen, compose, the connection budget, the start plan, the build and the test stacks import it', () => {
    const consumers = [
      'scripts/lib/migration-sets.ts',
      'scripts/lib/resolver-types.ts',
      'scripts/compose.ts',
      'scripts/lib/connection-budget.ts',
      'scripts/start.ts',
      'scripts/lib/config.ts',
      'scripts/lib/build.ts',
      'scripts/lib/subgraph-secrets.ts',
      'scripts/bench/bench-stack.ts',
      'test/support/stack.ts',
      'test/support/process-stack.ts',
      'test/support/processes.ts',
      'test/support/env.ts',
    ];
    for (const file of consumers) {
      const imported = ts
        .preProcessFile(readFileSync(join(repoRoot, file), 'utf8'), true, true)
        .importedFiles.map((i) => i.fileName);
      expect(
        imported.some((name) => /(^|\/)(lib\/)?parts$/.test(name) && !name.includes('@paygraph')),
        file,
      ).toBe(true);
    }
  });
});
