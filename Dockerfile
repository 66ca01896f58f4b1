# One image for every paygraph process; docker-compose.yml picks the compiled file per service.
# The build stage installs every dependency and compiles (npm run build: esbuild bundles each
# process into dist/<name>.js with a source map; scripts/lib/build.ts says why esbuild). The
# last holds the production dependencies, dist/ and the files the processes read at run time
# (the GraphQL schemas and each part's migrations), and runs `node dist/<name>.js`: no
# TypeScript, no tsx. test/docker-compose.test.ts starts a process from this layout.

# Node 24, an LTS line with security fixes until April 2028 (Node 20's ended in April 2026);
# .ci/run runs the process-level tests on the registry's node@24 too, so what ships is what is tested.
FROM node:24-slim AS manifests
WORKDIR /app
# Manifests first, so that each stage's dependency layer is rebuilt only when they change.
COPY package.json package-lock.json .npmrc ./
COPY subgraphs/shared/package.json subgraphs/shared/
COPY subgraphs/account/package.json subgraphs/account/
COPY subgraphs/transaction/package.json subgraphs/transaction/
COPY subgraphs/settlement/package.json subgraphs/settlement/
COPY subgraphs/webhooks/package.json subgraphs/webhooks/
COPY gateway/package.json gateway/
COPY clients/typescript/package.json clients/typescript/

FROM manifests AS build
RUN npm ci
COPY . .
RUN npm run build

FROM manifests
ENV NODE_ENV=production
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build /app/dist dist
COPY schema schema
COPY subgraphs/shared/drizzle subgraphs/shared/drizzle
COPY subgraphs/transaction/drizzle subgraphs/transaction/drizzle
COPY subgraphs/settlement/drizzle subgraphs/settlement/drizzle
COPY subgraphs/webhooks/drizzle subgraphs/webhooks/drizzle
COPY gateway/drizzle gateway/drizzle
# The manifest of the contract's operations, the first trusted documents (npm run build writes it).
COPY gateway/trusted-documents gateway/trusted-documents

USER node
EXPOSE 4000 4001 4002 4003 4004
# The gateway and each subgraph run with the Node options of scripts/lib/node-options.ts (a capped
# heap, so that V8 collects the old generation before it doubles, docs/PERFORMANCE.md "Memory"; no
# memory reducer, so that a quiet subgraph does not collect while the others serve payments; and
# source maps, so that a stack trace names the .ts line).
CMD ["node", "--max-old-space-size=1024", "--max-semi-space-size=32", "--min-semi-space-size=32", "--no-memory-reducer", "--enable-source-maps", "dist/gateway.js"]
