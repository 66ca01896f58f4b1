import type { FormattedExecutionResult } from 'graphql';

/**
 * A forwarded operation's answer handed on as the subgraph wrote it. The subgraph (Apollo Server)
 * writes `JSON.stringify({ errors, data, extensions }) + '\n'`, as the gateway's Apollo Server
 * does; an answer that is data alone, `{"data":…}\n`, is therefore already the text the gateway
 * would write after parsing it and serialising it again: JSON.stringify's output reads back to
 * the same values (numbers in their shortest form, one way of escaping strings, keys in order: no
 * type of the schema is a free-form JSON object whose integer-like keys parsing would reorder).
 * Such an answer's `data` is a lazy stand-in that parses the text only if something reads it (the
 * audit of a mutation reads its root fields' __typename), and stringifyResult (Apollo Server's
 * documented option) writes the subgraph's text when the result it is given is that data alone:
 * no errors (the gateway rewrites a subgraph's errors), no extensions. On the GetAccount read
 * (29 kB) the parse and the serialisation were 6% of the gateway's CPU and most of its garbage
 * (docs/PERFORMANCE.md).
 *
 * An answer is taken as data alone when it begins `{"data":{` and holds neither `"errors":` nor
 * `"extensions":`: inside JSON strings a quote is escaped, so these can only be keys, and a key
 * of that name within data (an alias) merely costs the parse. A GraphQL response has no other
 * top-level keys (the GraphQL specification's response format). Anything else is parsed as before.
 */
interface LazyAnswer {
  /**
   * The subgraph's answer as it wrote it, ending in a newline as the gateway's answers do; for a copy held as bytes,
   * decoded from them the first time something needs the text (textOf).
   */
  text?: string;
  /**
   * A kept copy's UTF-8 bytes (rendered-copies.ts), written as they are: a 29 kB page written as a string is encoded
   * again on every write, 11 µs of a bare Node server's 100–119 per answer (four runs alternating, 4–6 k answers/s).
   */
  bytes?: Buffer;
  /** Its data once something read it: from then on the answer is written from these values. */
  parsed?: Record<string, unknown>;
}

const lazyAnswers = new WeakMap<object, LazyAnswer>();

const dataPrefix = '{"data":{';
/** One pass of V8's regular expression engine: 4 µs over a 19 kB page, where two String.includes took 21 µs. */
const errorsOrExtensions = /"(?:errors|extensions)":/;

/** The body of a subgraph's JSON answer: data alone, lazily parsed and remembered with its text, or the parsed answer. */
export function answerBodyOf(text: string): object {
  if (!text.startsWith(dataPrefix) || errorsOrExtensions.test(text)) return JSON.parse(text) as object;
  return lazyBody({ text: text.endsWith('\n') ? text : `${text}\n` });
}

/**
 * The body of a kept copy the subgraph answered "the same" as (rendered-copies.ts): a data-alone text when it was
 * kept, held as its bytes; lazily parsed like any other.
 */
export function answerBodyOfCopy(bytes: Buffer): object {
  return lazyBody({ bytes });
}

/** An answer's body `{ data }`, its data the lazy stand-in, kept with the answer (resultWriter, unparsedBodyOf). */
function lazyBody(answer: LazyAnswer): object {
  const data = lazyData(answer);
  lazyAnswers.set(data, answer);
  return { data };
}

/**
 * Apollo Server's stringifyResult: the subgraph's text for a result that is its data alone and
 * that nothing has read (so nothing can have changed it), counted by onUnparsed; else what Apollo
 * Server's default writes (runHttpQuery's prettyJSONStringify), read data written from its parsed
 * values.
 */
export function resultWriter(onUnparsed: () => void): (value: FormattedExecutionResult) => string {
  return (value) => {
    const answer = typeof value.data === 'object' && value.data !== null ? lazyAnswers.get(value.data) : undefined;
    if (answer === undefined) return `${JSON.stringify(value)}\n`;
    if (answer.parsed === undefined && value.errors === undefined && value.extensions === undefined) {
      onUnparsed();
      return textOf(answer);
    }
    return `${JSON.stringify({ ...value, data: parsedData(answer) })}\n`;
  };
}

/**
 * The subgraph's answer of data alone that nothing has read yet (what resultWriter would write for it), as bytes when
 * it is a kept copy, else as text; or undefined: the express lane writes it itself (express-lane.ts).
 */
export function unparsedBodyOf(data: unknown): string | Buffer | undefined {
  const answer = typeof data === 'object' && data !== null ? lazyAnswers.get(data) : undefined;
  if (answer === undefined || answer.parsed !== undefined) return undefined;
  return answer.bytes ?? answer.text;
}

function textOf(answer: LazyAnswer): string {
  return (answer.text ??= answer.bytes!.toString('utf8'));
}

function parsedData(answer: LazyAnswer): Record<string, unknown> {
  return (answer.parsed ??= (JSON.parse(textOf(answer)) as { data: Record<string, unknown> }).data);
}

/**
 * An object that behaves as the answer's `data` in every way a reader can look at it (reads, keys,
 * descriptors, writes), parsing the text the first time it is looked at.
 */
function lazyData(answer: LazyAnswer): Record<string, unknown> {
  return new Proxy<Record<string, unknown>>(
    {},
    {
      get: (_target, key) => Reflect.get(parsedData(answer), key),
      has: (_target, key) => Reflect.has(parsedData(answer), key),
      ownKeys: () => Reflect.ownKeys(parsedData(answer)),
      getOwnPropertyDescriptor: (_target, key) => Reflect.getOwnPropertyDescriptor(parsedData(answer), key),
      set: (_target, key, value) => Reflect.set(parsedData(answer), key, value),
      defineProperty: (_target, key, descriptor) => Reflect.defineProperty(parsedData(answer), key, descriptor),
      deleteProperty: (_target, key) => Reflect.deleteProperty(parsedData(answer), key),
    },
  );
}
