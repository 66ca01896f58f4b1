import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import type { RouteHandler } from '@paygraph/shared/server/http';

/**
 * The Explorer: GraphiQL, which `npm run build` bundles into dist/explorer/ (scripts/lib/build.ts),
 * served by the gateway itself as the landing page of /graphql in a browser, in place of Apollo's
 * Sandbox, which loads from a CDN and so shows an empty page without internet. Nothing on the page
 * is fetched from anywhere but the gateway. In production there is none, as there is no
 * introspection: Apollo's landing page is disabled too.
 */
const explorerDir = fileURLToPath(new URL('../../dist/explorer/', import.meta.url));

/** The bundle's files, by the path the page asks them at. */
const assets = {
  '/explorer/explorer.js': { file: 'explorer.js', contentType: 'text/javascript; charset=utf-8' },
  '/explorer/explorer.css': { file: 'explorer.css', contentType: 'text/css; charset=utf-8' },
} as const;

export interface Explorer {
  /** Apollo's landing page: the Explorer's page, or none. */
  plugin: ApolloServerPlugin;
  /** The bundle's files, for the gateway's HTTP server. */
  routes: Record<string, RouteHandler>;
}

const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>paygraph Explorer</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/explorer/explorer.css">
<style>html, body, #explorer { height: 100%; margin: 0; }</style>
</head>
<body>
<div id="explorer"></div>
<script type="module" src="/explorer/explorer.js"></script>
</body>
</html>
`;

const notBuiltPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>paygraph Explorer</title><link rel="icon" href="data:,"></head>
<body><p>The Explorer is not built: run <code>npm run build</code> (npm start and npm test build it when it is missing), then reload.</p></body>
</html>
`;

function landingPage(html: string): ApolloServerPlugin {
  return {
    async serverWillStart() {
      return {
        async renderLandingPage() {
          return { html };
        },
      };
    },
  };
}

/**
 * The files are read once, at start-up. A gateway started before the bundle exists says so on its
 * page rather than serving an empty one.
 */
export function explorer(production: boolean, warn: (message: string) => void): Explorer {
  if (production) return { plugin: ApolloServerPluginLandingPageDisabled(), routes: {} };
  const missing = Object.values(assets)
    .map((a) => a.file)
    .filter((file) => !existsSync(`${explorerDir}${file}`));
  if (missing.length > 0) {
    warn(`the Explorer is not built (no ${missing.join(', ')} in ${explorerDir}): run npm run build`);
    return { plugin: landingPage(notBuiltPage), routes: {} };
  }
  const routes: Record<string, RouteHandler> = {};
  for (const [path, { file, contentType }] of Object.entries(assets)) {
    const body = readFileSync(`${explorerDir}${file}`);
    routes[path] = (_req, res) => {
      res.writeHead(200, { 'content-type': contentType, 'content-length': body.length, 'cache-control': 'no-cache' });
      res.end(body);
    };
  }
  return { plugin: landingPage(page), routes };
}
