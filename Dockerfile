# syntax=docker/dockerfile:1
# Gatehouse: one image for every role (gateway, collector, evaluator, optimizer, or all in one).
# Node.js 24 runs the TypeScript sources directly (type stripping), so there is no compile step;
# the build stage only builds the console (Vite) into console/dist, and the runtime stage strips the
# sources' types once, ahead, so no process loads Node's type stripper (bin/stripped-sources.mjs).

FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# package.json's overrides link chdb's unserved platform packages to placeholders in packaging/.
COPY packaging/ packaging/
# Dependencies first for layer caching; scripts run after the sources are in place.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run build

FROM node:24-slim AS runtime
ENV NODE_ENV=production \
    GATEHOUSE_CONFIG=/etc/gatehouse/gatehouse.yaml
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY packaging/ packaging/
# npm's prepare hook runs this; without Vite (production install) it skips the console build.
COPY console/build-console.mjs console/build-console.mjs
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --chown=node:node . .
COPY --from=build --chown=node:node /app/console/dist console/dist
# Stripped sources in node_modules/.cache, owned by root like the rest of node_modules: the server reads them, cannot rewrite them.
RUN node bin/stripped-sources.mjs
RUN mkdir -p /var/lib/gatehouse/data /var/lib/gatehouse/keys && chown -R node:node /var/lib/gatehouse
# The image's unprivileged user: nothing in Gatehouse needs root.
USER node
EXPOSE 8787
VOLUME ["/var/lib/gatehouse/data"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8787/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "bin/gatehouse.mjs"]
CMD ["start", "--config", "/etc/gatehouse/gatehouse.yaml"]
