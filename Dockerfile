# syntax=docker/dockerfile:1
#
# The `migrated` image: the binary plus this project's config/, models/ and migrations/ in /app.
#
#   docker build -t migrated .
#   docker run --rm -e DATABASE_URL=postgres://... migrated              # migrate, then exit 0
#   docker run --rm -e DATABASE_URL=postgres://... migrated status
#
# An application image takes the binary from it and makes it the entrypoint (docs/production.md):
#
#   COPY --from=migrated /usr/local/bin/migrated /usr/local/bin/migrated
#   COPY migrations/ /app/migrations/
#   ENTRYPOINT ["migrated", "--once", "--"]
#   CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0"]

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

# --- build: pg_query compiles libpg_query (C) and runs bindgen, which needs libclang.
FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS builder
RUN apt-get update \
 && apt-get install -y --no-install-recommends libclang-dev clang \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src/ src/
# The registry and target folders are BuildKit caches: a source change rebuilds the crate only.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin migrated \
 && install -m 0755 target/release/migrated /usr/local/bin/migrated

# --- the project files, with every folder present even when the repository has none yet.
FROM debian:${DEBIAN_RELEASE}-slim AS project
WORKDIR /project
COPY . .
RUN mkdir -p config models migrations

# --- runtime: a small Debian, a non-root user, the binary as entrypoint.
FROM debian:${DEBIAN_RELEASE}-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 migrated \
 && useradd --system --uid 10001 --gid migrated --home-dir /app --shell /usr/sbin/nologin migrated
COPY --from=builder /usr/local/bin/migrated /usr/local/bin/migrated
COPY scripts/docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
WORKDIR /app
COPY --from=project --chown=migrated:migrated /project/config/ config/
COPY --from=project --chown=migrated:migrated /project/models/ models/
COPY --from=project --chown=migrated:migrated /project/migrations/ migrations/
RUN install -d -o migrated -g migrated backups logs
USER migrated:migrated
# An image runs committed migrations only; the dev compose file sets development for the watcher.
ENV MIGRATED_MODE=production
ENTRYPOINT ["/usr/local/bin/migrated"]
CMD ["--once"]
