# mailops on Node.js 24 LTS, which runs the TypeScript sources directly (type stripping).
FROM node:24-bookworm-slim

WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# Without dev dependencies: no test tools, and no second Node from the `node` package.
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY bin ./bin
COPY src ./src
COPY crds ./crds
COPY examples ./examples

# Records and the fingerprint key; mount a volume here to keep them across runs.
ENV MAILOPS_STATE_DIR=/var/lib/mailops
RUN mkdir -p /var/lib/mailops && chown node:node /var/lib/mailops
USER node
ENTRYPOINT ["node", "/app/bin/mailops.js"]
CMD ["--help"]
