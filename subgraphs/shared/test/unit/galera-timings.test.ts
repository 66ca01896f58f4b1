import { describe, expect, it } from 'vitest';
import {
  describeSlowFailover,
  galeraFailoverEstimateMs,
  galeraGroupTimingsRecommended,
  galeraTimingsOf,
  parseGaleraDuration,
  parseProviderOptions,
  slowFailoverOf,
} from '../../src/shards/galera-timings';
import { shardFailoverBudgetMs } from '../../src/limits';

/**
 * A Galera node's group timings, read from wsrep_provider_options, against the shard's failover
 * budget (issue 31, item 9). The start-up read on real nodes is in test/galera-failover.isolated.test.ts.
 */
/** How a MariaDB 10.11 node with galera-4 and no evs settings shows them (abridged, in its order and spacing). */
const untuned =
  'base_dir = /var/lib/mysql/; base_host = 127.0.0.1; base_port = 4567; cert.log_conflicts = no; debug = no; ' +
  'evs.auto_evict = 0; evs.causal_keepalive_period = PT1S; evs.debug_log_mask = 0x1; evs.delay_margin = PT1S; ' +
  'evs.delayed_keep_period = PT30S; evs.inactive_check_period = PT0.5S; evs.inactive_timeout = PT15S; evs.info_log_mask = 0; ' +
  'evs.install_timeout = PT7.5S; evs.join_retrans_period = PT1S; evs.keepalive_period = PT1S; evs.max_install_timeouts = 3; ' +
  'evs.send_window = 4; evs.stats_report_period = PT1M; evs.suspect_timeout = PT5S; evs.view_forget_timeout = P1D; ' +
  'gcache.dir = /var/lib/mysql/; gmcast.listen_addr = tcp://0.0.0.0:4567; socket.ssl_cipher = ; socket.ssl_compression = YES';

describe('wsrep_provider_options', () => {
  it('reads `key = value` entries separated by semicolons, spaces or none, empty values and stray text included', () => {
    const options = parseProviderOptions(untuned);
    expect(options.get('evs.suspect_timeout')).toBe('PT5S');
    expect(options.get('gmcast.listen_addr')).toBe('tcp://0.0.0.0:4567');
    expect(options.get('socket.ssl_cipher')).toBe('');
    expect(
      parseProviderOptions('evs.suspect_timeout=PT0.8S;EVS.Inactive_Timeout = PT1.6S;;junk; =x;').get(
        'evs.inactive_timeout',
      ),
    ).toBe('PT1.6S');
    expect([...parseProviderOptions('').keys()]).toEqual([]);
  });

  it('reads Galera durations in ISO 8601 and in plain seconds, and nothing else', () => {
    const cases: Array<[string, number | null]> = [
      ['PT5S', 5_000],
      ['PT1.5S', 1_500],
      ['PT0.8S', 800],
      ['pt0.2s', 200],
      ['PT.5S', 500],
      [' PT15S ', 15_000],
      ['PT1M', 60_000],
      ['PT1M30S', 90_000],
      ['PT2H', 7_200_000],
      ['P1D', 86_400_000],
      ['P1DT1S', 86_401_000],
      ['1.5', 1_500],
      ['5', 5_000],
      ['', null],
      ['P', null],
      ['PT', null],
      ['P1DT', null],
      ['PT5', null],
      ['5S', null],
      ['P1Y', null],
      ['P1M', null],
      ['PT-1S', null],
      ['PT1S junk', null],
    ];
    for (const [text, ms] of cases) expect(parseGaleraDuration(text), text).toBe(ms);
  });

  it('gives the timings of a Galera node, its defaults for keys left out, and none for a server without Galera', () => {
    expect(galeraTimingsOf(parseProviderOptions(untuned))).toEqual({
      suspectTimeoutMs: 5_000,
      inactiveTimeoutMs: 15_000,
      inactiveCheckPeriodMs: 500,
    });
    expect(galeraTimingsOf(parseProviderOptions(galeraGroupTimingsRecommended))).toEqual({
      suspectTimeoutMs: 800,
      inactiveTimeoutMs: 1_600,
      inactiveCheckPeriodMs: 200,
    });
    expect(galeraTimingsOf(parseProviderOptions('evs.version = 1'))).toEqual({
      suspectTimeoutMs: 5_000,
      inactiveTimeoutMs: 15_000,
      inactiveCheckPeriodMs: 500,
    });
    // wsrep off (MariaDB shows an empty value), MySQL (no such variable): not judged.
    expect(galeraTimingsOf(parseProviderOptions(''))).toBeNull();
    expect(galeraTimingsOf(parseProviderOptions('gcache.size = 128M'))).toBeNull();
    // A value that does not parse is not guessed at.
    expect(galeraTimingsOf(parseProviderOptions('evs.suspect_timeout = soon'))).toBeNull();
  });
});

describe('the failover budget', () => {
  it("passes the recommended timings and names Galera's defaults, with the values read and the settings to change", () => {
    const recommended = galeraTimingsOf(parseProviderOptions(galeraGroupTimingsRecommended))!;
    // 0.8 s suspicion + 0.2 s check + 1 s of our own: 2 s, within 3 s (measured 2.1 s).
    expect(galeraFailoverEstimateMs(recommended)).toBe(2_000);
    expect(slowFailoverOf('paygraph_s0', 0, recommended)).toBeNull();
    const defaults = galeraTimingsOf(parseProviderOptions(untuned))!;
    // 5 s + 0.5 s + 1 s: the 6.5 s measured with Galera's defaults.
    const warning = slowFailoverOf('paygraph_s0', 2, defaults);
    expect(warning).toMatchObject({
      warning: 'GALERA_FAILOVER_SLOW',
      shard: 'paygraph_s0',
      node: 2,
      suspectTimeoutMs: 5_000,
      inactiveTimeoutMs: 15_000,
      inactiveCheckPeriodMs: 500,
      failoverEstimateMs: 6_500,
      failoverBudgetMs: shardFailoverBudgetMs,
    });
    expect(warning!.change).toContain(galeraGroupTimingsRecommended);
    const line = describeSlowFailover(warning!);
    for (const part of [
      'paygraph_s0',
      'evs.suspect_timeout 5000 ms',
      'evs.inactive_timeout 15000 ms',
      '6500 ms',
      `${shardFailoverBudgetMs} ms`,
      'evs.suspect_timeout=PT0.8S',
    ]) {
      expect(line).toContain(part);
    }
  });

  it("takes the shorter of suspicion and inactivity, and compares at the budget's edge", () => {
    // A cluster that declares a node dead at 1.5 s without waiting for everyone's suspicion.
    expect(
      galeraFailoverEstimateMs({ suspectTimeoutMs: 5_000, inactiveTimeoutMs: 1_500, inactiveCheckPeriodMs: 500 }),
    ).toBe(3_000);
    expect(
      slowFailoverOf('s', 0, { suspectTimeoutMs: 5_000, inactiveTimeoutMs: 1_500, inactiveCheckPeriodMs: 500 }),
    ).toBeNull();
    expect(
      slowFailoverOf('s', 0, { suspectTimeoutMs: 1_501, inactiveTimeoutMs: 3_000, inactiveCheckPeriodMs: 500 })
        ?.failoverEstimateMs,
    ).toBe(3_001);
    expect(
      slowFailoverOf('s', 0, { suspectTimeoutMs: 800, inactiveTimeoutMs: 1_600, inactiveCheckPeriodMs: 200 }, 1_500)
        ?.failoverBudgetMs,
    ).toBe(1_500);
  });
});
