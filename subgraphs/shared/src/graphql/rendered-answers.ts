import type { FormattedExecutionResult } from 'graphql';

/**
 * Answers whose text is known before Apollo Server writes them, and answers whose text a plugin
 * wants once written. Apollo Server 5 writes every answer with its `stringifyResult` option,
 * `JSON.stringify(result) + '\n'` by default (runHttpQuery's prettyJSONStringify, over the result
 * reordered `{ errors, data, extensions }`); answerWriter is that, plus two hooks keyed by the
 * result's `data` object, which Apollo Server hands on as it is:
 *
 * - renderedData(text): a stand-in for the data of an answer already written once (a plugin's
 *   responseForOperation answers `{ data: renderedData(text) }`): written as `text`, never
 *   stringified again, as long as the answer has no errors and no extensions beside it. Anything
 *   that reads the stand-in gets the parsed text's values, and the answer is then written from them.
 * - whenWritten(data, onText): onText receives the answer's text once it is written, if it is data
 *   alone (no errors, no extensions): what a plugin that keeps rendered answers stores.
 */
interface Rendered {
  /** The answer as written, `{"data":…}\n`. */
  text: string;
  parsed?: Record<string, unknown>;
}

const renderedAnswers = new WeakMap<object, Rendered>();
const writtenWatchers = new WeakMap<object, (text: string) => void>();

/** The `data` of an answer whose text is `text` (as answerWriter wrote it: `{"data":{…}}\n`). */
export function renderedData(text: string): Record<string, unknown> {
  const rendered: Rendered = { text };
  const data = new Proxy<Record<string, unknown>>(
    {},
    {
      get: (_target, key) => Reflect.get(parsedOf(rendered), key),
      has: (_target, key) => Reflect.has(parsedOf(rendered), key),
      ownKeys: () => Reflect.ownKeys(parsedOf(rendered)),
      getOwnPropertyDescriptor: (_target, key) => Reflect.getOwnPropertyDescriptor(parsedOf(rendered), key),
      set: (_target, key, value) => Reflect.set(parsedOf(rendered), key, value),
      defineProperty: (_target, key, descriptor) => Reflect.defineProperty(parsedOf(rendered), key, descriptor),
      deleteProperty: (_target, key) => Reflect.deleteProperty(parsedOf(rendered), key),
    },
  );
  renderedAnswers.set(data, rendered);
  return data;
}

/** Calls onText with the answer's text once an answer with this `data` is written as data alone. */
export function whenWritten(data: object, onText: (text: string) => void): void {
  writtenWatchers.set(data, onText);
}

/** Apollo Server's stringifyResult: its default, but for the two hooks above. */
export function answerWriter(): (value: FormattedExecutionResult) => string {
  return (value) => {
    const data = typeof value.data === 'object' && value.data !== null ? value.data : undefined;
    const dataAlone = value.errors === undefined && value.extensions === undefined;
    const rendered = data === undefined ? undefined : renderedAnswers.get(data);
    if (rendered !== undefined) {
      if (dataAlone && rendered.parsed === undefined) return rendered.text;
      return `${JSON.stringify({ ...value, data: parsedOf(rendered) })}\n`;
    }
    const text = `${JSON.stringify(value)}\n`;
    const onText = data === undefined ? undefined : writtenWatchers.get(data);
    if (onText !== undefined && dataAlone) onText(text);
    return text;
  };
}

function parsedOf(rendered: Rendered): Record<string, unknown> {
  return (rendered.parsed ??= (JSON.parse(rendered.text) as { data: Record<string, unknown> }).data);
}
