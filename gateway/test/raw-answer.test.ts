import { describe, expect, it } from 'vitest';
import type { FormattedExecutionResult } from 'graphql';
import { answerBodyOf, answerBodyOfCopy, resultWriter, unparsedBodyOf } from '../src/pass-through/raw-answer';

/**
 * The forwarded answer handed on as the subgraph wrote it (pass-through/raw-answer.ts): only an
 * answer that is data alone and that nothing read; everything else written as Apollo Server's
 * default writes it (JSON.stringify and a newline). pass-through.test.ts compares whole answers
 * of real subgraphs against the planned path; this checks the edges on hand-written texts.
 */
function written(text: string, touch?: (result: FormattedExecutionResult) => FormattedExecutionResult) {
  let unparsed = 0;
  const write = resultWriter(() => (unparsed += 1));
  const body = answerBodyOf(text) as FormattedExecutionResult;
  // As Apollo Server hands a single result to stringifyResult (runHttpQuery's orderExecutionResultFields): every key
  // present, undefined where the result has none.
  const result = touch ? touch(body) : body;
  const out = write({
    errors: result.errors,
    data: result.data,
    extensions: result.extensions,
  } as FormattedExecutionResult);
  return { out, unparsed, body };
}

const account = '{"data":{"account":{"id":"acc_1","balance":{"available":"-5"},"tags":["a","\\u0000é\\ud800"]}}}\n';

describe('a forwarded answer', () => {
  it('that is data alone is written as the subgraph wrote it, and equals what parsing and serialising writes', () => {
    const { out, unparsed } = written(account);
    expect(unparsed).toBe(1);
    expect(out).toBe(account);
    expect(out).toBe(`${JSON.stringify(JSON.parse(account))}\n`);
  });

  it('without the final newline gets it, as the gateway writes one', () => {
    expect(written(account.trimEnd()).out).toBe(account);
  });

  it('is parsed when it has errors, extensions, an alias named like them, or no data object', () => {
    for (const text of [
      '{"errors":[{"message":"no"}],"data":{"account":null}}\n',
      '{"data":{"account":null},"errors":[{"message":"no"}]}\n',
      '{"data":{"account":null},"extensions":{"trace":"x"}}\n',
      '{"data":{"errors":{"id":"acc_1"}}}\n',
      '{"data":null}\n',
    ]) {
      const { out, unparsed, body } = written(text);
      expect(unparsed, text).toBe(0);
      expect(body, text).toEqual(JSON.parse(text));
      expect(out, text).toBe(
        `${JSON.stringify({ errors: body.errors, data: body.data, extensions: body.extensions })}\n`,
      );
    }
  });

  it('whose data was read (the audit of a mutation) is written from its values, a change included', () => {
    const { out, unparsed } = written(account, (result) => {
      const data = result.data as { account: { id: string } };
      expect(data.account.id).toBe('acc_1');
      expect(Object.keys(data)).toEqual(['account']);
      data.account.id = 'changed';
      return result;
    });
    expect(unparsed).toBe(0);
    expect(out).toBe(account.replace('acc_1', 'changed'));
  });

  it('given errors or extensions after it came (by a plugin) is written with them, in the order Apollo writes', () => {
    const { out, unparsed } = written(account, (result) => ({
      ...result,
      errors: [{ message: 'late' }],
      extensions: { cost: 1 },
    }));
    expect(unparsed).toBe(0);
    const data = JSON.parse(account).data as unknown;
    expect(out).toBe(`${JSON.stringify({ errors: [{ message: 'late' }], data, extensions: { cost: 1 } })}\n`);
  });
});

describe("a kept copy's answer (the subgraph answered 'the same')", () => {
  const bytes = Buffer.from(account, 'utf8');
  // As Apollo Server hands it to stringifyResult: every key present, undefined where the result has none.
  const aloneResult = (body: FormattedExecutionResult) =>
    ({ errors: undefined, data: body.data, extensions: undefined }) as unknown as FormattedExecutionResult;

  it('is its bytes for the express lane, and its text, the same, for Apollo Server', () => {
    const body = answerBodyOfCopy(bytes) as FormattedExecutionResult;
    expect(unparsedBodyOf(body.data)).toBe(bytes);
    let unparsed = 0;
    const out = resultWriter(() => (unparsed += 1))(aloneResult(body));
    expect(unparsed).toBe(1);
    expect(out).toBe(account);
    expect(Buffer.from(out, 'utf8').equals(bytes)).toBe(true);
  });

  it('is parsed once read, and then written from its values, not its bytes', () => {
    const body = answerBodyOfCopy(bytes) as FormattedExecutionResult;
    const data = body.data as { account: { id: string; tags: string[] } };
    expect(data.account.tags).toEqual(['a', '\u0000é\ud800']);
    data.account.id = 'changed';
    expect(unparsedBodyOf(body.data)).toBeUndefined();
    const out = resultWriter(() => undefined)(aloneResult(body));
    expect(out).toBe(account.replace('acc_1', 'changed'));
  });

  it('leaves an answer that was never data alone to Apollo Server', () => {
    expect(unparsedBodyOf((answerBodyOf('{"data":null}\n') as FormattedExecutionResult).data)).toBeUndefined();
    expect(unparsedBodyOf({ account: null })).toBeUndefined();
  });
});
