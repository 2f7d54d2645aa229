# Everyday commands for recipe-relay. `just` alone lists them.
# Install just with `cargo install just` (or `pipx install rust-just`). Every recipe is a thin
# wrapper: the scripts under scripts/ work without just.

set shell := ["bash", "-euo", "pipefail", "-c"]
set positional-arguments

# A local-only HS256 secret for `just api`, so that tokens minted with `relay token` verify.
# Never used outside this machine; set SUPABASE_JWT_SECRET to use another.
dev_secret := "local-dev-only-secret-not-for-production-0000"

# List the recipes.
default:
    @just --list

# The main job end to end: services, api, worker, `relay submit` on a fixture video.
demo *args:
    scripts/demo "$@"

# The whole test suite, as CI runs it; with args, only the tests (e.g. `just test -p protocol`).
test *args:
    scripts/test "$@"

# Start (or reuse) the throwaway Redis and PostgreSQL; prints the env file to source.
services:
    scripts/services up

# Stop the throwaway Redis and PostgreSQL (add --purge to delete their data).
services-down *args:
    scripts/services down "$@"

# What runs where.
services-status:
    scripts/services status

# Type-check every crate and target.
check:
    cargo check --workspace --all-targets

# Format the code.
fmt:
    cargo fmt --all

# Lint as CI does.
clippy:
    cargo clippy --workspace --all-targets --locked -- -D warnings

# Write the store's query data (crates/store/.sqlx/) anew after changing a query or a migration;
# commit it. Builds read it instead of a database; `scripts/test` checks it is current.
sqlx-prepare:
    scripts/check-sqlx --write

# Check that the store's committed query data matches its queries and migrations, as CI does.
sqlx-check:
    scripts/check-sqlx

# The dependency policy of deny.toml (licenses, one version per crate, sources), offline.
deny:
    scripts/check-deny

# The load tests (docs/performance.md) on release builds, a few minutes; figures also in
# target/bench.json. With args, one scenario: `just bench latency --sockets 500`.
# `just bench compare` runs recipe-relay side by side with the Python peer (../shared/peer).
bench *args:
    cargo build --release -p api -p worker -p loadgen
    . "$(scripts/services up)"; \
    if [ $# -eq 0 ]; then set -- all --json target/bench.json; fi; \
    "${CARGO_TARGET_DIR:-target}/release/loadgen" "$@"

# Run the api gateway against the local services (APP_ENVIRONMENT=local).
api *args:
    . "$(scripts/services up)"; \
    export APP_ENVIRONMENT=local SUPABASE_JWT_SECRET="${SUPABASE_JWT_SECRET:-{{ dev_secret }}}"; \
    cargo run -p api -- "$@"

# Run one worker against the local services (APP_ENVIRONMENT=local; offline providers without keys).
worker *args:
    . "$(scripts/services up)"; \
    export APP_ENVIRONMENT=local; \
    cargo run -p worker -- "$@"
