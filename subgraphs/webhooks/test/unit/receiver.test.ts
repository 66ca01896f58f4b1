import { afterAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { startReceiver, type Receiver } from '../support/webhooks';

/**
 * The test receiver keeps to its own path (support/webhooks.ts startReceiver): a delivery of
 * another endpoint, sent to its port because the kernel reused an earlier receiver's, is answered
 * 404 and kept out of what the tests count. Before, such a delivery reached the verifier, which
 * threw in the receiver (58 uncaught "No matching signature found" in one clean-clone CI run).
 */
const secret = `whsec_${Buffer.from('a receiver test secret of 32 b.').toString('base64')}`;
const other = `whsec_${Buffer.from('another endpoint secret, 32 b..').toString('base64')}`;
const started: Receiver[] = [];

afterAll(async () => {
  for (const r of started) await r.close();
});

async function send(url: string, signingSecret: string, id: string): Promise<number> {
  const body = JSON.stringify({ type: 'balance.changed', timestamp: new Date().toISOString(), data: {} });
  const at = new Date();
  const signature = new Webhook(signingSecret).sign(id, at, body);
  const answer = await fetch(url, {
    method: 'POST',
    body,
    headers: {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': signature,
    },
  });
  return answer.status;
}

describe('the test receiver', () => {
  it("answers 404 to another endpoint's URL on its port, counting it a stray and verifying nothing", async () => {
    const hooks = await startReceiver();
    started.push(hooks);
    hooks.verifyWith(secret);
    expect(hooks.url).toBe(`http://127.0.0.1:${hooks.port}${hooks.path}`);
    expect(hooks.path).toMatch(/^\/hooks\/[0-9a-f-]{36}$/);
    // An earlier file's endpoint on the same port: its own path, its own secret.
    expect(await send(`http://127.0.0.1:${hooks.port}/hooks/earlier-endpoint`, other, 'msg_stray')).toBe(404);
    expect(await send(`http://127.0.0.1:${hooks.port}/hooks`, other, 'msg_stray_2')).toBe(404);
    expect(hooks).toMatchObject({ strays: 2, requests: 0, received: [] });
    expect(await send(`${hooks.url}-and-more`, other, 'msg_stray_3')).toBe(404);
    expect(hooks).toMatchObject({ strays: 3, requests: 0, received: [] });
    // Its own path and a path under it (two endpoints of one origin).
    expect(await send(hooks.url, secret, 'msg_own')).toBe(200);
    expect(await send(`${hooks.url}/healthy`, secret, 'msg_own_2')).toBe(200);
    expect(hooks.requests).toBe(2);
    expect(hooks.received.map((r) => r.id)).toEqual(['msg_own', 'msg_own_2']);
  });

  it('starts again where one was, at its port and path', async () => {
    const first = await startReceiver();
    const place = { port: first.port, path: first.path };
    await first.close();
    const back = await startReceiver(() => 200, place);
    started.push(back);
    expect(back.url).toBe(first.url);
    expect(await send(first.url, secret, 'msg_back')).toBe(200);
    expect(back.received.map((r) => r.id)).toEqual(['msg_back']);
  });
});
