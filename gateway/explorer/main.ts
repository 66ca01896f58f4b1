import { createElement } from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { createGraphiQLFetcher, type Fetcher } from '@graphiql/toolkit';
import 'graphiql/style.css';

/**
 * The Explorer the gateway serves at /graphql to a browser in development: GraphiQL, bundled by
 * `npm run build` (scripts/lib/build.ts) with its styles and fonts, so the page needs nothing
 * but the gateway. Queries and mutations go over HTTP POST to this same URL, subscriptions over
 * graphql-ws to the same path, and the schema comes from introspection.
 */
/** What the Authorization header holds until a token is pasted in. */
const authorizationPlaceholder = 'Bearer <paste the token npm start printed>';
const endpoint = new URL(window.location.pathname, window.location.href);
const subscriptionUrl = endpoint.href.replace(/^http/, 'ws');
const fetchers = createGraphiQLFetcher({ url: endpoint.href, subscriptionUrl });

/**
 * The headers editor's headers go with every HTTP request, and for a subscription they become the
 * graphql-ws connectionParams, where the gateway reads `authorization` in lower case (the
 * contract): names are lower-cased for both. A header still holding the placeholder is not sent.
 */
const fetcher: Fetcher = (params, options) => {
  if (options?.headers === undefined) return fetchers(params, options);
  const headers = Object.fromEntries(
    Object.entries(options.headers)
      .filter(([, value]) => value !== authorizationPlaceholder)
      .map(([name, value]) => [name.toLowerCase(), value]),
  );
  return fetchers(params, { ...options, headers });
};

const defaultHeaders = JSON.stringify({ Authorization: authorizationPlaceholder }, null, 2);

const root = document.getElementById('explorer');
if (root === null) throw new Error('the Explorer page has no #explorer element');
createRoot(root).render(
  createElement(GraphiQL, {
    fetcher,
    defaultHeaders,
    // Open on the headers, where the token goes first.
    defaultEditorToolsVisibility: 'headers',
    isHeadersEditorEnabled: true,
  }),
);
