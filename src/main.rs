//! The `callconform` command: `run` the conformance suite, `serve` the reference target,
//! `extract` cases from documentation pages.

use callconform::harness::{self, RunArgs};
use callconform::reference::{self, Deviation};
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "callconform",
    version,
    about = "Conformance harness for call-control web APIs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the cases (against the embedded reference target unless --um/--graph is given).
    /// Accepts libtest filters and flags: `callconform run um:: --exact`, `--list`, `--format json`.
    Run(Box<RunArgs>),
    /// Serve the reference target (UM SOAP and Graph calls) until interrupted.
    Serve(ServeArgs),
    /// Write cases and snapshots from documentation pages (`--check`: compare only).
    Extract(ExtractArgs),
    /// Print the coverage table (operations, pages, cases, checks) of a corpus.
    Coverage(CoverageArgs),
}

#[derive(clap::Args)]
struct CoverageArgs {
    /// Directory of case files [default: ./cases, else the source tree's].
    #[arg(long, value_name = "DIR")]
    cases: Option<std::path::PathBuf>,
}

fn coverage(args: CoverageArgs) -> ExitCode {
    let dir = args
        .cases
        .unwrap_or_else(|| harness::plan::default_dir("cases"));
    match callconform::corpus::Corpus::load(&dir) {
        Ok(c) => {
            print!("{}", callconform::coverage::table(&c));
            ExitCode::SUCCESS
        }
        Err(errs) => {
            for e in errs {
                eprintln!("error: {e}");
            }
            ExitCode::from(harness::exit::USAGE)
        }
    }
}

#[derive(clap::Args)]
struct ExtractArgs {
    /// Documentation pages, or folders of them (searched recursively).
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<std::path::PathBuf>,
    /// Project root holding `cases/` and `snapshots/` [default: the current directory].
    #[arg(long, value_name = "DIR", default_value = ".")]
    out: std::path::PathBuf,
    /// Write nothing; exit non-zero naming each difference from the committed corpus.
    #[arg(long)]
    check: bool,
}

fn extract(args: ExtractArgs) -> ExitCode {
    let opts = callconform::extract::ExtractOptions {
        paths: args.paths,
        out: args.out,
        check: args.check,
    };
    match callconform::extract::run(&opts) {
        Ok(report) => {
            let text = report.to_string();
            print!("{text}");
            if !text.ends_with('\n') {
                println!();
            }
            if report.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(harness::exit::NONCONFORMANT)
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(harness::exit::USAGE)
        }
    }
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Break documented behaviour on purpose (comma-separated names).
    #[arg(long, value_delimiter = ',', value_name = "NAME[,NAME...]")]
    deviate: Vec<String>,
    /// List the deviations and exit.
    #[arg(long)]
    list_deviations: bool,
    /// Bearer token Graph requests must carry (default: any bearer token).
    #[arg(long, env = "CALLCONFORM_SERVE_TOKEN", hide_env_values = true)]
    accept_token: Option<String>,
    /// Bearer token sent on notifications.
    #[arg(long, env = "CALLCONFORM_NOTIFY_TOKEN", hide_env_values = true)]
    notify_token: Option<String>,
    /// Also trust these root certificates (PEM) for https callbacks (repeatable).
    #[arg(long, value_name = "FILE")]
    callback_ca: Vec<std::path::PathBuf>,
    /// Also deliver Graph notifications to this callback host (repeatable); by default
    /// only loopback callbacks (127.0.0.0/8, ::1, localhost) are accepted.
    #[arg(long = "allow-callback-host", value_name = "HOST")]
    allow_callback_hosts: Vec<String>,
    /// Send a call's queued Graph notifications together, several `value` entries per POST.
    #[arg(long)]
    batch_notifications: bool,
}

fn serve(args: ServeArgs) -> ExitCode {
    if args.list_deviations {
        for d in Deviation::all() {
            println!("{:<32} {}", d.name(), d.about());
        }
        return ExitCode::SUCCESS;
    }
    let mut deviations = Vec::new();
    for name in &args.deviate {
        match Deviation::parse(name) {
            Ok(d) => deviations.push(d),
            Err(e) => {
                eprintln!("error: {e} (see --list-deviations)");
                return ExitCode::from(harness::exit::USAGE);
            }
        }
    }
    let mut callback_roots = Vec::new();
    for f in &args.callback_ca {
        match callconform::listener::read_roots(f) {
            Ok(pem) => callback_roots.push(pem),
            Err(e) => {
                eprintln!("error: --callback-ca {e}");
                return ExitCode::from(harness::exit::USAGE);
            }
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(harness::exit::USAGE);
        }
    };
    let mut config = reference::Config {
        deviations,
        accept_token: args.accept_token,
        callback_roots,
        allowed_callback_hosts: args.allow_callback_hosts,
        batch_notifications: args.batch_notifications,
        ..reference::Config::default()
    };
    if let Some(t) = args.notify_token {
        config.notify_token = t;
    }
    runtime.block_on(async move {
        match reference::start(args.addr, config).await {
            Ok(running) => {
                eprintln!(
                    "callconform reference target on {} (UM: /EWS/UM2007Legacy.asmx, /UnifiedMessaging/Service.asmx; Graph: /communications/calls)",
                    running.base_url()
                );
                let _ = tokio::signal::ctrl_c().await;
                running.shutdown();
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: cannot bind {}: {e}", args.addr);
                ExitCode::from(harness::exit::USAGE)
            }
        }
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => harness::run(*args),
        Command::Serve(args) => serve(args),
        Command::Extract(args) => extract(args),
        Command::Coverage(args) => coverage(args),
    }
}
