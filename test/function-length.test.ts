import { readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { repoRoot, sourcesUnder } from './support/sources';

/**
 * Functions read whole (TigerBeetle's TIGER_STYLE, issue 36): no function in gateway/src or a
 * subgraph's src/ is longer than functionLinesMax lines, counted from the line of its first token
 * to the line of its last, signature and braces included. Read off the compiler's syntax tree,
 * so a function in a string or a comment is not one, and every kind counts: declarations,
 * methods, accessors, constructors, arrow functions and function expressions. Generated files
 * (src/generated/) are left out: no one reads them to change them.
 */
const functionLinesMax = 70;

interface LongFunction {
  /** file:line, the repository's path. */
  at: string;
  name: string;
  lines: number;
}

function nameOf(node: ts.Node): string {
  const named = node as ts.Node & { name?: ts.Node };
  if (
    named.name &&
    (ts.isIdentifier(named.name) || ts.isStringLiteral(named.name) || ts.isPrivateIdentifier(named.name))
  )
    return named.name.text;
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) && ts.isIdentifier(parent.name)) return parent.name.text;
  if (ts.isPropertyAssignment(parent) && (ts.isIdentifier(parent.name) || ts.isStringLiteral(parent.name)))
    return parent.name.text;
  if (ts.isPropertyDeclaration(parent) && ts.isIdentifier(parent.name)) return parent.name.text;
  return '(anonymous)';
}

/** Every function-like node of a file longer than the limit. */
function longFunctionsIn(path: string, text: string, linesMax: number = functionLinesMax): LongFunction[] {
  const source = ts.createSourceFile(path, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const found: LongFunction[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body !== undefined) {
      const first = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const last = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      const lines = last - first + 1;
      if (lines > linesMax) found.push({ at: `${path}:${first + 1}`, name: nameOf(node), lines });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

function repoPathOf(file: string): string {
  return relative(repoRoot, file).split(sep).join('/');
}

/** gateway/src and every subgraph's src/ (the shared library's too), generated files left out. */
function checkedSources(): string[] {
  const subgraphs = sourcesUnder(join(repoRoot, 'subgraphs')).filter((f) => repoPathOf(f).split('/')[2] === 'src');
  return [...sourcesUnder(join(repoRoot, 'gateway', 'src')), ...subgraphs].filter(
    (f) => !repoPathOf(f).includes('/generated/'),
  );
}

describe(`functions are at most ${functionLinesMax} lines`, () => {
  it('in gateway/src and subgraphs/*/src', () => {
    const offenders = checkedSources().flatMap((file) => longFunctionsIn(repoPathOf(file), readFileSync(file, 'utf8')));
    expect(offenders.map((f) => `${f.at} ${f.name} (${f.lines} lines)`)).toEqual([]);
  });

  it('would be caught: every kind of function, by file:line, and none in a string', () => {
    const body = Array.from({ length: 3 }, (_, i) => `  const a${i} = ${i};`).join('\n');
    const text = [
      `function declared() {\n${body}\n}`,
      `const arrow = () => {\n${body}\n};`,
      `class Holder {\n  method() {\n${body}\n  }\n}`,
      `export default { property: function () {\n${body}\n} };`,
      'function short() { return 1; }',
      `const text = "function inString() {\\n${body.replaceAll('\n', '\\n')}\\n}";`,
    ].join('\n');
    expect(longFunctionsIn('sample.ts', text, 4).map((f) => `${f.at} ${f.name}`)).toEqual([
      'sample.ts:1 declared',
      'sample.ts:6 arrow',
      'sample.ts:12 method',
      'sample.ts:18 property',
    ]);
  });
});
