# mailops on Node.js 24 LTS, which runs the TypeScript sources directly (type stripping).
# Stage 1: production dependencies only (no test tools, no second Node from the `node` package).
FROM node:24-bookworm-slim AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# Stage 2: the runtime, as the unprivileged `node` user (uid 1000).
FROM node:24-bookworm-slim
ENV NODE_ENV=production
# `mailops watch` fetches its repository with the real git client (https with CA certificates, or ssh).
# Unpinned on purpose: bookworm's security updates of these packages are wanted at every build.
# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends git openssh-client ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=dependencies /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY src ./src
COPY crds ./crds
COPY examples ./examples
# File mode keeps records and the fingerprint key here; mount a volume to keep them across runs.
# The controller keeps them in the cluster instead and needs no writable path.
ENV MAILOPS_STATE_DIR=/var/lib/mailops
RUN mkdir -p /var/lib/mailops && chown node:node /var/lib/mailops
USER 1000:1000
EXPOSE 8080 8081 8082
ENTRYPOINT ["node", "/app/bin/mailops.js"]
CMD ["--help"]
