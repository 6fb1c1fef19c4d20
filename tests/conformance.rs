//! `cargo test` runs the conformance suite: every case against the embedded reference
//! target (or the targets named by CALLCONFORM_UM / CALLCONFORM_GRAPH).

use clap::Parser;
use std::process::ExitCode;

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    run: callconform::harness::RunArgs,
}

fn main() -> ExitCode {
    callconform::harness::run(Args::parse().run)
}
