import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cyclesOf, importGraph, repoPath } from './support/import-graph';
import { productionSources, repoRoot } from './support/sources';
import { folderOf, parts as partsList } from '../scripts/lib/parts';

/**
 * Imports run one way: the parts (gateway, account, transaction, settlement, webhooks, scripts) import the
 * shared library, never the reverse, so that the library can be read, tested and changed without
 * them; and no production file reaches itself through its imports, so that a module's load order
 * is never decided by which file happened to be imported first.
 */
const sharedSrc = join(repoRoot, 'subgraphs', 'shared', 'src');
const parts = [...partsList.map(folderOf), 'scripts'].map((part) => join(repoRoot, part));

describe('imports', () => {
  const graph = importGraph(productionSources());

  it('are resolved: the graph reaches across the workspace packages', () => {
    const edges = [...graph.values()].flat();
    expect(edges.length).toBeGreaterThan(500);
    // A workspace import (@paygraph/shared/...) resolves to the shared library's file.
    expect(edges.some((target) => target.startsWith(sharedSrc))).toBe(true);
  });

  it('never run from the shared library to a part', () => {
    const wrong = [...graph.entries()]
      .filter(([file]) => file.startsWith(sharedSrc))
      .flatMap(([file, targets]) =>
        targets
          .filter((t) => parts.some((part) => t.startsWith(`${part}/`)))
          .map((t) => `${repoPath(file)} → ${repoPath(t)}`),
      );
    expect(wrong).toEqual([]);
  });

  it('make no cycle among production sources', () => {
    expect(cyclesOf(graph).map((cycle) => cycle.map(repoPath))).toEqual([]);
  });

  it('would be caught: a cycle and a self-import are found, a chain is not', () => {
    expect(
      cyclesOf(
        new Map([
          ['a', ['b']],
          ['b', ['c']],
          ['c', ['a']],
          ['d', ['a']],
        ]),
      ),
    ).toEqual([['a', 'b', 'c']]);
    expect(cyclesOf(new Map([['a', ['a']]]))).toEqual([['a']]);
    expect(
      cyclesOf(
        new Map([
          ['a', ['b']],
          ['b', ['c']],
          ['c', []],
        ]),
      ),
    ).toEqual([]);
  });
});
