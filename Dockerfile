# meshgate as a container: the gateway process, with the shipped example config.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY src ./src
COPY scripts/bundle.mjs ./scripts/
# npm ci runs `prepare`, which builds dist/; dev dependencies are dropped afterwards.
RUN npm ci && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY gateways ./gateways
USER node
# 8080/8443: Gateway ports 80/443; 15021: status (/healthz/ready).
EXPOSE 8080 8443 15021
ENTRYPOINT ["node", "dist/cli.js"]
CMD ["serve", "-c", "gateways"]
