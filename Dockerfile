# healbot's container image: a build stage (TypeScript → dist/, then production dependencies
# only) and a slim runtime stage holding node, those dependencies and dist/, run as a non-root user.
#
#   docker build -t healbot .
#
# The build stage installs dependencies with `npm ci` from the npm registry. Where the build
# cannot reach a registry (air-gapped builders, healbot's own test suite), put a node_modules
# installed by `npm ci` on the same platform (linux/amd64, glibc) under vendor/ first
# (`npm run image:vendor`); the build then uses it and asks npm for nothing.
# NODE_IMAGE must be a Debian-based Node 20 image: better-sqlite3's native module needs glibc.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# One COPY and one RUN: every layer is a full copy of the file tree on some storage drivers,
# and node_modules is most of it.
COPY . .
RUN if [ -d vendor/node_modules ]; then echo "using vendor/node_modules: no registry access" && mv vendor/node_modules node_modules; \
    else npm ci --no-audit --no-fund --ignore-scripts && npm rebuild better-sqlite3; fi \
    && node node_modules/typescript/bin/tsc -p tsconfig.build.json \
    && npm prune --omit=dev --offline --no-audit --no-fund \
    && mkdir -p out/bin state \
    && chmod 755 dist/src/cli/main.js \
    && ln -s ../dist/src/cli/main.js out/bin/healbot \
    && mv package.json node_modules dist out/

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    PATH=/app/bin:$PATH \
    HEALBOT_HEALTHZ_URL=http://127.0.0.1:8080/healthz
USER 10001:10001
# Set HEALBOT_HEALTHZ_URL when server.listen is not port 8080.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch(process.env.HEALBOT_HEALTHZ_URL,{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["healbot"]
CMD ["serve", "--config", "/etc/healbot/healbot.yml"]
# The state directory (store.path: /var/lib/healbot/healbot.db) belongs to the runtime user;
# the program does not (COPY writes root-owned files, whatever USER says).
COPY --from=build --chown=10001:10001 /app/state /var/lib/healbot
COPY --from=build /app/out /app
