import { envInt, envString } from '@paygraph/shared/config';
import { tokenSettingsFromEnv } from '@paygraph/shared/identity';
import { listen } from '@paygraph/shared/server/http';
import { createGateway, subgraphUrlsFromEnv } from './server';

const gateway = await createGateway(tokenSettingsFromEnv(), subgraphUrlsFromEnv());
const port = await listen(gateway.http, envInt('PORT', 4000), envString('GATEWAY_HOST', '0.0.0.0'));
console.log(`gateway listening on http://localhost:${port}/graphql`);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  gateway.http.close();
  gateway.http.closeIdleConnections();
  await gateway.apollo.stop();
  process.exit(0);
}
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
