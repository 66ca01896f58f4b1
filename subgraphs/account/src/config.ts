import * as z from 'zod';
import { boolean, evenWithRefusedValues, intervalMs, port } from '@paygraph/shared/config/env';
import {
  subgraphRequirements,
  subgraphSecret,
  subgraphShape,
  subscriptionKeepAliveMs,
} from '@paygraph/shared/config/shared';
import { balancePollIntervalMsDefault, balanceSafetyPollIntervalMsDefault } from './limits';

/** Where the account subgraph listens unless ACCOUNT_PORT says otherwise. */
export const accountPortDefault = 4001;
/**
 * The account subgraph's configuration: the shared subgraph pieces, its port and secret, and how
 * its balance streams learn of new entries (a poll, or Redis hints backed by a slow poll).
 */
export const accountConfig = z
  .object({
    ...subgraphShape,
    port: port('ACCOUNT_PORT', accountPortDefault, {
      default: `\`${accountPortDefault}\``,
      meaning: "the account subgraph's port",
    }),
    secret: subgraphSecret('account'),
    balancePollIntervalMs: intervalMs('BALANCE_POLL_INTERVAL_MS', balancePollIntervalMsDefault, {
      default: `\`${balancePollIntervalMsDefault}\``,
      meaning: 'how often balance streams read new entries when tailing',
    }),
    balanceSafetyPollIntervalMs: intervalMs('BALANCE_SAFETY_POLL_INTERVAL_MS', balanceSafetyPollIntervalMsDefault, {
      default: `\`${balanceSafetyPollIntervalMsDefault}\``,
      meaning: 'with Redis, the slow poll that covers a lost hint',
    }),
    renderedAnswers: boolean('RENDERED_ANSWERS', true, {
      default: '`true`',
      meaning:
        "serve an account read again from its rendered answer while the account has not changed (docs/GATEWAY.md); `false` renders every read, as the bench's `--subgraph-env RENDERED_ANSWERS=false` measures",
    }),
    subscriptionKeepAliveMs,
  })
  .superRefine(subgraphRequirements('account'), evenWithRefusedValues);

export type AccountConfig = z.output<typeof accountConfig>;
