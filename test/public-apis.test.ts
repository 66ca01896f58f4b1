import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { productionSources, repoRoot } from './support/sources';

/**
 * paygraph uses its libraries through their public APIs only (issue 14): an upgrade of
 * drizzle-orm, mysql2 or @apollo/* must not be able to break money or routing silently. These
 * are the private internals that were once used on the posting path and the gateway's
 * subgraph calls (Apollo's private sendRequest, replaced on each data source), and the ways
 * of reaching them; none may come back into production code.
 */
const forbidden: ReadonlyArray<{ pattern: RegExp; why: string }> = [
  {
    pattern: /\bMySql2Session\b|\bMySql2Transaction\b|\bMySql2Driver\b/,
    why: "drizzle's session classes are its internals: use drizzle({ client })",
  },
  {
    pattern: /\bsession\s*\.\s*(client|logger|options)\b|\.session\b\s*as\b/,
    why: "a drizzle database's session is private: keep what you need yourself",
  },
  { pattern: /\bdialect\s*\.\s*sqlToQuery\b|\bdb\s*\.\s*dialect\b/, why: "drizzle's dialect object is private" },
  {
    pattern: /connection\s*\.\s*connection\s*\.\s*\w/,
    why: "mysql2's inner callback connection is not its promise API",
  },
  {
    pattern: /from\s+['"][^'"]*\/dist\/[^'"]*['"]|import\(\s*['"][^'"]*\/dist\//,
    why: "deep imports into a package's dist/ are not its public entry",
  },
  {
    pattern: /\.\s*sendRequest\s*=(?!=)|\[\s*['"]sendRequest['"]\s*\]\s*=(?!=)/,
    why: "RemoteGraphQLDataSource's sendRequest is private: pass a fetcher and override its documented hooks",
  },
  {
    pattern: /\bas\s+unknown\s+as\s+\{.*\}\s*\)\s*(\.\s*\w+|\[[^\]]+\])\s*=(?!=)/,
    why: "assigning a member through a cast that hides it replaces a library's private method on the instance",
  },
  {
    pattern: /\.prototype\s*\.\s*\w+\s*=(?!=)/,
    why: "assigning to a prototype patches a library's class for everyone",
  },
];

describe('production code', () => {
  it('reaches no library internals', () => {
    const files = productionSources();
    expect(files.length).toBeGreaterThan(50);
    const found: string[] = [];
    for (const file of files) {
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          for (const { pattern, why } of forbidden) {
            if (pattern.test(line)) found.push(`${relative(repoRoot, file)}:${i + 1}: ${line.trim()} — ${why}`);
          }
        });
    }
    expect(found).toEqual([]);
  });

  it('would notice each of them', () => {
    const samples = [
      "import { MySql2Session } from 'drizzle-orm/mysql2';",
      'const client = (db as unknown as { session: { client: unknown } }).session.client;',
      'const { sql, params } = db.dialect.sqlToQuery(query.getSQL());',
      'this.held.push(connection.connection.format(sql, values));',
      "import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';",
      '(this as unknown as { sendRequest: (request: GraphQLRequest) => Promise<GraphQLResponse> }).sendRequest = (request) => this.forward(request);',
      'source.sendRequest = forward;',
      "source['sendRequest'] = forward;",
      '(source as unknown as { process: () => Promise<{ data: {} }> })["process"] = process;',
      'RemoteGraphQLDataSource.prototype.process = process;',
    ];
    for (const sample of samples)
      expect(
        forbidden.some(({ pattern }) => pattern.test(sample)),
        sample,
      ).toBe(true);
    // And each pattern is shown to catch something.
    for (const { pattern } of forbidden)
      expect(
        samples.some((sample) => pattern.test(sample)),
        String(pattern),
      ).toBe(true);
  });
});
