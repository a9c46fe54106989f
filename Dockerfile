# The hub's image: the tracker binary with its configuration, connectors and sample traffic,
# running as an unprivileged user. Build with `docker compose build` (or `docker build .`).

FROM rust:1.95-bookworm AS build
WORKDIR /src
# Dependencies first, in their own layer: a change to the hub's code rebuilds only the hub.
COPY Cargo.toml Cargo.lock build.rs ./
COPY schemas schemas
RUN mkdir src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src target/release/tracker target/release/deps/tracker-* target/release/deps/libtracker-* \
              target/release/.fingerprint/tracker-*
COPY src src
COPY migrations migrations
COPY connectors connectors
COPY config config
RUN cargo build --release --locked

FROM debian:bookworm-slim
# curl for the health check; chromium (large) is not installed: the court's PDFs answer 503
# with how to add a browser (set [court] pdf_browser).
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin tracker
WORKDIR /app
COPY --from=build /src/target/release/tracker /usr/local/bin/tracker
COPY config config
COPY connectors connectors
COPY samples samples
USER tracker
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/health || exit 1
ENTRYPOINT []
CMD ["sh", "-c", "tracker migrate && tracker provision && tracker run"]
