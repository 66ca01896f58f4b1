# One image for every paygraph process; docker-compose.yml picks the entry file per service.
# TypeScript runs through tsx (a runtime dependency), so there is no build step.
FROM node:20-slim

WORKDIR /app
ENV NODE_ENV=production

# Manifests first, so the dependency layer is rebuilt only when they change.
COPY package.json package-lock.json .npmrc ./
COPY subgraphs/shared/package.json subgraphs/shared/
COPY subgraphs/account/package.json subgraphs/account/
COPY subgraphs/transaction/package.json subgraphs/transaction/
COPY subgraphs/settlement/package.json subgraphs/settlement/
COPY gateway/package.json gateway/
RUN npm ci --omit=dev && npm cache clean --force

COPY . .

USER node
EXPOSE 4000 4001 4002 4003
# The gateway and each subgraph run with the Node options of scripts/lib/node-options.ts (a capped
# heap, so that V8 collects the old generation before it doubles; docs/PERFORMANCE.md, "Memory").
CMD ["node", "--max-old-space-size=1024", "--max-semi-space-size=32", "--min-semi-space-size=32", "--import", "tsx", "gateway/src/main.ts"]
