import { describe, it, expect } from 'vitest';
import { pino } from 'pino';
import type { Logger } from '@paygraph/shared/log';
import { EndingsInFlight } from '../../src/services/endings-in-flight';

/** A logger that keeps its lines, to see a failed ending reported rather than thrown. */
function keptLog(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: pino<never>({}, { write: (line: string) => void lines.push(line) }), lines };
}

function gate(): { promise: Promise<void>; open: () => void; fail: (error: Error) => void } {
  let open = () => undefined as void;
  let fail = (_: Error) => undefined as void;
  const promise = new Promise<void>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return { promise, open, fail };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('endings in flight', () => {
  it('holds at most its limit; a reader waits for the endings it names and no others', async () => {
    const { log } = keptLog();
    const endings = new EndingsInFlight(2, log);
    const [a, b] = [gate(), gate()];
    endings.run('pay_a', () => a.promise);
    expect(endings.hasRoom()).toBe(true);
    endings.run('pay_b', () => b.promise);
    expect(endings.hasRoom()).toBe(false);
    expect(() => endings.run('pay_c', async () => undefined)).toThrow(/endingsInFlightMax/);
    expect(endings.anyOf(['pay_x', 'pay_b'])).toBe(true);
    let readA = false;
    const waitA = endings.settled(['pay_a', 'pay_x']).then(() => (readA = true));
    b.open();
    await tick();
    expect([readA, endings.size, endings.anyOf(['pay_b'])]).toEqual([false, 1, false]);
    a.open();
    await waitA;
    expect([endings.size, endings.hasRoom()]).toEqual([0, true]);
  });

  it('reports a failed ending and lets its readers and the drain go on', async () => {
    const { log, lines } = keptLog();
    const endings = new EndingsInFlight(4, log);
    const failing = gate();
    endings.run('pay_f', () => failing.promise);
    const drained = endings.drain();
    failing.fail(new Error('shard unavailable'));
    await endings.settled(['pay_f']);
    await drained;
    expect(endings.size).toBe(0);
    expect(lines.join('')).toMatch(/pay_f: its ending failed after its answer, the relay will end it/);
  });

  it('waits for both endings of one payment (a replay beside its request), whichever settles last', async () => {
    const { log } = keptLog();
    for (const lastOpened of ['first', 'second'] as const) {
      const endings = new EndingsInFlight(4, log);
      const [first, second] = [gate(), gate()];
      endings.run('pay_r', () => first.promise);
      endings.run('pay_r', () => second.promise);
      (lastOpened === 'first' ? second : first).open();
      await tick();
      expect(endings.anyOf(['pay_r']), `${lastOpened} still running`).toBe(true);
      (lastOpened === 'first' ? first : second).open();
      await endings.settled(['pay_r']);
      await tick();
      expect(endings.size).toBe(0);
    }
  });
});
