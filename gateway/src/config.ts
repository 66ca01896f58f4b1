import * as z from 'zod';
import {
  evenWithRefusedValues,
  integer,
  intervalMs,
  oneOf,
  parsed,
  port,
  text,
  url,
} from '@paygraph/shared/config/env';
import { roles, type Role } from '@paygraph/shared/identity';
import {
  processShape,
  shardsConfig,
  subgraphSecretsConfig,
  secretMissing,
  subscriptionKeepAliveMs,
  tokensConfig,
} from '@paygraph/shared/config/shared';
import { variablePrefixOf } from '@paygraph/shared/part';
import { supergraphSubgraphs } from './compose';
import {
  rateLimitMoneyPerMinuteDefault,
  rateLimitOperatorMoneyPerMinuteDefault,
  rateLimitOperatorReadsPerMinuteDefault,
  rateLimitReadsPerMinuteDefault,
  refusalWindowMsDefault,
  refusalsPerAddressMaxDefault,
  trustedManifestReloadMsDefault,
} from './limits';
import { trustedDocumentsModes, type TrustedDocumentsMode } from './security/trusted-documents';
import type { ManifestSource } from './security/trusted-manifests';

/** The gateway's per-principal budgets per minute, by role (RATE_LIMIT_*). */
export const rateBudgetsConfig = z.object({
  /**
   * Money-mutation units (createPayments: one per input) per minute, for customers, merchants, partners and channels.
   */
  moneyPerMinute: integer(
    'RATE_LIMIT_MONEY_PER_MINUTE',
    'integer',
    1,
    Number.MAX_SAFE_INTEGER,
    rateLimitMoneyPerMinuteDefault,
    {
      default: `\`${rateLimitMoneyPerMinuteDefault}\``,
      meaning:
        'per-principal budget for money mutations and FX quotes (`createFxQuote`; createPayments counts each input)',
    },
  ),
  /** Other operations per minute, for customers, merchants, partners and channels. */
  readsPerMinute: integer(
    'RATE_LIMIT_READS_PER_MINUTE',
    'integer',
    1,
    Number.MAX_SAFE_INTEGER,
    rateLimitReadsPerMinuteDefault,
    {
      default: `\`${rateLimitReadsPerMinuteDefault}\``,
      meaning: 'per-principal budget for everything else',
    },
  ),
  operatorMoneyPerMinute: integer(
    'RATE_LIMIT_OPERATOR_MONEY_PER_MINUTE',
    'integer',
    1,
    Number.MAX_SAFE_INTEGER,
    rateLimitOperatorMoneyPerMinuteDefault,
    {
      default: `\`${rateLimitOperatorMoneyPerMinuteDefault}\``,
      meaning: 'the money budget of operators (back offices and the benchmark)',
    },
  ),
  operatorReadsPerMinute: integer(
    'RATE_LIMIT_OPERATOR_READS_PER_MINUTE',
    'integer',
    1,
    Number.MAX_SAFE_INTEGER,
    rateLimitOperatorReadsPerMinuteDefault,
    {
      default: `\`${rateLimitOperatorReadsPerMinuteDefault}\``,
      meaning: 'the other budget of operators',
    },
  ),
});

export type RateBudgets = z.output<typeof rateBudgetsConfig>;

/** The budgets with no RATE_LIMIT_* set: the schema's defaults. */
export const rateBudgetsDefault: Readonly<RateBudgets> = Object.freeze(rateBudgetsConfig.parse({}));

/**
 * The budget of refusals per client address (security/refusal-throttle.ts): requests refused before they have a
 * principal, counted per address over a sliding window.
 */
export const refusalBudgetConfig = z.object({
  perAddressMax: integer(
    'RATE_LIMIT_REFUSALS_PER_ADDRESS',
    'integer',
    0,
    Number.MAX_SAFE_INTEGER,
    refusalsPerAddressMaxDefault,
    {
      default: `\`${refusalsPerAddressMaxDefault}\``,
      meaning:
        "requests refused without a principal (no token, a bad, expired or unknown-role one, a body or document refused) one client address may send, or have in flight, per window; past it the address's requests are answered 429 `RATE_LIMITED` before their body is read, except those with a token verified once and not expired, per gateway process; `0` turns it off (behind a proxy every client shares its address: docs/SECURITY.md)",
    },
  ),
  windowMs: intervalMs('RATE_LIMIT_REFUSAL_WINDOW_MS', refusalWindowMsDefault, {
    default: `\`${refusalWindowMsDefault}\``,
    meaning: 'the sliding window of `RATE_LIMIT_REFUSALS_PER_ADDRESS`',
  }),
});

export type RefusalBudget = z.output<typeof refusalBudgetConfig>;

/** The refusal budget with no RATE_LIMIT_REFUSAL* set: the schema's defaults. */
export const refusalBudgetDefault: Readonly<RefusalBudget> = Object.freeze(refusalBudgetConfig.parse({}));

/** `role=mode[,role=mode…]`: each role named once, each mode one of off, log, require. */
export function parseRoleModes(raw: string): Partial<Record<Role, TrustedDocumentsMode>> {
  const modes: Partial<Record<Role, TrustedDocumentsMode>> = {};
  for (const entry of raw
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '')) {
    const [role, mode] = entry.split('=').map((part) => part.trim());
    if (!(roles as readonly string[]).includes(role ?? ''))
      throw new Error(`${JSON.stringify(entry)}: the role must be one of ${roles.join(', ')}`);
    if (!(trustedDocumentsModes as readonly string[]).includes(mode ?? ''))
      throw new Error(`${JSON.stringify(entry)}: the mode must be one of ${trustedDocumentsModes.join(', ')}`);
    if (modes[role as Role] !== undefined) throw new Error(`${role} is named twice`);
    modes[role as Role] = mode as TrustedDocumentsMode;
  }
  return modes;
}

/** `client=path[,client=path…]`: each client named once, each path non-empty. */
export function parseManifestSources(raw: string): ManifestSource[] {
  const sources: ManifestSource[] = [];
  for (const entry of raw
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '')) {
    const at = entry.indexOf('=');
    const client = entry.slice(0, at).trim();
    const path = entry.slice(at + 1).trim();
    if (at <= 0 || path === '') throw new Error(`${JSON.stringify(entry)} is not client=path`);
    if (sources.some((s) => s.client === client)) throw new Error(`client ${client} is named twice`);
    sources.push({ client, path });
  }
  return sources;
}

/**
 * Which documents the gateway trusts and what it does with others (security/trusted-documents.ts, README "Clients").
 */
export const trustedDocumentsConfig = z.object({
  /**
   * `require` unless set, whatever NODE_ENV says: a gateway that forgot a variable refuses
   * unknown documents rather than serving them. npm start, the tests' process stacks and the
   * benchmark set `off` themselves, as npm start sets WEBHOOK_ALLOW_LOCAL_DESTINATIONS.
   */
  mode: oneOf('TRUSTED_DOCUMENTS_MODE', trustedDocumentsModes, 'require', {
    default: '`require` (`npm start` sets `off`)',
    meaning:
      'what customers, merchants, partners, channels and callers without a token may send: `off` any document, `log` any (unknown ones logged by name and hash), `require` only trusted documents. Whatever `NODE_ENV` says',
  }),
  roleModes: parsed('TRUSTED_DOCUMENTS_ROLE_MODES', '`role=mode[,role=mode…]`', parseRoleModes, 'operator=off', {
    default: '`operator=off`',
    meaning:
      'the mode of each role named, over TRUSTED_DOCUMENTS_MODE; operators send any document unless named here (the Explorer keeps working for them)',
  }),
  manifests: parsed('TRUSTED_DOCUMENTS_MANIFESTS', '`client=path[,client=path…]`', parseManifestSources, '', {
    default: "unset (the contract's manifest only)",
    meaning:
      "the clients' manifests (Apollo persisted query manifest or GraphQL Code Generator persisted documents), loaded after the contract's own (`gateway/trusted-documents/contract.json`); the client name labels metrics and audit lines",
  }),
  reloadMs: intervalMs('TRUSTED_DOCUMENTS_RELOAD_MS', trustedManifestReloadMsDefault, {
    default: `\`${trustedManifestReloadMsDefault}\``,
    meaning:
      'how often the manifests are re-read (SIGHUP re-reads at once); a refused manifest leaves the loaded ones in force, with a log line',
  }),
});

/** Where the gateway listens unless PORT says otherwise. */
export const gatewayPortDefault = 4000;

/** The subgraphs of the supergraph the gateway serves (compose.ts), each with its URL and secret variables. */
const subgraphs = supergraphSubgraphs();
const subgraphNames = subgraphs.map((s) => s.name);

/** <NAME>_URL per subgraph: where the gateway finds it; the supergraph's URL (its default port) when unset. */
const subgraphUrlsConfig = z.object(
  Object.fromEntries(
    subgraphs.map(({ name, url: urlDefault }) => [
      name,
      url(`${variablePrefixOf(name)}_URL`, ['http', 'https'], urlDefault, {
        default: `\`${urlDefault}\``,
        meaning: `where the gateway finds the ${name} subgraph`,
      }),
    ]),
  ),
);

/**
 * The gateway's configuration: where it listens, where the subgraphs are, how it checks client
 * tokens, every subgraph's secret, its rate budgets and audit trail (audit rows go to the
 * shards' control shard). It refuses to start without every subgraph's secret and without a way
 * to check tokens.
 */
export const gatewayConfig = z
  .object({
    ...processShape,
    port: port('PORT', gatewayPortDefault, {
      default: `\`${gatewayPortDefault}\``,
      meaning: "the gateway's port (`/graphql`, `/health/live`, `/health/ready`, `/metrics`); `0` takes a free one",
    }),
    host: text('GATEWAY_HOST', 'host name or address', '0.0.0.0', {
      default: '`0.0.0.0`',
      meaning: "the gateway's listen address",
    }),
    subgraphUrls: subgraphUrlsConfig,
    tokens: tokensConfig,
    subgraphSecrets: subgraphSecretsConfig(subgraphNames),
    rateBudgets: rateBudgetsConfig,
    refusals: refusalBudgetConfig,
    /** AUDIT_LOG_FILE; null: stdout. */
    auditLogFile: text('AUDIT_LOG_FILE', 'file path', undefined, {
      default: 'unset (stdout)',
      meaning: 'where the gateway writes its JSON-line audit log; money mutations also go to the `audit_events` table',
    }),
    shards: shardsConfig,
    subscriptionKeepAliveMs,
    trustedDocuments: trustedDocumentsConfig,
  })
  .superRefine((config, ctx) => {
    const refuse = (message: string): void => ctx.addIssue({ code: 'custom', message, input: config });
    for (const [subgraph, secret] of Object.entries(config.subgraphSecrets)) {
      if (secret === null) refuse(secretMissing(subgraph));
    }
    if (config.tokens.secret === null && config.tokens.jwksUrl === null) {
      refuse(
        'JWT_SECRET is not set, nor JWKS_URL: npm start makes a JWT_SECRET for the run, or set one of them yourself',
      );
    }
    // Over plain HTTP anyone on the path could hand the gateway their own signing keys.
    if (config.production && config.tokens.jwksUrl !== null && !config.tokens.jwksUrl.startsWith('https:')) {
      refuse(`JWKS_URL must be https in production, got ${JSON.stringify(config.tokens.jwksUrl)}`);
    }
  }, evenWithRefusedValues);

export type GatewayConfig = z.output<typeof gatewayConfig>;
