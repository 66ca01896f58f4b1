import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { repoRoot } from './sources';

/**
 * The import graph of our own TypeScript: every import, export-from, `import type` and dynamic
 * import() of a file, resolved to the file it names. Relative specifiers resolve as tsx does
 * (`.ts`, then `/index.ts`); workspace packages by their `exports` ("./*": "./src/*.ts"); npm
 * packages are outside the graph. Built with the compiler's own pre-processor, so a specifier
 * in a comment or a string is not mistaken for an import.
 */
export type ImportGraph = ReadonlyMap<string, readonly string[]>;

/** The workspace packages' names and folders, from their package.json files. */
function workspaces(): Map<string, string> {
  const root = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { workspaces: string[] };
  return new Map(
    root.workspaces.map((folder) => {
      const { name } = JSON.parse(readFileSync(join(repoRoot, folder, 'package.json'), 'utf8')) as { name: string };
      return [name, join(repoRoot, folder)];
    }),
  );
}

function asSource(path: string): string | null {
  for (const candidate of [path, `${path}.ts`, join(path, 'index.ts')]) {
    if (candidate.endsWith('.ts') && existsSync(candidate)) return candidate;
  }
  return null;
}

/** The file a specifier names, or null for a package outside the repository. */
export function resolveImport(from: string, specifier: string, packages: ReadonlyMap<string, string>): string | null {
  if (specifier.startsWith('.')) return asSource(resolve(dirname(from), specifier));
  for (const [name, folder] of packages) {
    if (specifier.startsWith(`${name}/`)) return asSource(join(folder, 'src', specifier.slice(name.length + 1)));
  }
  return null;
}

export function importGraph(files: readonly string[]): ImportGraph {
  const packages = workspaces();
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const targets = importedFiles
      .map((imported) => resolveImport(file, imported.fileName, packages))
      .filter((target): target is string => target !== null);
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/** The graph's cycles: each strongly connected component of more than one file, or a file importing itself (Tarjan). */
export function cyclesOf(graph: ImportGraph): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (file: string): void => {
    index.set(file, next);
    low.set(file, next);
    next += 1;
    stack.push(file);
    onStack.add(file);
    for (const target of graph.get(file) ?? []) {
      if (!graph.has(target)) continue;
      if (!index.has(target)) {
        visit(target);
        low.set(file, Math.min(low.get(file)!, low.get(target)!));
      } else if (onStack.has(target)) {
        low.set(file, Math.min(low.get(file)!, index.get(target)!));
      }
    }
    if (low.get(file) !== index.get(file)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== file);
    if (component.length > 1 || (graph.get(file) ?? []).includes(file)) cycles.push(component.sort());
  };
  for (const file of graph.keys()) if (!index.has(file)) visit(file);
  return cycles;
}

/** A path as the repository names it, for messages. */
export function repoPath(path: string): string {
  return relative(repoRoot, path);
}
