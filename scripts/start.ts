import { parseShardUrls } from '../subgraphs/shared/src/shards/topology';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { readConfig } from '../subgraphs/shared/src/config/env';
import { processConfigs, readScriptConfig, startConfig, type ProcessName, type ScriptConfig } from './lib/config';

type Config = ScriptConfig<typeof startConfig>;
import { migrateAll } from './lib/migration-sets';
import { mintToken, roles } from '../subgraphs/shared/src/identity';
import { subgraphSecretVariable } from '../subgraphs/shared/src/gateway-trust';
import { variablePrefixOf } from '../subgraphs/shared/src/part';
import { gatewayPart } from '../gateway/src/part';
import { subgraphNames, subgraphParts, type Part } from './lib/parts';
import { tokenLifetimeSeconds } from '../subgraphs/shared/src/limits';
import { openShards } from '../subgraphs/shared/src/shards/pool';
import { describeStackConnections, stackConnections } from './lib/connection-budget';
import { describeError, describeShards, ensureMysql, type MysqlServer } from './lib/mysql-server';
import { startGaleraCluster } from './lib/galera-cluster';
import { processNodeArgs } from './lib/node-options';
import { compiledEntry, ensureBuilt } from './lib/build';

/**
 * `npm start`: builds dist/ when it is missing or stale (scripts/lib/build.ts), finds or starts
 * MySQL, migrates the shards, starts the three subgraphs (dist/<name>.js) and
 * then the gateway (which composes the supergraph from them, so it must come last), and
 * keeps them running until Ctrl-C or SIGTERM. A process that fails to come up stops the
 * start, so a half-started system is never mistaken for a working one; once all are up, a
 * process that exits is restarted with exponential backoff, and only it is unavailable meanwhile.
 * `npm start -- --galera` puts every shard on a private 3-node Galera cluster instead
 * (galera-cluster.ts), made afresh each time, so that a node can be killed and the failover watched.
 */
const repoRoot = fileURLToPath(new URL('../', import.meta.url));

/** How long one process may take to answer GET /health/ready with 200 after it is spawned. */
const healthWaitTimeoutMs = 60_000;
const healthPollIntervalMs = 250;
/** How long one GET /health/ready may take before it counts as a failed poll. */
const healthRequestTimeoutMs = 2_000;
/** How long a process may take to exit after SIGTERM before it gets SIGKILL. */
const stopGraceMs = 10_000;
/**
 * A Ctrl-C in the terminal reaches the children as well as this script. A child that exits
 * within this delay of a stop signal is part of that stop, not a crash.
 */
const signalSettleMs = 300;
/** Bytes of randomness in a JWT or subgraph secret generated for one run. */
const generatedSecretBytes = 32;
/**
 * The pause before restarting a process that exited, doubled after each exit that follows a
 * short run, up to the cap: a process that crashes at once (a shard down, a bad deploy) is
 * retried without spinning. A run of restartBackoffResetMs or longer counts as healthy, and
 * the next exit waits the initial delay again.
 */
const restartDelayInitialMs = 500;
const restartDelayCapMs = 30_000;
const restartBackoffResetMs = 60_000;

interface ServiceSpec {
  name: string;
  entry: string;
  port: number;
  color: number;
  env: Record<string, string>;
}

/** One supervised process: the child running now, and what its restarts need. */
interface Service {
  spec: ServiceSpec;
  child: ChildProcess;
  exited: Promise<void>;
  startedAt: number;
  /** Exits since the last run of restartBackoffResetMs or longer, counting the latest. */
  recentExits: number;
  /** Set while a restart waits out its delay, so that a stop can cancel it. */
  restartTimer: NodeJS.Timeout | null;
}

/** Off with NO_COLOR (startConfig), and when stdout is no terminal. */
let useColor = false;
const running: Service[] = [];
let shuttingDown = false;
/** False until every process has come up: before that, an exit stops the start instead of being restarted. */
let supervising = false;
let mysqlServer: MysqlServer | undefined;

function paint(text: string, color: number): string {
  return useColor ? `\u001b[${color}m${text}\u001b[0m` : text;
}

function log(line: string): void {
  console.log(`${paint('[start]', 1)} ${line}`);
}

/** Each process's log prefix colour (ANSI), in the parts list's order; the gateway's is green. */
const subgraphColors = [36, 35, 33, 34, 96, 95, 93, 94];
const gatewayColor = 32;

/**
 * The processes of the parts list (parts.ts): each subgraph, then the gateway. Only the gateway
 * verifies client tokens, so only it gets JWT_SECRET; each subgraph gets its own secret and no
 * other, and the gateway every one (see gateway-trust.ts). A part's localStackEnv applies unless
 * the shell sets the variable.
 */
function servicePlan(
  config: Config,
  shardUrls: string,
  secret: string,
  subgraphSecrets: Record<string, string>,
): { subgraphs: ServiceSpec[]; gateway: ServiceSpec } {
  const shared = { MYSQL_SHARDS: shardUrls };
  const portOf = (name: string) => config.subgraphPorts[name]!;
  const ports = Object.fromEntries(
    subgraphParts.map((part) => [`${variablePrefixOf(part.name)}_PORT`, String(portOf(part.name))]),
  );
  // Children inherit this shell's environment: secrets meant for others are blanked, which reads as unset.
  const withheld = {
    JWT_SECRET: '',
    ...Object.fromEntries(Object.keys(subgraphSecrets).map((variable) => [variable, ''])),
  };
  // Any document runs on a local stack (curl, the Explorer, scripts as any role): explicitly, unless the shell says
  // otherwise.
  const trustedDocumentsMode = process.env.TRUSTED_DOCUMENTS_MODE || 'off';
  const localEnv = (part: Part) =>
    Object.fromEntries(
      Object.entries(part.localStackEnv ?? {}).map(([variable, value]) => [variable, process.env[variable] || value]),
    );
  const subgraphs = subgraphParts.map((part, index) => ({
    name: part.name,
    entry: compiledEntry(part.name),
    port: portOf(part.name),
    color: subgraphColors[index % subgraphColors.length]!,
    env: {
      ...shared,
      ...ports,
      ...withheld,
      [subgraphSecretVariable(part.name)]: subgraphSecrets[subgraphSecretVariable(part.name)]!,
      ...localEnv(part),
    },
  }));
  // Set, the gateway's URLs are used as they are; unset, they follow the ports chosen here.
  const urls = Object.fromEntries(
    subgraphParts.map((part) => {
      const variable = `${variablePrefixOf(part.name)}_URL`;
      return [variable, process.env[variable] || `http://127.0.0.1:${portOf(part.name)}/graphql`];
    }),
  );
  const gateway = {
    name: gatewayPart.name,
    entry: compiledEntry(gatewayPart.name),
    port: config.gatewayPort,
    color: gatewayColor,
    env: {
      ...shared,
      ...subgraphSecrets,
      JWT_SECRET: secret,
      PORT: String(config.gatewayPort),
      TRUSTED_DOCUMENTS_MODE: trustedDocumentsMode,
      ...urls,
    },
  };
  return { subgraphs, gateway };
}

/** Copies a child's output line by line, each line behind the child's coloured name. */
function relayLines(input: Readable, output: Writable, prefix: string): void {
  createInterface({ input, crlfDelay: Infinity }).on('line', (line) => output.write(`${prefix} ${line}\n`));
}

function startService(spec: ServiceSpec): Service {
  const service: Service = { spec, recentExits: 0, restartTimer: null, ...spawnChild(spec) };
  service.child.once('exit', (code, signal) => onExit(service, code, signal));
  log(`${spec.name} started (pid ${service.child.pid})`);
  running.push(service);
  return service;
}

function spawnChild(spec: ServiceSpec): Pick<Service, 'child' | 'exited' | 'startedAt'> {
  // A process spawned after shutdown began would be missed by it and outlive this script.
  if (shuttingDown) throw new Error(`not starting ${spec.name}: shutting down`);
  const child = spawn(process.execPath, [...processNodeArgs, spec.entry], {
    cwd: repoRoot,
    env: { ...process.env, ...spec.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const prefix = paint(`[${spec.name}]`, spec.color);
  relayLines(child.stdout, process.stdout, prefix);
  relayLines(child.stderr, process.stderr, prefix);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('error', (error) => void shutdown(1, `${spec.name} could not be started: ${error.message}`));
  return { child, exited, startedAt: Date.now() };
}

function onExit(service: Service, code: number | null, signal: NodeJS.Signals | null): void {
  if (shuttingDown) return;
  const how = signal === null ? `with code ${code}` : `on ${signal}`;
  const { name } = service.spec;
  // Wait out a Ctrl-C that reached the children too: then this exit is part of the stop.
  setTimeout(() => {
    if (shuttingDown) return;
    if (!supervising) {
      void shutdown(1, `${name} exited ${how} during start-up; stopping everything`);
      return;
    }
    const ranMs = Date.now() - service.startedAt;
    service.recentExits = ranMs >= restartBackoffResetMs ? 1 : service.recentExits + 1;
    const delayMs = restartDelayMs(service.recentExits);
    logError(
      `${name} (pid ${service.child.pid}) exited ${how} after ${Math.round(ranMs / 1000)} s; restarting it in ${delayMs} ms`,
    );
    service.restartTimer = setTimeout(() => restartService(service), delayMs);
  }, signalSettleMs);
}

/** The initial delay after the first recent exit, doubled for each further one, up to the cap. */
function restartDelayMs(recentExits: number): number {
  return Math.min(restartDelayCapMs, restartDelayInitialMs * 2 ** (recentExits - 1));
}

function restartService(service: Service): void {
  service.restartTimer = null;
  if (shuttingDown) return;
  Object.assign(service, spawnChild(service.spec));
  service.child.once('exit', (code, signal) => onExit(service, code, signal));
  log(`${service.spec.name} restarted (pid ${service.child.pid})`);
  // An exit before it is healthy is handled by onExit, like any other.
  waitForHealth(service).catch(() => {});
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

async function isHealthy(port: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/health/ready`, {
      signal: AbortSignal.timeout(healthRequestTimeoutMs),
    });
    return response.status === 200;
  } catch {
    return false;
  }
}

async function waitForHealth(service: Service): Promise<void> {
  const { name, port } = service.spec;
  const deadline = Date.now() + healthWaitTimeoutMs;
  while (Date.now() < deadline) {
    const { exitCode, signalCode } = service.child;
    if (exitCode !== null || signalCode !== null) {
      throw new Error(
        `${name} exited (${signalCode ?? `code ${exitCode}`}) before it became healthy; its output is above`,
      );
    }
    if (await isHealthy(port)) {
      log(`${name} is healthy on port ${port}`);
      return;
    }
    await sleep(healthPollIntervalMs);
  }
  throw new Error(
    `${name} did not answer http://127.0.0.1:${port}/health with 200 within ${healthWaitTimeoutMs / 1000} s`,
  );
}

async function stopService(service: Service): Promise<void> {
  if (hasExited(service.child)) return;
  service.child.kill('SIGTERM');
  const timer = setTimeout(() => service.child.kill('SIGKILL'), stopGraceMs);
  await service.exited;
  clearTimeout(timer);
}

/** Stops the gateway before the subgraphs it calls, then MySQL, then exits. */
async function shutdown(exitCode: number, reason: string): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  (exitCode === 0 ? log : logError)(reason);
  for (const service of running) clearTimeout(service.restartTimer ?? undefined);
  const gatewayFirst = [...running].reverse();
  for (const service of gatewayFirst.filter((s) => s.spec.name === gatewayPart.name)) await stopService(service);
  await Promise.all(gatewayFirst.map(stopService));
  await mysqlServer?.stop();
  process.exit(exitCode);
}

function logError(line: string): void {
  console.error(`${paint('[start]', 31)} ${line}`);
}

async function migrate(shardUrls: string): Promise<void> {
  const shards = openShards({ urls: shardUrls });
  try {
    await migrateAll(shards);
  } finally {
    await shards.close();
  }
}

function jwtSecret(config: Config): { secret: string; generated: boolean } {
  const configured = config.tokens.secret;
  if (configured !== null) return { secret: configured, generated: false };
  const secret = randomBytes(generatedSecretBytes).toString('base64url');
  log(`JWT_SECRET is not set; generated one for this run (tokens stop working after a restart): ${secret}`);
  return { secret, generated: true };
}

/**
 * SUBGRAPH_SECRET_* as set, or made for this run. Generated ones are not printed: nothing but
 * the processes started here needs them.
 */
function subgraphSecrets(config: Config): Record<string, string> {
  const secrets: Record<string, string> = {};
  for (const name of subgraphNames) {
    secrets[subgraphSecretVariable(name)] =
      config.subgraphSecrets[name] ?? randomBytes(generatedSecretBytes).toString('base64url');
  }
  return secrets;
}

/**
 * Each process's configuration as it will see it, checked before any is started: a bad value
 * stops the start here, once, naming the variable, rather than as a child that keeps exiting.
 */
function checkPlan(plan: { subgraphs: ServiceSpec[]; gateway: ServiceSpec }): void {
  for (const spec of [...plan.subgraphs, plan.gateway]) {
    readConfig(processConfigs[spec.name as ProcessName], { ...process.env, ...spec.env });
  }
}

/** Says so when the webhooks subgraph was started with local receivers allowed (WEBHOOK_ALLOW_LOCAL_DESTINATIONS). */
function localWebhooksNote(plan: ReturnType<typeof servicePlan>): string[] | null {
  if (!plan.subgraphs.some((s) => /^(true|1)$/.test(s.env.WEBHOOK_ALLOW_LOCAL_DESTINATIONS ?? ''))) return null;
  return [
    'Webhooks: WEBHOOK_ALLOW_LOCAL_DESTINATIONS=true, so endpoints may be http:// and on loopback (receivers on this machine);',
    '  set it to false to judge them as production does (https, no loopback).',
    '',
  ];
}

/** Says so when the gateway was started serving any document (TRUSTED_DOCUMENTS_MODE=off). */
function trustedDocumentsNote(plan: ReturnType<typeof servicePlan>): string[] | null {
  if (plan.gateway.env.TRUSTED_DOCUMENTS_MODE !== 'off') return null;
  return [
    'Trusted documents: TRUSTED_DOCUMENTS_MODE=off, so every role may send any document;',
    '  set it to require to be refused what production refuses (README, "Clients").',
    '',
  ];
}

async function printWelcome(
  config: Config,
  secret: { secret: string; generated: boolean },
  plan: ReturnType<typeof servicePlan>,
): Promise<void> {
  const port = config.gatewayPort;
  const token = await mintToken(
    { sub: 'operator', role: 'operator' },
    secret.secret,
    tokenLifetimeSeconds,
    config.tokens,
  );
  const base = `localhost:${port}`;
  const secretForCommand = secret.generated ? `JWT_SECRET=${secret.secret}` : 'JWT_SECRET=<the same secret>';
  const lines = [
    '',
    paint('paygraph is running', 1),
    `  GraphQL     http://${base}/graphql`,
    `  Explorer    http://${base}/graphql  (open in a browser)`,
    `  WebSocket   ws://${base}/graphql  (subscriptions, graphql-ws)`,
    `  Health      http://${base}/health/ready`,
    `  Metrics     http://${base}/metrics`,
    '',
    ...(localWebhooksNote(plan) ?? []),
    ...(trustedDocumentsNote(plan) ?? []),
    `Operator token (valid ${tokenLifetimeSeconds / 3600} h), send as "Authorization: Bearer <token>":`,
    `  ${token}`,
    'Other tokens:',
    `  ${secretForCommand} npm run token -- --sub alice --role customer   (roles: ${roles.join(', ')})`,
    '',
    'Press Ctrl-C to stop.',
    '',
  ];
  console.log(lines.join('\n'));
}

async function main(): Promise<void> {
  process.on('SIGINT', () => void shutdown(0, 'stopping (SIGINT)'));
  process.on('SIGTERM', () => void shutdown(0, 'stopping (SIGTERM)'));
  // Every variable is checked before anything starts; each process checks its own again.
  const config = readScriptConfig(startConfig, process.env);
  useColor = process.stdout.isTTY === true && !config.noColor;
  // The processes run compiled, as in production: built first when dist/ is missing or stale.
  await ensureBuilt(log);
  mysqlServer = process.argv.includes('--galera')
    ? await galeraServer(config.mysqlServer.shardCount)
    : await ensureMysql({ databasePrefix: 'paygraph', log, server: config.mysqlServer });
  log(`MySQL ${describeShards(mysqlServer.shardUrls)}; applying migrations`);
  await migrate(mysqlServer.shardUrls);
  const secret = jwtSecret(config);
  const plan = servicePlan(config, mysqlServer.shardUrls, secret.secret, subgraphSecrets(config));
  checkPlan(plan);
  log(
    `the processes hold ${describeStackConnections(stackConnections(parseShardUrls(mysqlServer.shardUrls).length, config.shardPoolSize))}`,
  );
  const subgraphs = plan.subgraphs.map(startService);
  await Promise.all(subgraphs.map(waitForHealth));
  await waitForHealth(startService(plan.gateway));
  supervising = true;
  await printWelcome(config, secret, plan);
}

/** The shards on a fresh local 3-node Galera cluster, each listing the three nodes; it stops with the script. */
async function galeraServer(shardCount: number): Promise<MysqlServer> {
  const cluster = await startGaleraCluster({ name: 'start', log });
  for (const node of cluster.nodes) {
    log(
      `Galera node ${node.index}: 127.0.0.1:${node.port}, pid ${node.pid} (kill -9 ${node.pid} to watch the shards fail over)`,
    );
  }
  return { shardUrls: cluster.shardUrls('paygraph', shardCount), privateServer: true, stop: () => cluster.stop() };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

main().catch((error: unknown) => {
  void shutdown(1, `start-up failed: ${describeError(error)}`);
});
