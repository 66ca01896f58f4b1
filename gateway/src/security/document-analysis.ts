import type { DocumentNode, FragmentDefinitionNode, GraphQLSchema, OperationDefinitionNode } from 'graphql';
import { LRUCache } from 'lru-cache';
import { err, ok, type Result } from '@paygraph/shared/result';
import { documentAnalysesMax } from '../limits';
import {
  checkMeasure,
  fragmentsOf,
  walkOperation,
  type LimitViolation,
  type OperationLimits,
  type OperationMeasure,
} from './operation-limits';
import { rootFieldsOf, rootSelectionsOf, type RootField, type RootSelection } from './root-fields';

/**
 * What the security plugin reads of an operation that its variables do not change, worked out
 * once per document and kept: its fragments, its root fields (a query's whole, a mutation's but
 * for the arguments, read from each request's variables for the rate limiter's weights and the
 * audit), and its measure against the operation limits when no page size or list argument comes
 * from a variable (GetAccount's and CreatePayment's do not; createPayments' inputs do, and are
 * measured per request). With trusted documents every document a client may send is known ahead:
 * each is analysed on its first request, not on every one.
 *
 * Two stores, so that no caller can push another's analyses out: a trusted document's (a manifest
 * holds it; callers in `require` mode run nothing else) are kept beside its manifest entry for as
 * long as that lives (each re-read of the manifests makes new entries: the analyses are made again
 * on the next requests, and a document dropped takes its own with it); every other document's (sent
 * as text by callers in `off` or `log` mode, operators by default) share an LRU of
 * documentAnalysesMax. An analysis is used only for the very schema it was made of (a schema update makes a new
 * one), and, outside the manifests, for the very parsed document and operation (a reparsed text makes a new one).
 */
export class OperationAnalysis {
  readonly fragments: ReadonlyMap<string, FragmentDefinitionNode>;
  readonly selections: readonly RootSelection[];
  private queryFields: readonly RootField[] | undefined;
  private checked: Result<OperationMeasure, LimitViolation> | undefined;

  constructor(
    readonly schema: GraphQLSchema,
    readonly document: DocumentNode,
    readonly operation: OperationDefinitionNode,
    private readonly stats: AnalysisStats,
  ) {
    this.fragments = fragmentsOf(document.definitions);
    this.selections = rootSelectionsOf(schema, this.fragments, operation);
  }

  /** The root fields; a mutation's arguments from its coerced variables (null: they did not coerce). */
  rootFields(coercedVariables: Readonly<Record<string, unknown>> | null): readonly RootField[] {
    if (this.operation.operation === 'mutation') return rootFieldsOf(this.operation, this.selections, coercedVariables);
    return (this.queryFields ??= rootFieldsOf(this.operation, this.selections, null));
  }

  /** The operation measured and checked against the limits: once, unless a variable changes the measure. */
  check(
    coercedVariables: Readonly<Record<string, unknown>>,
    limits: OperationLimits,
  ): Result<OperationMeasure, LimitViolation> {
    if (this.checked) return this.checked;
    this.stats.measured += 1;
    const { measure, readsVariables } = walkOperation(
      this.schema,
      this.fragments,
      this.operation,
      coercedVariables,
      limits,
    );
    const violation = checkMeasure(measure, limits);
    const checked = violation ? err(violation) : ok(measure);
    if (!readsVariables) this.checked = checked;
    return checked;
  }
}

/** How often analyses were made and operations measured, for the tests that show they are not made per request. */
export interface AnalysisStats {
  analysed: number;
  measured: number;
  /** Texts screened for their size and tokens (checkSource). */
  sourcesChecked: number;
}

export interface AnalysisKey {
  schema: GraphQLSchema;
  document: DocumentNode;
  operation: OperationDefinitionNode;
  /** The document text's SHA-256 (Apollo Server's queryHash). */
  queryHash: string;
  /** The manifest entry of a trusted document (trusted-documents.ts: trustedDocumentOf), when it is one. */
  trusted: object | undefined;
}

export class DocumentAnalyses {
  readonly stats: AnalysisStats = { analysed: 0, measured: 0, sourcesChecked: 0 };
  private readonly trusted = new WeakMap<object, Map<string, OperationAnalysis>>();
  /** A trusted document's text screened (http-screen.ts): its verdict, by its manifest entry. */
  private readonly sources = new WeakMap<object, LimitViolation | null>();
  private readonly others: LRUCache<string, OperationAnalysis>;

  constructor(analysesMax: number = documentAnalysesMax) {
    this.others = new LRUCache({ max: analysesMax });
  }

  of(key: AnalysisKey): OperationAnalysis {
    const name = key.operation.name?.value ?? '';
    let byName: Map<string, OperationAnalysis> | undefined;
    if (key.trusted) {
      byName = this.trusted.get(key.trusted);
      if (!byName) {
        byName = new Map();
        this.trusted.set(key.trusted, byName);
      }
    }
    const known = byName ? byName.get(name) : this.others.get(`${key.queryHash}\u0000${name}`);
    // A manifest entry's text is fixed, so any parse of it analyses alike: the express lane's parse and Apollo
    // Server's share one analysis (pass-through/express-lane.ts), where taking turns would make one per request.
    const sameParse = byName !== undefined || (known?.document === key.document && known.operation === key.operation);
    if (known && known.schema === key.schema && sameParse) return known;
    this.stats.analysed += 1;
    const made = new OperationAnalysis(key.schema, key.document, key.operation, this.stats);
    if (byName) byName.set(name, made);
    else this.others.set(`${key.queryHash}\u0000${name}`, made);
    return made;
  }

  /**
   * The screen's size and token check of a request's text (check: checkSource): once per trusted document (found by
   * its body), every time for any other text.
   */
  sourceChecked(trusted: object | undefined, check: () => LimitViolation | null): LimitViolation | null {
    const known = trusted ? this.sources.get(trusted) : undefined;
    if (known !== undefined) return known;
    this.stats.sourcesChecked += 1;
    const verdict = check();
    if (trusted) this.sources.set(trusted, verdict);
    return verdict;
  }
}
