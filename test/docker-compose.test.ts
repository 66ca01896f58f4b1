import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '@paygraph/shared/config';
import { trustedSubgraphs } from '@paygraph/shared/gateway-trust';
import { processNodeArgs } from '../scripts/lib/node-options';

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
  build?: string | { context?: string; dockerfile?: string };
  command?: string | string[];
  entrypoint?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string | string[]; disable?: boolean };
  volumes?: (string | { type?: string; source?: string })[];
}

interface ComposeFile {
  services: Record<string, ComposeService>;
}

// merge: services extend the shared environment with `<<: *app-environment`, as Compose reads it.
const compose = parse(readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8'), { merge: true }) as ComposeFile;
const services = Object.entries(compose.services);
const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
  dependencies?: Record<string, string>;
  workspaces?: string[];
};

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

function dockerfileCopySources(): string[] {
  return dockerfile
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => /^COPY\s/i.test(line) && !/--from=/i.test(line))
    .flatMap((line) => line.split(/\s+/).slice(1, -1).filter((arg) => !arg.startsWith('--')));
}

describe('docker-compose.yml', () => {
  it('gives every long-running service a healthcheck', () => {
    const missing = services
      .filter(([name, service]) => !oneShot.has(name) && (service.healthcheck?.test === undefined || service.healthcheck.disable === true))
      .map(([name]) => name);
    expect(missing).toEqual([]);
    expect(oneShot).toEqual(new Set(['migrate']));
  });

  it('depends only on services that exist, and waits for health only where there is a healthcheck', () => {
    for (const [name, service] of services) {
      for (const [dependency, condition] of dependencies(service)) {
        const target = compose.services[dependency];
        expect(target, `${name} depends on ${dependency}`).toBeDefined();
        if (condition === 'service_healthy') expect(target?.healthcheck?.test, `${dependency} healthcheck`).toBeDefined();
      }
    }
  });

  it('starts the subgraphs after the migration and the gateway after the subgraphs', () => {
    for (const name of ['account', 'transaction', 'settlement']) {
      expect(new Map(dependencies(compose.services[name] ?? {})).get('migrate'), name).toBe('service_completed_successfully');
    }
    const gatewayDependencies = new Map(dependencies(compose.services.gateway ?? {}));
    for (const name of ['account', 'transaction', 'settlement']) expect(gatewayDependencies.get(name)).toBe('service_healthy');
  });

  it('runs the gateway and each subgraph with the Node options npm start and the benchmark use', () => {
    for (const name of ['account', 'transaction', 'settlement', 'gateway']) {
      expect(words(compose.services[name]?.command).slice(0, processNodeArgs.length + 1), name).toEqual(['node', ...processNodeArgs]);
    }
    // The image's own command too, for `docker run` without compose.
    expect(dockerfileExecArgs('CMD').slice(0, processNodeArgs.length + 1)).toEqual(['node', ...processNodeArgs]);
  });

  it('runs files that exist in the repository', () => {
    for (const [name, service] of services) {
      const files = referencedFiles([...words(service.entrypoint), ...words(service.command)]);
      if (service.build !== undefined) expect(files.length, `${name} names an entry file`).toBeGreaterThan(0);
      for (const file of files) expect(existsSync(join(repoRoot, file)), `${name} runs ${file}`).toBe(true);
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
        const source = typeof volume === 'string' ? volume.split(':')[0] ?? '' : volume.source ?? '';
        const isHostPath = source.startsWith('.') || source.startsWith('/');
        if (isHostPath) expect(existsSync(join(repoRoot, source)), `${name} mounts ${source}`).toBe(true);
      }
    }
  });

  it('gives each subgraph its own secret and no other, and the gateway every secret and JWT_SECRET', () => {
    const secretVariables = ['SUBGRAPH_SECRET_ACCOUNT', 'SUBGRAPH_SECRET_TRANSACTION', 'SUBGRAPH_SECRET_SETTLEMENT'];
    const held = (name: string) => [...environment(compose.services[name] ?? {}).entries()]
      .filter(([key]) => key === 'JWT_SECRET' || secretVariables.includes(key))
      .map(([key]) => key)
      .sort();
    expect(held('account')).toEqual(['SUBGRAPH_SECRET_ACCOUNT']);
    expect(held('transaction')).toEqual(['SUBGRAPH_SECRET_TRANSACTION']);
    expect(held('settlement')).toEqual(['SUBGRAPH_SECRET_SETTLEMENT']);
    expect(held('gateway')).toEqual(['JWT_SECRET', ...secretVariables].sort());
    // The gateway must send each subgraph the very value that subgraph expects.
    const gateway = environment(compose.services.gateway ?? {});
    for (const [name, variable] of [['account', secretVariables[0]], ['transaction', secretVariables[1]], ['settlement', secretVariables[2]]] as const) {
      expect(environment(compose.services[name] ?? {}).get(variable!), name).toBe(gateway.get(variable!));
    }
    // The merged environment still reaches the subgraphs.
    expect(environment(compose.services.account ?? {}).get('MYSQL_SHARDS')).toBeDefined();
  });

  it("gives each process an environment its start-up accepts (config.ts), with Compose's defaults for what the shell leaves unset", () => {
    for (const name of [...trustedSubgraphs, 'gateway'] as const) {
      const env = Object.fromEntries([...environment(compose.services[name] ?? {})].map(([key, value]) => [key, value.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1')]));
      expect(() => loadConfig(env, name), name).not.toThrow();
    }
  });

  it('points every MYSQL_SHARDS URL at a MySQL service in this file', () => {
    const mysqlServices = new Set(services.filter(([, s]) => s.image?.startsWith('mysql:') === true).map(([name]) => name));
    expect(mysqlServices.size).toBeGreaterThan(0);
    let checked = 0;
    for (const [name, service] of services) {
      const shards = environment(service).get('MYSQL_SHARDS');
      if (shards === undefined) continue;
      for (const raw of shards.split(',')) {
        const url = new URL(raw.trim());
        expect(url.protocol, `${name} shard ${raw}`).toBe('mysql:');
        expect(mysqlServices.has(url.hostname), `${name} shard host ${url.hostname}`).toBe(true);
        expect(url.pathname.length, `${name} shard ${raw} names a database`).toBeGreaterThan(1);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(0);
  });
});

describe('Dockerfile', () => {
  it('copies paths that exist', () => {
    const sources = dockerfileCopySources();
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) expect(existsSync(join(repoRoot, source)), `COPY ${source}`).toBe(true);
  });

  it('runs entry files that exist', () => {
    const files = referencedFiles([...dockerfileExecArgs('ENTRYPOINT'), ...dockerfileExecArgs('CMD')]);
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) expect(existsSync(join(repoRoot, file)), `Dockerfile runs ${file}`).toBe(true);
  });

  it('runs its process with the Node options npm start and the benchmark use', () => {
    expect(dockerfileExecArgs('CMD').slice(0, processNodeArgs.length + 1)).toEqual(['node', ...processNodeArgs]);
  });

  it('installs the dependencies that run TypeScript', () => {
    expect(dockerfile).toMatch(/^FROM node:20-slim/m);
    expect(dockerfile).toMatch(/RUN npm ci/);
    expect(manifest.dependencies?.tsx, 'tsx must be a runtime dependency for --omit=dev').toBeDefined();
  });

  it('copies every workspace manifest before npm ci, which fails on a missing workspace', () => {
    const beforeInstall = dockerfile.slice(0, dockerfile.search(/RUN npm ci/));
    for (const workspace of manifest.workspaces ?? []) expect(beforeInstall, workspace).toContain(`COPY ${workspace}/package.json`);
  });
});
