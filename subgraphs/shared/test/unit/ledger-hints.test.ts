import { describe, it, expect } from 'vitest';
import { newId, toLogicalShard } from '@paygraph/shared/ids';
import type { EntryDraft } from '@paygraph/shared/ledger/posting-rules';
import { decodeHints, encodeHints } from '@paygraph/shared/events/ledger-hints';
import { RespError, encodeCommand, parseResp, parseRedisUrl } from '@paygraph/shared/events/redis-pubsub';

const a = newId('account', toLogicalShard(3));
const b = newId('account', toLogicalShard(50));

function entry(accountId: string, sequence: bigint): EntryDraft {
  return { id: newId('entry', toLogicalShard(3)), accountId, sequence, postingId: 'p', bucket: 'AVAILABLE', amount: 1n, direction: 'CREDIT', balanceAfter: 1n, currency: 'USD' };
}

describe('ledger hints', () => {
  it('carry the highest sequence per account of a batch', () => {
    const message = encodeHints([entry(a, 4n), entry(b, 9n), entry(a, 6n), entry(a, 5n)]);
    expect(decodeHints(message)).toEqual([{ accountId: a, sequence: 6n }, { accountId: b, sequence: 9n }]);
  });

  it('drop whatever they cannot read instead of failing', () => {
    expect(decodeHints('not json')).toEqual([]);
    expect(decodeHints('{"a":1}')).toEqual([]);
    expect(decodeHints(JSON.stringify([[a, '7'], ['acc_bad', '1'], [b, 3], [b, '0'], [b]]))).toEqual([{ accountId: a, sequence: 7n }]);
  });
});

describe('RESP', () => {
  it('encodes commands as arrays of bulk strings, counting bytes not characters', () => {
    expect(encodeCommand(['PUBLISH', 'ch', 'é']).toString('utf8')).toBe('*3\r\n$7\r\nPUBLISH\r\n$2\r\nch\r\n$2\r\né\r\n');
  });

  it('reads pushed messages only once they are complete, whatever the chunking', () => {
    const wire = Buffer.from('*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n:42\r\n-ERR no\r\n+OK\r\n$-1\r\n', 'utf8');
    for (let cut = 0; cut < 30; cut++) expect(parseResp(wire.subarray(0, cut), 0)).toBeNull();
    const values: unknown[] = [];
    let offset = 0;
    for (;;) {
      const parsed = parseResp(wire, offset);
      if (!parsed) break;
      values.push(parsed.value);
      offset = parsed.next;
    }
    expect(offset).toBe(wire.length);
    expect(values).toEqual([['message', 'ch', 'hello'], 42, new RespError('ERR no'), 'OK', null]);
  });

  it('reads redis:// URLs with and without credentials', () => {
    expect(parseRedisUrl('redis://127.0.0.1:6380')).toEqual({ host: '127.0.0.1', port: 6380, username: null, password: null });
    expect(parseRedisUrl('redis://:s%40cret@cache')).toEqual({ host: 'cache', port: 6379, username: null, password: 's@cret' });
    expect(() => parseRedisUrl('rediss://cache')).toThrow(/not a redis:\/\/ URL/);
  });
});
