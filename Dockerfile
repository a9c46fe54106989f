# Builds the tracker binary and a small runtime image holding it with its config and connectors.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /src/target/release/tracker /usr/local/bin/tracker
COPY config config
COPY connectors connectors
COPY samples samples
ENTRYPOINT []
