import { Webhook } from 'standardwebhooks';

/**
 * Standard Webhooks signatures with the reference library: "v1,<base64 HMAC-SHA256 of
 * `${id}.${timestamp}.${body}`>". During a rotation's overlap the message carries one signature
 * per valid secret, space-separated, so a receiver holding either secret verifies it.
 */
export interface Signing {
  headers(id: string, at: Date, body: string): Record<string, string>;
}

export function signerFor(secrets: readonly string[]): Signing {
  const hooks = secrets.map((secret) => new Webhook(secret));
  return {
    headers: (id, at, body) => ({
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': hooks.map((hook) => hook.sign(id, at, body)).join(' '),
    }),
  };
}
