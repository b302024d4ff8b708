# syntax=docker/dockerfile:1
# swetrix-ingest in a container (docs/containers.md):
#   docker build -t swetrix-ingest .
#   docker run --rm -v /var/log/nginx:/var/log/nginx:ro swetrix-ingest check /var/log/nginx/access.log
#
# The base is a tag, not a digest: a rebuild picks up Node 20's patch releases and Debian's security
# updates; a digest would freeze them until someone bumps it. Pin one with --build-arg if you need
# byte-for-byte rebuilds. Node 20 is what the project is tested on (package.json engines: >=20.19).
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# No scripts: "prepare" would run the build before the sources are here (it is the step below).
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY parsers ./parsers
RUN npm run build

FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    SWETRIX_INGEST_STATE_DIR=/var/lib/swetrix-ingest
WORKDIR /app
COPY package.json package-lock.json ./
# Runtime dependencies only (the country database is one). No scripts: "prepare" is the TypeScript
# build, which needs the dev dependencies; its output comes from the build stage.
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts --no-audit --no-fund
COPY --from=build /src/dist ./dist
COPY bin ./bin
COPY LICENSE ./
# The state dir exists in the image owned by the runtime user, so a new named volume mounted there
# starts with that owner (Docker copies it in) and the process can write its checkpoints.
RUN install -d -m 0700 -o 10001 -g 10001 /var/lib/swetrix-ingest
# Numeric, so that Kubernetes' runAsNonRoot can check it without a passwd lookup. A uid no login on
# the host is likely to have: state files written to a host path belong to nobody there.
USER 10001:10001
ENTRYPOINT ["node", "/app/bin/swetrix-ingest.js"]
CMD ["--help"]
