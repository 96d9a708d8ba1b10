# syntax=docker/dockerfile:1
# panic-api: the HTTP API and the delivery worker. Build: docker build -t panic-system-api .

# 1. build: the type check CI runs, then the compiled JavaScript (dist/).
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run typecheck && npm run build

# 2. production dependencies only (no TypeScript, no tsx, no test tools).
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# 3. runtime: the production node_modules and the compiled service, as a user without privileges.
FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production APP_ENV=production PORT=8000 DATA_DIR=/data
WORKDIR /app
RUN groupadd --system panic \
 && useradd --system --gid panic --home-dir /app --no-create-home --shell /usr/sbin/nologin panic \
 && mkdir -p /data \
 && chown panic:panic /data
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/bin ./bin
COPY --from=build /app/dist ./dist
# the built-in message templates (TEMPLATES_DIR overrides them file by file)
COPY --from=build /app/templates ./templates
USER panic
# The embedded PostgreSQL (PGlite) keeps its data here when DATABASE_URL is not set.
VOLUME /data
EXPOSE 8000
# No curl in slim images: node's own fetch asks /health.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8000) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "bin/panic-api.js", "serve"]
