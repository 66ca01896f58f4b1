# One image for every paygraph process; docker-compose.yml picks the entry file per service.
# TypeScript runs through tsx (a runtime dependency), so there is no build step.
FROM node:20-slim

WORKDIR /app
ENV NODE_ENV=production
# V8 flags of every process (scripts/lib/node-flags.ts says why; test/node-flags.test.ts keeps them equal).
ENV NODE_OPTIONS=--max-semi-space-size=32

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
CMD ["node", "--import", "tsx", "gateway/src/main.ts"]
