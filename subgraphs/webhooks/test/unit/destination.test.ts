import { describe, expect, it } from 'vitest';
import { addressRefusal, urlRefusal } from '../../src/services/destination';

const production = { allowLoopback: false, requireHttps: true };
const development = { allowLoopback: true, requireHttps: false };

describe('webhook destinations', () => {
  it('refuse internal addresses in every mode, loopback in production only', () => {
    for (const address of ['10.0.0.1', '172.16.5.5', '192.168.0.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1', 'fd00:ec2::254', 'fe80::1', '::ffff:10.0.0.1', '::ffff:169.254.169.254', '::']) {
      expect(addressRefusal(address, production), address).not.toBeNull();
      expect(addressRefusal(address, development), address).not.toBeNull();
    }
    for (const address of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) {
      expect(addressRefusal(address, production), address).toMatch(/loopback/);
      expect(addressRefusal(address, development), address).toBeNull();
    }
    for (const address of ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946', '8.8.8.8']) expect(addressRefusal(address, production), address).toBeNull();
  });

  it('judge URLs at registration: https in production, no credentials, no internal names', () => {
    expect(urlRefusal('https://hooks.example.com/x', production).ok).toBe(true);
    expect(urlRefusal('http://hooks.example.com/x', production).ok).toBe(false);
    expect(urlRefusal('http://127.0.0.1:8080/x', development).ok).toBe(true);
    expect(urlRefusal('http://localhost:8080/x', development).ok).toBe(true);
    expect(urlRefusal('https://localhost/x', production).ok).toBe(false);
    expect(urlRefusal('https://user:pw@hooks.example.com/', production).ok).toBe(false);
    expect(urlRefusal('https://[::1]/', production).ok).toBe(false);
    expect(urlRefusal('https://169.254.169.254/', development).ok).toBe(false);
    expect(urlRefusal('gopher://hooks.example.com/', development).ok).toBe(false);
  });
});
