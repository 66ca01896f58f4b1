import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { readConfig } from '@paygraph/shared/config/env';
import { processConfigs } from '../scripts/lib/config';
import { subgraphNames as trustedSubgraphs } from '../scripts/lib/parts';
import { processNodeArgs } from '../scripts/lib/node-options';
import { parseShardNodes } from '@paygraph/shared/shards/topology';
import { compiledEntry, processEntries, readBuildMeta, type ProcessName } from '../scripts/lib/build';
import { subgraphSecretVariable } from '@paygraph/shared/gateway-trust';
import { testSubgraphSecrets } from './support/env';
import { spawnCompiledService } from './support/processes';

/**
 * No Docker engine runs where the tests run, so docker-compose.yml and the Dockerfile are
 * checked as files: the mistakes that otherwise surface only on `docker compose up` (a
 * renamed entry file, a dependency on a missing service, a shard URL naming no server).
 */
const repoRoot = fileURLToPath(new URL('../', import.meta.url));
/** The directory the Dockerfile copies the repository into; container paths under it are repo paths. */
const containerAppDir = '/app';

interface ComposeService {
  image?: string;
  profiles?: string[];
  build?: string | { context?: string; dockerfile?: string };
  command?: string | string[];
  entrypoint?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  depends_on?: string[] | Record<string, { condition?: string; required?: boolean }>;
  configs?: Array<{ source: string; target: string }>;
  healthcheck?: { test?: string | string[]; disable?: boolean };
  volumes?: (string | { type?: string; source?: string })[];
}

interface ComposeFile {
  services: Record<string, ComposeService>;
  configs?: Record<string, { content?: string }>;
  'x-galera-shards'?: string;
}

// merge: services extend the shared environment with `<<: *app-environment`, as Compose reads it.
const compose = parse(readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8'), { merge: true }) as ComposeFile;
const services = Object.entries(compose.services);
const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
interface Manifest {
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  workspaces?: string[];
}
const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as Manifest;
/** What `npm ci --omit=dev` installs: the root's and every workspace's dependencies. */
const productionDependencies = new Set(
  [
    manifest,
    ...(manifest.workspaces ?? []).map(
      (w) => JSON.parse(readFileSync(join(repoRoot, w, 'package.json'), 'utf8')) as Manifest,
    ),
  ].flatMap((m) => Object.keys(m.dependencies ?? {})),
);

/** The Dockerfile's stages, each from its FROM line to the next. */
const stages = dockerfile.split(/^(?=FROM\s)/m).filter((stage) => /^FROM\s/.test(stage));
const finalStage = stages.at(-1) ?? '';
const fromLine = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i;

/** A stage's instructions, those of the stage it starts from first (FROM <stage>). */
function withBase(stage: string): string {
  const base = fromLine.exec(stage)?.[1];
  const parent = stages.find((s) => fromLine.exec(s)?.[2] === base);
  return parent === undefined ? stage : `${withBase(parent)}${stage}`;
}

/** The compiled files npm run build writes (dist/<name>.js), which the images and compose run. */
const compiledEntries = new Set(Object.keys(processEntries).map((name) => compiledEntry(name as ProcessName)));

function dependencies(service: ComposeService): [string, string | undefined][] {
  const dependsOn = service.depends_on ?? [];
  if (Array.isArray(dependsOn)) return dependsOn.map((name) => [name, undefined]);
  return Object.entries(dependsOn).map(([name, options]) => [name, options.condition]);
}

/** Services another waits on to finish: these run once and exit, so they need no healthcheck. */
const oneShot = new Set(
  services.flatMap(([, service]) =>
    dependencies(service)
      .filter(([, condition]) => condition === 'service_completed_successfully')
      .map(([name]) => name),
  ),
);

function environment(service: ComposeService): Map<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return new Map(env.map((entry) => [entry.split('=')[0] ?? '', entry.slice(entry.indexOf('=') + 1)]));
  }
  return new Map(Object.entries(env).map(([key, value]) => [key, String(value ?? '')]));
}

/** A value as Compose reads it when the shell leaves its variables unset: `${NAME:-default}` is the default. */
function withDefaults(value: string): string {
  return value.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1');
}

function words(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : value.split(/\s+/);
}

/** Arguments that name a source file, as repo-relative paths. */
function referencedFiles(args: readonly string[]): string[] {
  return args
    .filter((arg) => /\.(?:[cm]?[jt]s|sql|sh)$/.test(arg))
    .map((arg) => (arg.startsWith(`${containerAppDir}/`) ? arg.slice(containerAppDir.length + 1) : arg));
}

/** The JSON-form CMD and ENTRYPOINT arguments of the Dockerfile. */
function dockerfileExecArgs(instruction: 'CMD' | 'ENTRYPOINT'): string[] {
  const lines = dockerfile.split('\n').filter((line) => line.trim().toUpperCase().startsWith(`${instruction} `));
  return lines.flatMap((line) => JSON.parse(line.trim().slice(instruction.length).trim()) as string[]);
}

/** Each COPY of a stage: its sources, its destination, and the stage it copies from (null: the build context). */
function copies(stage: string): { sources: string[]; destination: string; from: string | null }[] {
  return stage
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => /^COPY\s/i.test(line))
    .map((line) => {
      const args = line.split(/\s+/).slice(1);
      const from = args.find((arg) => arg.startsWith('--from='))?.slice('--from='.length) ?? null;
      const paths = args.filter((arg) => !arg.startsWith('--'));
      return { sources: paths.slice(0, -1), destination: paths.at(-1) ?? '', from };
    });
}

function dockerfileCopySources(): string[] {
  return stages.flatMap((stage) =>
    copies(stage)
      .filter((c) => c.from === null)
      .flatMap((c) => c.sources),
  );
}

/** A file a command runs: one that npm run build writes, or one of the repository. */
function expectRunnable(file: string, what: string): void {
  if (file.startsWith('dist/'))
    expect(compiledEntries.has(file), `${what}: npm run build writes no ${file}`).toBe(true);
  expect(existsSync(join(repoRoot, file)), what).toBe(true);
}

describe('docker-compose.yml', () => {
  it('gives every long-running service a healthcheck', () => {
    const missing = services
      .filter(
        ([name, service]) =>
          !oneShot.has(name) && (service.healthcheck?.test === undefined || service.healthcheck.disable === true),
      )
      .map(([name]) => name);
    expect(missing).toEqual([]);
    expect(oneShot).toEqual(new Set(['migrate']));
  });

  it('depends only on services that exist, and waits for health only where there is a healthcheck', () => {
    for (const [name, service] of services) {
      for (const [dependency, condition] of dependencies(service)) {
        const target = compose.services[dependency];
        expect(target, `${name} depends on ${dependency}`).toBeDefined();
        if (condition === 'service_healthy')
          expect(target?.healthcheck?.test, `${dependency} healthcheck`).toBeDefined();
      }
    }
  });

  it('starts the subgraphs after the migration and the gateway after the subgraphs', () => {
    for (const name of ['account', 'transaction', 'settlement']) {
      expect(new Map(dependencies(compose.services[name] ?? {})).get('migrate'), name).toBe(
        'service_completed_successfully',
      );
    }
    const gatewayDependencies = new Map(dependencies(compose.services.gateway ?? {}));
    for (const name of ['account', 'transaction', 'settlement'])
      expect(gatewayDependencies.get(name)).toBe('service_healthy');
  });

  it('runs the gateway and each subgraph with the Node options npm start and the benchmark use', () => {
    for (const name of ['account', 'transaction', 'settlement', 'gateway']) {
      expect(words(compose.services[name]?.command).slice(0, processNodeArgs.length + 1), name).toEqual([
        'node',
        ...processNodeArgs,
      ]);
    }
    // The image's own command too, for `docker run` without compose.
    expect(dockerfileExecArgs('CMD').slice(0, processNodeArgs.length + 1)).toEqual(['node', ...processNodeArgs]);
  });

  it('runs the compiled files of npm run build, with no TypeScript loader', () => {
    for (const [name, service] of services) {
      const args = [...words(service.entrypoint), ...words(service.command)];
      const files = referencedFiles(args);
      if (service.build === undefined) continue;
      expect(files.length, `${name} names an entry file`).toBeGreaterThan(0);
      for (const file of files) {
        expect(file, `${name} runs compiled JavaScript`).toMatch(/^dist\/.*\.js$/);
        expectRunnable(file, `${name} runs ${file}`);
      }
      expect(args.join(' '), name).not.toMatch(/tsx|\.ts\b/);
      expect(args, `${name} maps stack traces to the .ts lines`).toContain('--enable-source-maps');
    }
  });

  it('builds from a Dockerfile that exists and mounts host paths that exist', () => {
    for (const [name, service] of services) {
      if (service.build !== undefined) {
        const build = typeof service.build === 'string' ? { context: service.build } : service.build;
        const dockerfilePath = join(repoRoot, build.context ?? '.', build.dockerfile ?? 'Dockerfile');
        expect(existsSync(dockerfilePath), `${name} Dockerfile`).toBe(true);
      }
      for (const volume of service.volumes ?? []) {
        const source = typeof volume === 'string' ? (volume.split(':')[0] ?? '') : (volume.source ?? '');
        const isHostPath = source.startsWith('.') || source.startsWith('/');
        if (isHostPath) expect(existsSync(join(repoRoot, source)), `${name} mounts ${source}`).toBe(true);
      }
    }
  });

  it('gives each subgraph its own secret and no other, and the gateway every secret and JWT_SECRET', () => {
    const secretVariables = [
      'SUBGRAPH_SECRET_ACCOUNT',
      'SUBGRAPH_SECRET_TRANSACTION',
      'SUBGRAPH_SECRET_SETTLEMENT',
      'SUBGRAPH_SECRET_WEBHOOKS',
    ];
    const held = (name: string) =>
      [...environment(compose.services[name] ?? {}).entries()]
        .filter(([key]) => key === 'JWT_SECRET' || secretVariables.includes(key))
        .map(([key]) => key)
        .sort();
    expect(held('account')).toEqual(['SUBGRAPH_SECRET_ACCOUNT']);
    expect(held('transaction')).toEqual(['SUBGRAPH_SECRET_TRANSACTION']);
    expect(held('settlement')).toEqual(['SUBGRAPH_SECRET_SETTLEMENT']);
    expect(held('webhooks')).toEqual(['SUBGRAPH_SECRET_WEBHOOKS']);
    expect(held('gateway')).toEqual(['JWT_SECRET', ...secretVariables].sort());
    // The gateway must send each subgraph the very value that subgraph expects.
    const gateway = environment(compose.services.gateway ?? {});
    for (const [name, variable] of [
      ['account', secretVariables[0]],
      ['transaction', secretVariables[1]],
      ['settlement', secretVariables[2]],
      ['webhooks', secretVariables[3]],
    ] as const) {
      expect(environment(compose.services[name] ?? {}).get(variable!), name).toBe(gateway.get(variable!));
    }
    // The merged environment still reaches the subgraphs.
    expect(environment(compose.services.account ?? {}).get('MYSQL_SHARDS')).toBeDefined();
  });

  it("gives each process an environment its start-up accepts (config.ts), with Compose's defaults for what the shell leaves unset", () => {
    for (const name of [...trustedSubgraphs, 'gateway'] as const) {
      const env = Object.fromEntries(
        [...environment(compose.services[name] ?? {})].map(([key, value]) => [key, withDefaults(value)]),
      );
      expect(() => readConfig(processConfigs[name], env), name).not.toThrow();
    }
  });

  it('points every MYSQL_SHARDS URL at a MySQL service in this file', () => {
    const mysqlServices = new Set(
      services
        .filter(([, s]) => s.image?.startsWith('mysql:') === true || s.image?.startsWith('mariadb:') === true)
        .map(([name]) => name),
    );
    expect(mysqlServices.size).toBeGreaterThan(0);
    let checked = 0;
    for (const [name, service] of services) {
      const set = environment(service).get('MYSQL_SHARDS');
      if (set === undefined) continue;
      for (const shards of [withDefaults(set), compose['x-galera-shards'] ?? ''])
        for (const raw of shards.split(/[,|]/).filter((u) => u !== '')) {
          const url = new URL(raw.trim());
          expect(url.protocol, `${name} shard ${raw}`).toBe('mysql:');
          expect(mysqlServices.has(url.hostname), `${name} shard host ${url.hostname}`).toBe(true);
          expect(url.pathname.length, `${name} shard ${raw} names a database`).toBeGreaterThan(1);
          checked++;
        }
    }
    expect(checked).toBeGreaterThan(0);
  });

  it('has a Galera profile: three MariaDB nodes with Galera settings, the shards on all three, and the stack waiting for them', () => {
    const nodes = services.filter(([, s]) => s.profiles?.includes('galera') === true);
    expect(nodes.map(([name]) => name)).toEqual(['galera-1', 'galera-2', 'galera-3']);
    const settings = compose.configs?.['galera-cnf']?.content ?? '';
    for (const [name, service] of nodes) {
      expect(service.image, name).toMatch(/^mariadb:\d/);
      expect(
        service.configs?.map((c) => [c.source, c.target]),
        name,
      ).toEqual([['galera-cnf', '/etc/mysql/conf.d/galera.cnf']]);
      expect(words(service.healthcheck?.test).join(' '), name).toContain('--galera_ready');
      // Only the first node founds the cluster; the others join it.
      expect(words(service.command).includes('--wsrep-new-cluster'), name).toBe(name === 'galera-1');
    }
    // What Galera requires, with the library where the official image installs it.
    for (const line of [
      'wsrep_on = ON',
      'wsrep_provider = /usr/lib/galera/libgalera_smm.so',
      'wsrep_cluster_address = gcomm://galera-1,galera-2,galera-3',
      'binlog_format = ROW',
      'innodb_autoinc_lock_mode = 2',
      'wsrep_sst_method = mariabackup',
    ]) {
      expect(
        settings.split('\n').map((l) => l.trim()),
        line,
      ).toContain(line);
    }
    // Every shard lists the three nodes in the same order, and every process accepts that list.
    const galeraShards = compose['x-galera-shards'] ?? '';
    const shards = parseShardNodes(galeraShards);
    expect(shards).toHaveLength(4);
    for (const shard of shards)
      expect(shard.map((url) => new URL(url).hostname)).toEqual(['galera-1', 'galera-2', 'galera-3']);
    for (const name of [...trustedSubgraphs, 'gateway'] as const) {
      const env = Object.fromEntries(
        [...environment(compose.services[name] ?? {})].map(([key, value]) => [key, withDefaults(value)]),
      );
      expect(() => readConfig(processConfigs[name], { ...env, MYSQL_SHARDS: galeraShards }), name).not.toThrow();
    }
    // The stack waits for the nodes when the profile is on, and starts without them when it is off.
    for (const name of ['migrate', ...trustedSubgraphs]) {
      const dependsOn = compose.services[name]?.depends_on as Record<
        string,
        { condition?: string; required?: boolean }
      >;
      for (const node of ['galera-1', 'galera-2', 'galera-3'])
        expect(dependsOn[node], `${name} on ${node}`).toEqual({ condition: 'service_healthy', required: false });
    }
  });
});

describe('Dockerfile', () => {
  it('copies paths that exist', () => {
    const sources = dockerfileCopySources();
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) expect(existsSync(join(repoRoot, source)), `COPY ${source}`).toBe(true);
  });

  it('runs compiled entry files that npm run build writes', () => {
    const files = referencedFiles([...dockerfileExecArgs('ENTRYPOINT'), ...dockerfileExecArgs('CMD')]);
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      expect(file).toMatch(/^dist\/.*\.js$/);
      expectRunnable(file, `Dockerfile runs ${file}`);
    }
  });

  it('runs its process with the Node options npm start and the benchmark use', () => {
    expect(dockerfileExecArgs('CMD').slice(0, processNodeArgs.length + 1)).toEqual(['node', ...processNodeArgs]);
  });

  it('builds in a first stage and runs compiled JavaScript in the last, with no TypeScript or tsx there', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) expect(withBase(stage)).toMatch(/^FROM node:24-slim/);
    const buildStage = stages.find((stage) => /^RUN npm run build$/m.test(stage)) ?? '';
    const buildName = fromLine.exec(buildStage)?.[2];
    expect(buildName, 'the build stage is named, for COPY --from').toBeDefined();
    expect(buildStage).toMatch(/^RUN npm ci$/m);
    expect(buildStage).toMatch(/^RUN npm run build$/m);
    expect(finalStage).toMatch(/^RUN npm ci --omit=dev/m);
    // A workspace's manifest (clients/typescript/package.json: npm ci wants every workspace's) brings no TypeScript.
    const instructions = withBase(finalStage)
      .split('\n')
      .filter((line) => !line.trim().startsWith('#') && !/^COPY \S+\/package\.json \S+$/.test(line.trim()))
      .join('\n');
    expect(instructions).not.toMatch(/tsx|typescript|\.ts\b/i);
    expect(copies(finalStage).filter((c) => c.from !== null)).toEqual([
      { sources: ['/app/dist'], destination: 'dist', from: buildName },
    ]);
    // Only the build needs these: npm ci --omit=dev leaves them out of the image.
    for (const tool of ['tsx', 'typescript', 'esbuild']) {
      expect(manifest.devDependencies?.[tool], tool).toBeDefined();
      expect(productionDependencies.has(tool), tool).toBe(false);
    }
  });

  it('installs every package the compiled processes import', () => {
    const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
    const missing: string[] = [];
    for (const [output, imports] of Object.entries(readBuildMeta().externals)) {
      for (const specifier of imports) {
        if (builtins.has(specifier)) continue;
        const parts = specifier.split('/');
        const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
        if (!productionDependencies.has(name))
          missing.push(`${output} imports ${specifier}, not a production dependency`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('copies into the image every migration folder and the schemas the processes read', () => {
    const copied = copies(withBase(finalStage))
      .filter((c) => c.from === null)
      .flatMap((c) => c.sources);
    const migrationFolders = ['gateway', ...readdirSync(join(repoRoot, 'subgraphs')).map((name) => `subgraphs/${name}`)]
      .map((part) => `${part}/drizzle`)
      .filter((folder) => existsSync(join(repoRoot, folder, 'meta', '_journal.json')));
    expect(migrationFolders.length).toBeGreaterThanOrEqual(4);
    for (const folder of [...migrationFolders, 'schema']) expect(copied, folder).toContain(folder);
  });

  it('starts a compiled process from the files of its last stage alone', async () => {
    // The last stage's layout in a scratch folder: what it copies from the build context and
    // dist/ from the build; node_modules is the repository's (test/docker-compose.test.ts checks
    // above that the production dependencies cover every import).
    const app = mkdtempSync(join(tmpdir(), 'paygraph-image-'));
    try {
      for (const { sources, destination, from } of copies(withBase(finalStage))) {
        for (const source of sources) {
          const origin =
            from === null
              ? join(repoRoot, source)
              : join(repoRoot, source.replace(new RegExp(`^${containerAppDir}/`), ''));
          const target =
            destination.endsWith('/') || sources.length > 1
              ? join(app, destination, source.split('/').at(-1)!)
              : join(app, destination);
          cpSync(origin, target, { recursive: true });
        }
      }
      symlinkSync(join(repoRoot, 'node_modules'), join(app, 'node_modules'));
      const child = await spawnCompiledService(
        'account',
        { [subgraphSecretVariable('account')]: testSubgraphSecrets.account, MYSQL_POOL_SIZE: '2' },
        app,
      );
      try {
        expect((await fetch(child.healthUrl.replace(/\/health$/, '/health/ready'))).status).toBe(200);
      } finally {
        await child.kill();
      }
    } finally {
      rmSync(app, { recursive: true, force: true });
    }
  });

  it('copies every workspace manifest before each npm ci, which fails on a missing workspace', () => {
    for (const stage of stages.filter((s) => /RUN npm ci/.test(s)).map(withBase)) {
      const beforeInstall = stage.slice(0, stage.search(/RUN npm ci/));
      for (const workspace of manifest.workspaces ?? [])
        expect(beforeInstall, workspace).toContain(`COPY ${workspace}/package.json`);
    }
  });
});
