# One image for every role: `docker run vitalstream <role>` (start | ingest | rules | sink | gateway | sim).
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-fund --no-audit
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
ENV NODE_ENV=production VITALS_HOST=0.0.0.0 VITALS_DATA_DIR=/data
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/package.json ./package.json
# Read at run time from the source tree: SQL migrations, default rules, the dashboard page.
COPY --from=build /app/adapters/store/schema ./adapters/store/schema
COPY --from=build /app/stream-rules/default-rules.yaml ./stream-rules/default-rules.yaml
COPY --from=build /app/dashboard-gateway/web ./dashboard-gateway/web
COPY --from=build /app/infra ./infra
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
# MQTT, HTTP, and the ops ports of a split ingest, rules and sink (docs/observability.md).
EXPOSE 1883 8080 9471 9472 9473
ENTRYPOINT ["node", "--max-semi-space-size=64", "--heap-growing-percent=50", "dist/cli/main.js"]
CMD ["start"]
