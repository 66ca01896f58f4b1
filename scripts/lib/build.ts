import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build as esbuild, type BuildOptions, type Metafile, type OutputFile, type Plugin } from 'esbuild';
import { writeContractManifest } from './contract-manifest';
import { folderOf, parts, type PartName } from './parts';

/**
 * `npm run build`: every process of paygraph compiled to JavaScript in dist/, with source maps,
 * and the Explorer (GraphiQL) bundled into static files the gateway serves.
 *
 * Why esbuild and not tsc: our workspace packages export their .ts sources (`"./*": "./src/*.ts"`),
 * so JavaScript emitted file by file would still import .ts files through @paygraph/* at run time.
 * esbuild bundles each entry with our own code (workspaces included) and leaves every npm package
 * external, loaded from node_modules as under tsx: one file per process, in about a second, with
 * no second set of package manifests. Types are checked by `npm run typecheck` (tsc), not here.
 * The Explorer needs a bundler anyway (React, GraphiQL and its CSS for the browser).
 */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const distDir = join(repoRoot, 'dist');

/** Each process's entry, by the name of its file in dist/ (dist/<name>.js). */
export const processEntries = {
  // Every part's process: its src/main.ts (parts.ts).
  ...(Object.fromEntries(parts.map((part) => [part.name, `${folderOf(part)}/src/main.ts`])) as Record<
    PartName,
    string
  >),
  // What production needs besides the servers: the migration job and minting a token.
  migrate: 'scripts/migrate.ts',
  token: 'scripts/token.ts',
  // The benchmark's CPU-profiling wrapper around a process (scripts/bench/processes.ts).
  'profiled-entry': 'scripts/bench/profiled-entry.ts',
} as const;
export type ProcessName = keyof typeof processEntries;

/** dist/<name>.js, relative to the repository root: what `node` runs. */
export function compiledEntry(name: ProcessName): string {
  return `dist/${name}.js`;
}

/** The Explorer's browser bundle: dist/explorer/explorer.js and explorer.css. */
export const explorerEntry = 'gateway/explorer/main.ts';
export const explorerDir = join(distDir, 'explorer');

/** What the last build read and when it started (dist/build-meta.json), for the staleness check. */
const metaPath = join(distDir, 'build-meta.json');
/** Files that shape every output without being an input of any: the build itself and the dependency set. */
const buildDefinitionFiles = [
  'scripts/lib/build.ts',
  'scripts/lib/parts.ts',
  'package.json',
  'package-lock.json',
  'tsconfig.json',
];

export interface BuildMeta {
  startedAtMs: number;
  /** Every file read, relative to the repository root. */
  inputs: string[];
  outputs: string[];
  /** The packages each process imports at run time (from node_modules), by its dist/ file. */
  externals: Record<string, string[]>;
}

/**
 * Our sources find files beside themselves (schema/*.graphql, each part's drizzle/ folder) from
 * `import.meta.url`. In a bundle that is the URL of dist/<name>.js, so in each of our modules it
 * is replaced by the URL its source file has: every output lies directly in dist/, one level
 * below the repository root, so the relative path is the same from every bundle. Packages are
 * not rewritten (they are external).
 */
const sourceUrls: Plugin = {
  name: 'source-import-meta-url',
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, (args) => {
      if (args.path.includes('/node_modules/')) return undefined;
      const source = readFileSync(args.path, 'utf8');
      if (!source.includes('import.meta.url')) return undefined;
      const fromDist = `../${relative(repoRoot, args.path)}`;
      return {
        contents: source.replaceAll('import.meta.url', `new URL(${JSON.stringify(fromDist)}, import.meta.url).href`),
        loader: 'ts',
      };
    });
  },
};

/** npm packages stay external (loaded from node_modules at run time); our workspaces (@paygraph/*) are bundled. */
const externalPackages: Plugin = {
  name: 'external-packages',
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, (args) =>
      args.path.startsWith('@paygraph/') ? undefined : { path: args.path, external: true },
    );
  },
};

const processBuild: BuildOptions = {
  entryPoints: Object.fromEntries(Object.entries(processEntries).map(([name, entry]) => [name, join(repoRoot, entry)])),
  outdir: distDir,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  plugins: [sourceUrls, externalPackages],
  logLevel: 'warning',
};

/**
 * GraphiQL for the browser: one script and one stylesheet with every font and image inlined
 * (graphiql's CSS embeds its fonts as data: URLs), so that the page fetches nothing but the
 * gateway's own files.
 */
const explorerBuild: BuildOptions = {
  entryPoints: { explorer: join(repoRoot, explorerEntry) },
  outdir: explorerDir,
  bundle: true,
  platform: 'browser',
  format: 'esm',
  target: 'es2022',
  minify: true,
  loader: { '.woff2': 'dataurl', '.woff': 'dataurl', '.ttf': 'dataurl', '.svg': 'dataurl', '.png': 'dataurl' },
  define: { 'process.env.NODE_ENV': '"production"' },
  logLevel: 'warning',
};

export interface BuildResult {
  ms: number;
  outputs: string[];
}

/**
 * Builds everything; each file is written beside its final name and renamed over it, so a process starting meanwhile
 * reads a whole file.
 */
export async function build(): Promise<BuildResult> {
  const startedAtMs = Date.now();
  // The contract's manifest of trusted documents first: the gateway loads it at start-up
  // (scripts/lib/contract-manifest.ts).
  writeContractManifest();
  const results = await Promise.all(
    [processBuild, explorerBuild].map((options) =>
      esbuild({ ...options, absWorkingDir: repoRoot, write: false, metafile: true }),
    ),
  );
  const outputs = results.flatMap((result) => result.outputFiles.map(writeAtomically));
  const inputs = [
    ...new Set([...results.flatMap((result) => inputsOf(result.metafile)), ...buildDefinitionFiles]),
  ].sort();
  const meta: BuildMeta = { startedAtMs, inputs, outputs, externals: externalsOf(results[0]!.metafile) };
  writeAtomically({ path: metaPath, contents: new TextEncoder().encode(`${JSON.stringify(meta, null, 1)}\n`) });
  return { ms: Date.now() - startedAtMs, outputs };
}

function inputsOf(metafile: Metafile): string[] {
  // Relative to absWorkingDir (the repository root); a namespace prefix marks what no file holds.
  return Object.keys(metafile.inputs).filter((input) => !input.includes(':'));
}

function externalsOf(metafile: Metafile): Record<string, string[]> {
  return Object.fromEntries(
    Object.entries(metafile.outputs)
      .filter(([output]) => output.endsWith('.js'))
      .map(([output, { imports }]) => [
        output,
        [...new Set(imports.filter((i) => i.external).map((i) => i.path))].sort(),
      ]),
  );
}

/** What the last build wrote down (dist/build-meta.json). */
export function readBuildMeta(): BuildMeta {
  return JSON.parse(readFileSync(metaPath, 'utf8')) as BuildMeta;
}

function writeAtomically(file: Pick<OutputFile, 'path' | 'contents'>): string {
  mkdirSync(dirname(file.path), { recursive: true });
  const temporary = `${file.path}.${process.pid}.tmp`;
  writeFileSync(temporary, file.contents);
  renameSync(temporary, file.path);
  return relative(repoRoot, file.path);
}

/**
 * Why dist/ cannot be run as it is (missing, or a file read by the last build has changed since), or null when it is
 * fresh.
 */
export function staleReason(): string | null {
  if (!existsSync(metaPath)) return 'dist/ has not been built';
  const meta = readBuildMeta();
  const missing = [
    ...meta.outputs,
    ...Object.keys(processEntries).map((name) => compiledEntry(name as ProcessName)),
  ].find((output) => !existsSync(join(repoRoot, output)));
  if (missing !== undefined) return `${missing} is missing`;
  for (const input of meta.inputs) {
    const path = join(repoRoot, input);
    if (!existsSync(path)) return `${input} is gone`;
    if (statSync(path).mtimeMs > meta.startedAtMs) return `${input} changed`;
  }
  return null;
}

/**
 * Builds when dist/ is missing or stale, saying why, so that what runs is what the sources say
 * (`npm start`, the benchmark, and npm test's global set-up for the Explorer). A fresh build is
 * left alone.
 */
export async function ensureBuilt(log: (line: string) => void): Promise<void> {
  const reason = staleReason();
  if (reason === null) return;
  log(`building dist/ (${reason})`);
  const result = await build();
  log(`built ${result.outputs.length} files in ${(result.ms / 1000).toFixed(1)} s`);
}
