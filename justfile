# Recipes for callconform. `just` is optional: every recipe is one cargo command.
# Install it with `pip install rust-just` or `cargo install --locked just`.

default: test

# The test suite (what CI runs).
test *ARGS:
    cargo test {{ARGS}}

# The conformance suite against the embedded reference target (or --um/--graph URL).
run *ARGS:
    cargo run --release -- run {{ARGS}}

# The reference target on a fixed port, for another process or a SOAP client.
serve ADDR="127.0.0.1:8080" *ARGS:
    cargo run --release -- serve --addr {{ADDR}} {{ARGS}}

# Regenerate cases and snapshots from the documentation pages.
extract PAGES="../shared/seeds ../shared/pages ../shared/metadata":
    cargo run --release -- extract {{PAGES}}

# Check that the committed corpus is still what the pages produce.
extract-check PAGES="../shared/seeds ../shared/pages ../shared/metadata":
    cargo run --release -- extract {{PAGES}} --check

# Record snapshots from a trusted implementation (never in CI).
bless *ARGS:
    cargo run --release -- run --bless {{ARGS}}

# One shard of K/N machines; every case runs exactly once across the shards.
shard K N:
    cargo nextest run --test conformance --partition hash:{{K}}/{{N}}

# Formatting and lints, as CI would want them.
lint:
    cargo fmt --check
    cargo clippy --all-targets -- -D warnings

# Benchmarks: harness vs raw HTTP replay, and the canonicalisers.
bench:
    cargo bench --bench throughput
    cargo bench --bench canon
