# creditrisk: the one binary, serving the HTTP API by default; batch scoring and every other
# subcommand through the same image. Not built on the development machines (images cannot be
# pulled there); see README "Deployment".
#
#   docker build -t creditrisk .
#   docker run -p 8080:8080 -v "$PWD/data:/app/data" -v "$PWD/mlruns:/app/mlruns" creditrisk
#   docker run -v "$PWD/data:/app/data" -v "$PWD/mlruns:/app/mlruns" creditrisk \
#       batch-predict --input data/new_applications.csv --output data/scored.parquet

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin creditrisk \
    && strip target/release/creditrisk

FROM debian:bookworm-slim
# CA roots for an https tracking server; nothing else is linked dynamically beyond glibc.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /app --create-home creditrisk
WORKDIR /app
COPY --from=build /src/target/release/creditrisk /usr/local/bin/creditrisk
COPY configs ./configs
COPY sql ./sql
# The reports folder receives the audit log and reports; data/ and mlruns/ are usually mounted.
RUN mkdir -p reports data mlruns && chown -R creditrisk:creditrisk reports data mlruns
USER creditrisk
# `--config` and `--model` read these; any config key is CREDITRISK__SECTION__KEY=value
# (e.g. CREDITRISK__TRACKING__URI=http://mlflow:5000).
ENV CREDITRISK_CONFIG=/app/configs/baseline.yaml \
    CREDITRISK_MODEL=models:/creditrisk-pd/Production
EXPOSE 8080
ENTRYPOINT ["creditrisk"]
CMD ["serve", "--bind", "0.0.0.0:8080"]
