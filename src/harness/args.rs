//! The `run` command line. Flags only: resolving them against the environment and a
//! profile is [`super::plan`]'s job, so it can be tested without a process.

use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Args, Debug, Clone, Default)]
pub struct RunArgs {
    /// Base URL of the UM implementation (https://mail.contoso.com), or its endpoint URL
    /// (https://host/UnifiedMessaging/Service.asmx) [env: CALLCONFORM_UM].
    #[arg(long, value_name = "URL")]
    pub um: Option<String>,

    /// Path of the UM endpoint under the base URL [default: /EWS/UM2007Legacy.asmx].
    #[arg(long, value_name = "PATH")]
    pub um_endpoint: Option<String>,

    /// Base URL of the Graph implementation, with its version prefix (e.g. http://host/v1.0) [env: CALLCONFORM_GRAPH].
    #[arg(long, value_name = "URL")]
    pub graph: Option<String>,

    /// Base URL of any registered family's target (repeatable): --target um=https://mail.contoso.com.
    #[arg(long = "target", value_name = "FAMILY=URL")]
    pub targets: Vec<String>,

    /// Refuse to fall back to the embedded reference target: a CI job whose target URL is
    /// missing (an unset secret) fails instead of testing nothing real.
    #[arg(long, env = "CALLCONFORM_REQUIRE_TARGET")]
    pub require_target: bool,

    /// Set a case variable (repeatable): --var entry_id=AAAA...
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,

    /// Directory of case files [default: ./cases, else the source tree's].
    #[arg(long, value_name = "DIR")]
    pub cases: Option<PathBuf>,

    /// Directory of snapshots [default: ./snapshots, else the source tree's].
    #[arg(long, value_name = "DIR")]
    pub snapshots: Option<PathBuf>,

    /// Rewrite snapshots from the target's answers (refused when CI is set).
    #[arg(long)]
    pub bless: bool,

    /// Send and expect the documents exactly as printed, without the errata corrections.
    #[arg(long)]
    pub as_printed: bool,

    /// Fail on undocumented extra fields in notifications, not only report them.
    #[arg(long)]
    pub strict: bool,

    /// Require the example's own values: another documented value (a CallState, an
    /// end reason) or other prose fails instead of passing with a note.
    #[arg(long)]
    pub exact_values: bool,

    /// Address of the webhook listener [default: 127.0.0.1:0].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,

    /// Public base URL targets should POST notifications to (behind a tunnel or proxy)
    /// [default: the listener's own http(s) URL].
    #[arg(long, value_name = "URL")]
    pub callback_url: Option<String>,

    /// Serve the webhook listener over https with this PEM certificate chain (leaf first);
    /// needs --listen-tls-key.
    #[arg(long, value_name = "FILE", requires = "listen_tls_key")]
    pub listen_tls_cert: Option<PathBuf>,

    /// The PEM private key of --listen-tls-cert.
    #[arg(long, value_name = "FILE", requires = "listen_tls_cert")]
    pub listen_tls_key: Option<PathBuf>,

    /// Seconds a case waits for its notifications [default: 5].
    #[arg(long, value_name = "SECS")]
    pub notification_timeout: Option<f64>,

    /// Seconds of quiet after the last documented notification, in which a further one
    /// fails `nothing-after-last` (and after a set-up, to take its call's stragglers)
    /// [default: 0.25; 0.1 against the embedded target, which sends as it answers].
    #[arg(long, value_name = "SECS")]
    pub quiet_period: Option<f64>,

    /// Seconds between repeats of a step whose live resource is still on its way to the
    /// documented state (a call that rings before it connects) [default: 0.25].
    #[arg(long, value_name = "SECS")]
    pub progress_interval: Option<f64>,

    /// Seconds such a step may take to reach the documented state [default: 60: a phone
    /// must be answered].
    #[arg(long, value_name = "SECS")]
    pub progress_deadline: Option<f64>,

    /// Seconds one request may take, body included [default: 10].
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,

    /// Largest response body read, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_body: usize,

    /// Stop running cases after the first failure.
    #[arg(long)]
    pub fail_fast: bool,

    /// Only run cases of this family (repeatable): um, graph.
    #[arg(long = "family", value_name = "NAME")]
    pub families: Vec<String>,

    /// Only run cases with this tag (repeatable).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,

    /// Target profile (TOML): base URLs, auth from the environment, TLS, timeouts, vars.
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,

    /// Known failures of this target (TOML); listed failures pass, listed passes fail.
    #[arg(long, value_name = "FILE")]
    pub expect: Option<PathBuf>,

    /// Write the current failures as a starting expectations file.
    #[arg(long, value_name = "FILE")]
    pub write_expectations: Option<PathBuf>,

    /// Write a JUnit XML report.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// Write a JSON report (every case, step, request, status, timing, check).
    #[arg(long, value_name = "FILE")]
    pub report_json: Option<PathBuf>,

    /// Write a Markdown conformance matrix.
    #[arg(long, value_name = "FILE")]
    pub report_md: Option<PathBuf>,

    #[command(flatten)]
    pub libtest: libtest_mimic::Arguments,
}
