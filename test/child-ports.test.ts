import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { subgraphSecretVariable } from '@paygraph/shared/gateway-trust';
import { testSubgraphSecrets } from './support/env';
import { freePorts, spawnService } from './support/processes';

/**
 * A spawned service is the one the test talks to (test/support/processes.ts). spawnService used
 * to pick a free port, let it go and hand it to the child, then take any 200 on that port's
 * /health as the child's: when another process bound the port in between, the child died with
 * EADDRINUSE (exit code 1) while the test sent its request to the other process. It happened once
 * in a full run (merchant-payout's "a sweep killed after its debit": the child exited with code 1,
 * not SIGKILLed at its failpoint). Here another server holds the port and answers 200 to
 * everything, deterministically: the spawn must fail with the child's own words, not succeed.
 */
let decoy: Server;
let decoyPort: number;

beforeAll(async () => {
  decoy = createServer((_request, response) => response.end('not the child'));
  await new Promise<void>((resolve) => decoy.listen(0, '127.0.0.1', resolve));
  decoyPort = (decoy.address() as AddressInfo).port;
});

afterAll(async () => {
  decoy.closeAllConnections();
  await new Promise((resolve) => decoy.close(resolve));
});

describe('a spawned service', () => {
  it('is not mistaken for another process answering /health on its port', async () => {
    const env = { [subgraphSecretVariable('transaction')]: testSubgraphSecrets.transaction, RELAY_ENABLED: 'false' };
    await expect(spawnService('transaction', env, decoyPort)).rejects.toThrow(
      /exited before it was ready[\s\S]*EADDRINUSE/,
    );
  });
});

describe('ports picked together', () => {
  it('are distinct: each is held until the last is bound (a Galera cluster once got one port for two nodes)', async () => {
    // Bound and let go one by one, 200 picks of port 0 repeat one more often than not: the
    // kernel may hand a port just let go to the next bind.
    const ports = await freePorts(200);
    expect(new Set(ports).size).toBe(200);
  });
});
