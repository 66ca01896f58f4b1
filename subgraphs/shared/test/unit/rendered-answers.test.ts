import { describe, expect, it } from 'vitest';
import type { FormattedExecutionResult } from 'graphql';
import { answerWriter, renderedData, whenWritten } from '../../src/graphql/rendered-answers';

/**
 * The subgraphs' stringifyResult (graphql/rendered-answers.ts): Apollo Server's own writing
 * (JSON.stringify + newline) for every answer, but an answer already rendered, written as its
 * text while nothing read or changed it, and an answer a plugin keeps, handed to it once written.
 */
const write = answerWriter();

describe('answerWriter', () => {
  it("writes an answer as Apollo Server's prettyJSONStringify does", () => {
    // Apollo Server hands it { errors, data, extensions } with the absent ones undefined (runHttpQuery).
    const value = { errors: undefined, data: { a: 1, b: ['x', null] }, extensions: undefined };
    expect(write(value as unknown as FormattedExecutionResult)).toBe(`${JSON.stringify(value)}\n`);
    expect(write({ errors: [{ message: 'no' }], data: null })).toBe('{"errors":[{"message":"no"}],"data":null}\n');
  });

  it('writes a rendered answer as its text, and from its values once read or beside errors', () => {
    const text = '{"data":{"account":{"id":"a","n":"1"}}}\n';
    expect(write({ data: renderedData(text) })).toBe(text);
    const read = renderedData(text);
    expect((read.account as { id: string }).id).toBe('a');
    expect(Object.keys(read)).toEqual(['account']);
    (read.account as { id: string }).id = 'b';
    expect(write({ data: read })).toBe('{"data":{"account":{"id":"b","n":"1"}}}\n');
    expect(write({ errors: [{ message: 'late' }], data: renderedData(text) })).toBe(
      '{"errors":[{"message":"late"}],"data":{"account":{"id":"a","n":"1"}}}\n',
    );
  });

  it('hands a watched answer its text once written, only when it is data alone', () => {
    const seen: string[] = [];
    const alone = { account: { id: 'a' } };
    whenWritten(alone, (text) => seen.push(text));
    const written = write({ data: alone });
    expect(seen).toEqual([written]);
    const withErrors = { account: null };
    whenWritten(withErrors, (text) => seen.push(text));
    write({ errors: [{ message: 'FORBIDDEN' }], data: withErrors });
    const withExtensions = { account: { id: 'c' } };
    whenWritten(withExtensions, (text) => seen.push(text));
    write({ data: withExtensions, extensions: { ftv1: 'x' } });
    expect(seen).toEqual([written]);
  });
});
