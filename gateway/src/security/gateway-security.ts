import { randomUUID } from 'node:crypto';
import { GraphQLError, type DocumentNode, type OperationDefinitionNode } from 'graphql';
import { HeaderMap, type ApolloServerPlugin, type GraphQLRequestContextWillSendResponse } from '@apollo/server';
import type { Role } from '@paygraph/shared/identity';
import { requestIdHeader } from '@paygraph/shared/log';
import type { ScreenedRequest, ScreenRefusal } from '@paygraph/shared/server/http';
import { openShards, type ShardSet } from '@paygraph/shared/shards/pool';
import type { ShardLocation } from '@paygraph/shared/config/shared';
import type { GatewayContext } from '../context';
import { createAuditStore } from '../db/audit-store';
import { auditPoolConnectionsMax, auditUnexecutedMoneyActionsMax } from '../limits';
import { createAuditLog, createAuditor, type AuditInput, type Auditor } from './audit';
import { rateBudgetsDefault, refusalBudgetDefault, type GatewayConfig, type RateBudgets } from '../config';
import { coercedVariablesOf } from '../coerced-variables';
import { screenGraphQLRequest } from './http-screen';
import { ClientLabels } from '../client-awareness';
import { checkSource, defaultOperationLimits, limitError, type OperationLimits } from './operation-limits';
import { MemoryRateLimiter, RedisRateLimiter, type Charge, type Decision, type RateLimiter } from './rate-limit';
import { moneyActionCount, moneyActionsOf, moneyWeight, takesMoneyBudget, type RootField } from './root-fields';
import { DocumentAnalyses } from './document-analysis';
import { trustedDocumentOf } from './trusted-documents';
import { RefusalThrottle, type RefusalThrottleOptions } from './refusal-throttle';

/**
 * The gateway's defences that come before any subgraph is called, and its audit trail:
 *  - the HTTP screen refuses batches and oversized documents before they are parsed;
 *  - the plugin refuses operations too deep, too aliased or too costly once they are validated,
 *    measured with their variables as execution coerces them, defaults applied (for graphql-ws,
 *    which does not pass the screen, it checks the document's size there too),
 *    then takes the operation's weight from the caller's rate budgets;
 *  - a request refused before it has a principal takes one unit of its address's budget of refusals, and an address
 *    that has used it is refused before its next requests are read (refusal-throttle.ts, counted by the HTTP
 *    server's admit step, refusal-admission.ts, which sees every answer, not only Apollo Server's);
 *  - every mutation and every refused authentication or authorization is audited when its
 *    response is sent.
 */

export interface GatewaySecurityOptions {
  limits?: Partial<OperationLimits>;
  budgets?: Partial<RateBudgets>;
  /** The budget of refusals per client address (refusal-throttle.ts), and how many addresses are counted. */
  refusals?: Partial<RefusalThrottleOptions>;
  /** Budgets shared by every gateway through this Redis; null: each process keeps its own. */
  redisUrl?: string | null;
  redisKeyPrefix?: string;
  /** Audit lines appended to this file; null: stdout. */
  auditLogFile?: string | null;
  /**
   * Where audit rows are written (its control shard). Absent: shards opened at auditShardsAt for
   * the gateway alone, or no rows without it; null: no rows, only the audit log.
   */
  auditShards?: ShardSet | null;
  /**
   * The shards (config.shards: MYSQL_SHARDS, SHARD_MAP) the gateway opens for its audit rows when auditShards is
   * absent.
   */
  auditShardsAt?: ShardLocation;
  /**
   * Names the client of each audit line (client-awareness.ts); the gateway shares its metrics' instance, so both carry
   * the same bounded names.
   */
  clientLabels?: ClientLabels;
  /** Analyses of documents outside the trusted manifests kept at most (document-analysis.ts); documentAnalysesMax. */
  documentAnalysesMax?: number;
  /** The trusted document whose body is this text (trusted-manifests.ts: byBody): its screen's verdict is kept. */
  trustedDocumentOfText?: (text: string) => object | undefined;
}

export interface GatewaySecurity {
  plugin: ApolloServerPlugin<GatewayContext>;
  screen: (request: ScreenedRequest) => ScreenRefusal | null;
  limits: OperationLimits;
  rateLimiter: RateLimiter;
  auditor: Auditor;
  /** Each document's analysis, made once (document-analysis.ts). */
  analyses: DocumentAnalyses;
  budgets: RateBudgets;
  /** Refusals per client address; its admit is the HTTP server's first step (server.ts). */
  refusals: RefusalThrottle;
  /** The bounded client names of the audit lines (and the metrics, which share them). */
  clients: ClientLabels;
  close(): Promise<void>;
}

/** The prefix of the rate limiter's Redis keys. */
export const rateLimitKeyPrefixDefault = 'paygraph:ratelimit';

/**
 * The gateway's security settings from its configuration (config.ts, checked at start-up):
 * RATE_LIMIT_MONEY_PER_MINUTE, RATE_LIMIT_READS_PER_MINUTE, RATE_LIMIT_OPERATOR_MONEY_PER_MINUTE,
 * RATE_LIMIT_OPERATOR_READS_PER_MINUTE, RATE_LIMIT_REFUSALS_PER_ADDRESS, RATE_LIMIT_REFUSAL_WINDOW_MS, REDIS_URL
 * (shared budgets; unset: per process), AUDIT_LOG_FILE (unset: stdout), and MYSQL_SHARDS, where the audit table is
 * written.
 */
export function securityOptions(
  config: Pick<GatewayConfig, 'rateBudgets' | 'refusals' | 'redisUrl' | 'auditLogFile' | 'shards'>,
): GatewaySecurityOptions {
  return {
    budgets: { ...config.rateBudgets },
    refusals: { ...config.refusals },
    redisUrl: config.redisUrl,
    auditLogFile: config.auditLogFile,
    auditShardsAt: config.shards,
  };
}

/** The gateway process gives securityOptions(config) (config.ts); a setting left out takes the schema's default. */
export function createGatewaySecurity(options: GatewaySecurityOptions = {}): GatewaySecurity {
  const limits: OperationLimits = { ...defaultOperationLimits, ...options.limits };
  const budgets: RateBudgets = { ...rateBudgetsDefault, ...options.budgets };
  const redisUrl = options.redisUrl ?? null;
  const auditLogFile = options.auditLogFile ?? null;
  const rateLimiter: RateLimiter = redisUrl
    ? new RedisRateLimiter({ url: redisUrl, keyPrefix: options.redisKeyPrefix ?? rateLimitKeyPrefixDefault })
    : new MemoryRateLimiter();
  const ownsShards = options.auditShards === undefined && options.auditShardsAt !== undefined;
  const shards = ownsShards
    ? openShards({ ...options.auditShardsAt!, poolSize: auditPoolConnectionsMax })
    : (options.auditShards ?? null);
  const store = shards ? createAuditStore(shards, { ownsShards }) : null;
  const auditor = createAuditor(createAuditLog(auditLogFile ?? null), store);
  const analyses = new DocumentAnalyses(options.documentAnalysesMax);
  // A text longer than the limit (in UTF-16 units, never more than its bytes) is refused without looking it up.
  const trustedOf = options.trustedDocumentOfText ?? (() => undefined);
  const checkText = (text: string) =>
    text.length > limits.documentBytesMax
      ? checkSource(text, limits)
      : analyses.sourceChecked(trustedOf(text), () => checkSource(text, limits));
  const clients = options.clientLabels ?? new ClientLabels();
  const refusals = new RefusalThrottle({ ...refusalBudgetDefault, ...options.refusals });
  return {
    plugin: securityPlugin({ limits, budgets, rateLimiter, auditor, clients, analyses }),
    screen: (request) => screenGraphQLRequest(request, limits, (text) => checkText(text)),
    limits,
    rateLimiter,
    auditor,
    analyses,
    budgets,
    refusals,
    clients,
    close: async () => {
      await rateLimiter.close();
      await auditor.close();
    },
  };
}

interface PluginDeps {
  limits: OperationLimits;
  budgets: RateBudgets;
  rateLimiter: RateLimiter;
  auditor: Auditor;
  clients: ClientLabels;
  analyses: DocumentAnalyses;
}

function securityPlugin(deps: PluginDeps): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart({ contextValue }) {
      // The HTTP request's id (echoed to the client by the HTTP server); one per graphql-ws operation.
      const requestId = contextValue.requestId ?? randomUUID();
      const at = new Date();
      // Read once the operation is known, and kept for the audit record.
      let fields: readonly RootField[] | null = null;
      return {
        async didResolveOperation({ request, source, document, schema, operation, contextValue, queryHash }) {
          // No operation to run (a document without the one named): execution refuses it.
          if (!operation) return;
          // Over HTTP the screen has checked the document's size already; graphql-ws has no screen.
          if (!request.http) {
            const violation = checkSource(source, deps.limits);
            if (violation) throw limitError(violation);
          }
          // The trusted documents' plugin, before this one, has judged the document by now (its hook does not wait).
          const { analysis, variables, rootFields } = analysed(deps.analyses, {
            request,
            document,
            schema,
            operation,
            contextValue,
            queryHash,
          });
          fields = rootFields;
          if (variables.ok) {
            const checked = analysis.check(variables.values, deps.limits);
            if (!checked.ok) throw limitError(checked.error);
          }
          // Without an identity the operation is refused (plugins.ts) or is introspection,
          // which the gateway answers itself; neither reaches a subgraph.
          // The express lane's context took its budgets before it handed its answer on (context.ts rateTaken).
          if (!contextValue.auth.ok || contextValue.rateTaken === true) return;
          const { role } = contextValue.auth.identity;
          const decision = await takeRateBudgets(deps, contextValue.auth.identity, operation, fields);
          if (!decision.allowed) throw rateLimited(decision, deps.budgets, role);
        },
        async willSendResponse({ request, response, operation, document, schema, contextValue, queryHash }) {
          response.http.headers.set(requestIdHeader, requestId);
          if (!operation || !document) return;
          // An operation refused before didResolveOperation ran (by an earlier plugin) is audited with its fields too.
          fields ??= analysed(deps.analyses, {
            request,
            document,
            schema,
            operation,
            contextValue,
            queryHash,
          }).rootFields;
          const answered: Answered = { requestId, at, fields, clients: deps.clients };
          deps.auditor.record(auditInputOf({ request, response, contextValue }, operation, answered));
        },
      };
    },
  };
}

/**
 * A document's analysis (cached per document by DocumentAnalyses), the request's variables coerced, and the root
 * fields they select. Variables that do not coerce are refused by execution, on either path, before any subgraph is
 * called (pass-through/gateway.ts): the fields are then those the document names, with nothing to measure.
 */
function analysed(
  analyses: DocumentAnalyses,
  {
    request,
    document,
    schema,
    operation,
    contextValue,
    queryHash,
  }: Pick<
    GraphQLRequestContextWillSendResponse<GatewayContext>,
    'request' | 'schema' | 'contextValue' | 'queryHash'
  > & {
    document: DocumentNode;
    operation: OperationDefinitionNode;
  },
) {
  const analysis = analyses.of({ schema, document, operation, queryHash, trusted: trustedDocumentOf(request) });
  const variables = coercedVariablesOf(contextValue, schema, operation, request.variables);
  return { analysis, variables, rootFields: analysis.rootFields(variables.ok ? variables.values : null) };
}

/**
 * What a request's audit input is taken from besides Apollo's context: its id, when it started, its root fields, the
 * client names.
 */
interface Answered {
  requestId: string;
  at: Date;
  fields: readonly RootField[];
  clients: ClientLabels;
}

/**
 * The audit input of a request with an operation, read as its response is sent (the auditor decides whether it is
 * recorded).
 */
function auditInputOf(
  {
    request,
    response,
    contextValue,
  }: Pick<GraphQLRequestContextWillSendResponse<GatewayContext>, 'request' | 'response' | 'contextValue'>,
  operation: OperationDefinitionNode,
  answered: Answered,
): AuditInput {
  const body = response.body;
  const result = body.kind === 'single' ? body.singleResult : body.initialResult;
  return answeredAuditInput(contextValue, operation, answered, {
    // Apollo leaves the status unset for 200; graphql-ws operations have no HTTP status at all.
    httpStatus: response.http.status ?? (request.http ? 200 : null),
    data: result.data as Record<string, unknown> | null | undefined,
    errors: result.errors,
    client: clientFields(answered.clients, request),
  });
}

/** What an answered operation's audit input holds besides its context and operation. */
export interface AnswerFacts {
  httpStatus: number | null;
  data: Record<string, unknown> | null | undefined;
  errors: AuditInput['errors'];
  client: { name: string; version: string };
}

/** An answered operation's audit input: the plugin's (above), and the express lane's for the answers it writes. */
export function answeredAuditInput(
  contextValue: GatewayContext,
  operation: OperationDefinitionNode,
  answered: Pick<Answered, 'requestId' | 'at' | 'fields'>,
  facts: AnswerFacts,
): AuditInput {
  const { requestId, at, fields } = answered;
  const ran = facts.data !== undefined || contextValue.prefetched !== undefined;
  return {
    requestId,
    at,
    principal: contextValue.auth.ok
      ? { sub: contextValue.auth.identity.sub, role: contextValue.auth.identity.role }
      : null,
    authFailure: contextValue.auth.ok ? null : contextValue.auth.failure.kind,
    operationType: operation.operation,
    operationName: operation.name?.value ?? null,
    rootFields: fields,
    // Of a request that did not run, the audit lists only the first few actions (auditRecordOf): only they are built.
    money: moneyActionsOf(operation, fields, ran ? Number.POSITIVE_INFINITY : auditUnexecutedMoneyActionsMax),
    moneyCount: moneyActionCount(operation, fields),
    ran,
    httpStatus: facts.httpStatus,
    data: facts.data,
    errors: facts.errors,
    client: { ...contextValue.client, ...facts.client },
  };
}

/** The audit line's client name and version (client-awareness.ts). */
function clientFields(
  clients: ClientLabels,
  request: Parameters<ClientLabels['of']>[0],
): { name: string; version: string } {
  const { name, version } = clients.of(request);
  return { name, version };
}

/**
 * Takes what an operation charges from its caller's budgets (chargesOf), under the caller's one key: the security
 * plugin's and the express lane's way, so that both paths draw on the same budget.
 */
export function takeRateBudgets(
  deps: { rateLimiter: RateLimiter; budgets: RateBudgets },
  caller: { role: Role; sub: string },
  operation: OperationDefinitionNode,
  fields: readonly RootField[],
): Promise<Decision> {
  return deps.rateLimiter.take(`${caller.role}:${caller.sub}`, chargesOf(operation, fields, caller.role, deps.budgets));
}

/** What a request takes from its caller's budgets: money units, and one "other" unit for anything else. */
export function chargesOf(
  operation: OperationDefinitionNode,
  fields: readonly RootField[],
  role: Role,
  budgets: RateBudgets,
): Charge[] {
  const operator = role === 'operator';
  const charges: Charge[] = [];
  const money = moneyWeight(operation, fields);
  if (money > 0)
    charges.push({
      bucket: 'money',
      weight: money,
      limit: operator ? budgets.operatorMoneyPerMinute : budgets.moneyPerMinute,
    });
  const other = fields.some((f) => operation.operation !== 'mutation' || !takesMoneyBudget(f.name));
  if (other)
    charges.push({
      bucket: 'other',
      weight: 1,
      limit: operator ? budgets.operatorReadsPerMinute : budgets.readsPerMinute,
    });
  return charges;
}

function rateLimited(decision: Extract<Decision, { allowed: false }>, budgets: RateBudgets, role: Role): GraphQLError {
  const operator = role === 'operator';
  const budget =
    decision.bucket === 'money'
      ? operator
        ? budgets.operatorMoneyPerMinute
        : budgets.moneyPerMinute
      : operator
        ? budgets.operatorReadsPerMinute
        : budgets.readsPerMinute;
  const what = decision.bucket === 'money' ? 'money-mutation units' : 'operations';
  if (decision.retryAfterMs === null) {
    return new GraphQLError(
      `this request alone weighs more than the budget of ${budget} ${what} per minute; split it`,
      {
        extensions: { code: 'RATE_LIMITED', bucket: decision.bucket, retryAfterSeconds: null, http: { status: 429 } },
      },
    );
  }
  const retryAfterSeconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
  return new GraphQLError(
    `rate limit reached: at most ${budget} ${what} per minute; retry after ${retryAfterSeconds} s`,
    {
      extensions: {
        code: 'RATE_LIMITED',
        bucket: decision.bucket,
        retryAfterSeconds,
        http: { status: 429, headers: new HeaderMap([['retry-after', String(retryAfterSeconds)]]) },
      },
    },
  );
}
