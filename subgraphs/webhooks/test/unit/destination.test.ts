import { describe, expect, it } from 'vitest';
import { readConfig } from '@paygraph/shared/config/env';
import { webhooksConfig } from '../../src/config';
import { addressRefusal, destinationPolicyOf, embeddedIpv4, urlRefusal } from '../../src/services/destination';

const production = destinationPolicyOf(false);
const local = destinationPolicyOf(true);

describe('webhook destinations', () => {
  it('refuse internal addresses in every mode, loopback unless local destinations are allowed', () => {
    for (const address of [
      '10.0.0.1',
      '172.16.5.5',
      '192.168.0.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '224.0.0.1',
      'fd00:ec2::254',
      'fe80::1',
      '::ffff:10.0.0.1',
      '::ffff:169.254.169.254',
      '::',
    ]) {
      expect(addressRefusal(address, production), address).not.toBeNull();
      expect(addressRefusal(address, local), address).not.toBeNull();
    }
    for (const address of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) {
      expect(addressRefusal(address, production), address).toMatch(/loopback/);
      expect(addressRefusal(address, local), address).toBeNull();
    }
    for (const address of ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946', '8.8.8.8'])
      expect(addressRefusal(address, production), address).toBeNull();
  });

  it('refuse every IPv6 form that carries a private, link-local or loopback IPv4', () => {
    const refused: Array<[string, RegExp]> = [
      ['64:ff9b::a9fe:a9fe', /link-local-ipv4 in nat64/],
      ['64:ff9b::169.254.169.254', /link-local-ipv4 in nat64/],
      ['64:ff9b::a00:1', /private-ipv4 in nat64/],
      ['64:ff9b::7f00:1', /loopback-ipv4 in nat64/],
      ['64:ff9b:1::8.8.8.8', /nat64-local-use/],
      ['::ffff:a9fe:a9fe', /link-local-ipv4 in ipv4-mapped/],
      ['::ffff:7f00:1', /loopback-ipv4 in ipv4-mapped/],
      ['::ffff:0:a00:1', /private-ipv4 in ipv4-translated/],
      ['::a9fe:a9fe', /link-local-ipv4 in ipv4-compatible/],
      ['::10.0.0.1', /private-ipv4 in ipv4-compatible/],
      ['::127.0.0.1', /loopback-ipv4 in ipv4-compatible/],
      ['2002:a9fe:a9fe::1', /link-local-ipv4 in 6to4/],
      ['2002:c0a8:101::', /private-ipv4 in 6to4/],
      ['2002:7f00:1:5::1', /loopback-ipv4 in 6to4/],
      // Teredo: the client's address is stored inverted in the last 32 bits (10.0.0.1 → f5ff:fffe).
      ['2001:0:4136:e378:8000:63bf:f5ff:fffe', /private-ipv4 in teredo/],
      ['2001:0:4136:e378:8000:63bf:5601:5601', /link-local-ipv4 in teredo/],
      ['2001::a9fe:a9fe:0:0:0:0', /link-local-ipv4 in teredo-server/],
    ];
    for (const [address, rule] of refused) {
      expect(addressRefusal(address, production), address).toMatch(rule);
      if (!/loopback/.test(rule.source)) expect(addressRefusal(address, local), address).toMatch(rule);
    }
    // The same forms carrying public addresses go through.
    for (const address of [
      '64:ff9b::5db8:d822',
      '64:ff9b::8.8.8.8',
      '::ffff:8.8.8.8',
      '2002:5db8:d822::1',
      '2001:0:4136:e378:8000:63bf:a247:2bdd',
    ]) {
      expect(addressRefusal(address, production), address).toBeNull();
    }
    expect(embeddedIpv4('64:ff9b::a9fe:a9fe')).toEqual([{ form: 'nat64', ipv4: '169.254.169.254' }]);
    // As a URL's host (which the URL parser rewrites, ::ffff:127.0.0.1 → ::ffff:7f00:1), refused at registration too.
    for (const url of [
      'https://[64:ff9b::a9fe:a9fe]/',
      'https://[::ffff:127.0.0.1]/',
      'https://[2002:a9fe:a9fe::1]/',
      'https://[::10.0.0.1]/',
    ]) {
      expect(urlRefusal(url, production).ok, url).toBe(false);
    }
  });

  it('name the rule that refused, never the address', () => {
    expect(addressRefusal('10.1.2.3', production)).toBe('a private address (rule: private-ipv4)');
    expect(addressRefusal('169.254.169.254', production)).toBe(
      'a link-local or metadata address (rule: link-local-ipv4)',
    );
    expect(addressRefusal('64:ff9b::a9fe:a9fe', production)).toBe(
      'a link-local or metadata address (rule: link-local-ipv4 in nat64)',
    );
    for (const address of ['10.1.2.3', '169.254.169.254', '64:ff9b::a9fe:a9fe', 'fd00:ec2::254', '127.0.0.1']) {
      const refusal = addressRefusal(address, production)!;
      expect(refusal).not.toContain(address);
      expect(refusal).not.toMatch(/\d+\.\d+\.\d+\.\d+|[0-9a-f]*:[0-9a-f]*:/i);
    }
  });

  it('judge URLs at registration: https unless local destinations are allowed, no credentials, no internal names', () => {
    expect(urlRefusal('https://hooks.example.com/x', production).ok).toBe(true);
    expect(urlRefusal('http://hooks.example.com/x', production).ok).toBe(false);
    expect(urlRefusal('http://127.0.0.1:8080/x', local).ok).toBe(true);
    expect(urlRefusal('http://localhost:8080/x', local).ok).toBe(true);
    expect(urlRefusal('https://localhost/x', production).ok).toBe(false);
    expect(urlRefusal('https://user:pw@hooks.example.com/', production).ok).toBe(false);
    expect(urlRefusal('https://[::1]/', production).ok).toBe(false);
    expect(urlRefusal('https://169.254.169.254/', local).ok).toBe(false);
    expect(urlRefusal('gopher://hooks.example.com/', local).ok).toBe(false);
  });

  it('allow loopback and http only when WEBHOOK_ALLOW_LOCAL_DESTINATIONS says so, whatever NODE_ENV says', () => {
    const required = { SUBGRAPH_SECRET_WEBHOOKS: 'a-secret-of-thirty-two-characters-at-least' };
    for (const nodeEnv of ['development', 'test', 'production']) {
      const env = {
        ...required,
        NODE_ENV: nodeEnv,
        ...(nodeEnv === 'production'
          ? {
              WEBHOOK_SECRET_KEY: 'a-key-of-thirty-two-characters-at-the-least',
              LEDGER_MAC_KEY: 'k1:a-ledger-key-of-thirty-two-characters-at-least',
            }
          : {}),
      };
      const unset = destinationPolicyOf(readConfig(webhooksConfig, env).allowLocalDestinations);
      for (const url of [
        'http://127.0.0.1:8080/hooks',
        'https://127.0.0.1:8443/hooks',
        'http://localhost:8080/hooks',
        'https://[::1]/hooks',
        'http://hooks.example.com/',
      ]) {
        expect(urlRefusal(url, unset).ok, `${nodeEnv} ${url}`).toBe(false);
      }
      expect(addressRefusal('127.0.0.1', unset), nodeEnv).toMatch(/loopback/);
      const allowed = destinationPolicyOf(
        readConfig(webhooksConfig, { ...env, WEBHOOK_ALLOW_LOCAL_DESTINATIONS: 'true' }).allowLocalDestinations,
      );
      expect(urlRefusal('http://127.0.0.1:8080/hooks', allowed).ok, nodeEnv).toBe(true);
    }
  });
});
