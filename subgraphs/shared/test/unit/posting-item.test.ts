import { describe, expect, it } from 'vitest';
import type { PostingItem, PostingSpec, PrepareGroup } from '../../src/ledger/index';
import { inGroup } from '../../src/ledger/index';

/**
 * A posting item is decided one way, never two (engine/batch.ts PostingStep): a spec known up
 * front, a prepare of its own, or its part in a group, told by `kind`. The combinations that mean
 * nothing are type errors; npm test's typecheck fails if one of the `@ts-expect-error` lines below
 * ever compiles, i.e. if PostingItem lets the combination through again.
 */
describe('PostingItem', () => {
  const spec = { id: 'p', kind: 'TEST', legs: [] } as unknown as PostingSpec;
  const group: PrepareGroup<number, string> = {
    name: 'sample',
    run: async (_tx, inputs) => inputs.map(() => ({ proceed: true, spec })),
  };
  const finish = async (): Promise<string> => 'done';
  const prepare = async () => ({ proceed: true as const, spec });

  it('takes exactly one of spec, prepare and grouped, named by its kind', () => {
    const items: Array<PostingItem<string>> = [
      { kind: 'spec', spec, finish },
      { kind: 'prepare', prepare, finish },
      { kind: 'grouped', grouped: inGroup(group, 1), finish },
    ];
    // @ts-expect-error a spec beside a prepare: which decides the posting?
    const both: PostingItem<string> = { kind: 'spec', spec, prepare, finish };
    // @ts-expect-error a prepare beside a group check
    const twice: PostingItem<string> = { kind: 'grouped', grouped: inGroup(group, 1), prepare, finish };
    // @ts-expect-error neither: nothing says what to post
    const none: PostingItem<string> = { finish };
    // @ts-expect-error a kind that names one form while the item carries another's field
    const mislabelled: PostingItem<string> = { kind: 'prepare', spec, finish };
    // @ts-expect-error a form's field without its kind: nothing to narrow on
    const untagged: PostingItem<string> = { spec, finish };
    const steps = (item: object) => ['spec', 'prepare', 'grouped'].filter((k) => k in item);
    expect(items.map(steps)).toEqual([['spec'], ['prepare'], ['grouped']]);
    expect(items.map((item) => item.kind)).toEqual(['spec', 'prepare', 'grouped']);
    expect([both, twice, none, mislabelled, untagged].map((item) => steps(item).length)).toEqual([2, 2, 0, 1, 1]);
  });
});
