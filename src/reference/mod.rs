//! The embedded reference target.
//! One hyper server answers both families: UM SOAP on both endpoint paths and
//! Graph calls on `/communications/calls` and the legacy `/app/calls`.
//!
//! One path belongs to the reference target alone, not to either protocol:
//! `POST /_callconform/incoming-call` with `{"callbackUri": "<url>"}` offers an incoming
//! Graph call to that callback (answers `201 {"id": "<call id>"}`, then POSTs the `incoming`
//! notification), so answer, reject and redirect have a call to act on.
//!
//! Graph notifications go only to loopback callbacks (127.0.0.0/8, ::1, `localhost`) and
//! the hosts in [`Config::allowed_callback_hosts`]; a request naming another host is
//! refused with a 400 before anything is resolved or contacted.
//!
//! It exists so the harness has something known-good (and, with [`Deviation`]s,
//! known-bad) to run against, in-process or via `callconform serve`.

pub mod deviation;
mod graph;
mod http;
mod um;
mod wsdl;

pub use deviation::{Deviation, Verdict};

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::{Semaphore, watch};

#[derive(Debug, Clone)]
pub struct Config {
    /// Behaviours to break on purpose (see `callconform serve --list-deviations`).
    pub deviations: Vec<Deviation>,
    /// Sent as `Authorization: Bearer <token>` on every notification POST.
    pub notify_token: String,
    /// When set, Graph requests must carry exactly this bearer token; otherwise any bearer token.
    pub accept_token: Option<String>,
    /// Delay used by the `late-notifications` deviation.
    pub late_delay: Duration,
    /// Extra root certificates (PEM, each may hold several) trusted for https callbacks,
    /// besides the system's: a test CA, or the harness's own listener certificate.
    pub callback_roots: Vec<Vec<u8>>,
    /// Callback hosts allowed besides loopback (exact host names or IP literals,
    /// case-insensitive); `callconform serve --allow-callback-host HOST`.
    pub allowed_callback_hosts: Vec<String>,
    /// Deliver everything queued for a call at once in one POST with several `value`
    /// entries, as Graph may (an equivalent form); default one entry per POST.
    pub batch_notifications: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            deviations: Vec::new(),
            notify_token: "reference-notification-token".into(),
            accept_token: None,
            late_delay: Duration::from_secs(3),
            callback_roots: Vec::new(),
            allowed_callback_hosts: Vec::new(),
            batch_notifications: false,
        }
    }
}

impl Config {
    /// True when `d` is switched on.
    pub fn has(&self, d: Deviation) -> bool {
        self.deviations.contains(&d)
    }
}

/// A started target; dropping it (or `shutdown`) stops the server.
///
/// Stopping closes the listener, lets in-flight requests finish (connections are shut down
/// gracefully) and cancels pending notification deliveries.
pub struct Running {
    pub addr: SocketAddr,
    stop: Option<watch::Sender<bool>>,
}

impl Running {
    /// `http://<addr>`, the prefix for both families' paths.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
    /// Stops the server now (same as dropping it, but reads better at call sites).
    pub fn shutdown(mut self) {
        self.stop_now();
    }
    fn stop_now(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(true);
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// At most this many connections are served at once; further ones wait in the backlog.
const MAX_CONNECTIONS: usize = 256;
/// Notification POSTs in flight at once, across all calls.
const MAX_DELIVERIES: usize = 64;
/// Clients must send their request head within this time (slowloris guard).
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// Shared state of one running target.
pub(crate) struct State {
    pub(crate) config: Config,
    pub(crate) addr: SocketAddr,
    pub(crate) um: Mutex<um::UmState>,
    pub(crate) graph: Mutex<graph::GraphState>,
    /// One client for all notification POSTs (connection reuse, one place for the policy).
    pub(crate) notifier: reqwest::Client,
    /// Bounds concurrent notification POSTs so a flood of calls cannot open unbounded sockets.
    pub(crate) deliveries: Semaphore,
    stop: watch::Receiver<bool>,
}

impl State {
    pub(crate) fn has(&self, d: Deviation) -> bool {
        self.config.has(d)
    }

    /// Resolves once the target is stopping (or its `Running` is gone).
    pub(crate) async fn stopped(&self) {
        let mut rx = self.stop.clone();
        let _ = rx.wait_for(|s| *s).await;
    }
}

/// Locks a std mutex even if a previous holder panicked: the tables stay usable, and a
/// panic in one request must not take the whole target down.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Binds `addr` (port 0 for an ephemeral port) and serves on the current tokio runtime.
pub async fn start(addr: SocketAddr, config: Config) -> std::io::Result<Running> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let notifier =
        graph::notification_client(&config.callback_roots).map_err(std::io::Error::other)?;
    let (tx, rx) = watch::channel(false);
    let state = Arc::new(State {
        config,
        addr,
        um: Mutex::new(um::UmState::default()),
        graph: Mutex::new(graph::GraphState::default()),
        notifier,
        deliveries: Semaphore::new(MAX_DELIVERIES),
        stop: rx,
    });
    tokio::spawn(accept_loop(listener, state));
    Ok(Running {
        addr,
        stop: Some(tx),
    })
}

async fn accept_loop(listener: tokio::net::TcpListener, state: Arc<State>) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let permit = tokio::select! {
            _ = state.stopped() => return,
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => return,
            },
        };
        let accepted = tokio::select! {
            _ = state.stopped() => return,
            a = listener.accept() => a,
        };
        let stream = match accepted {
            Ok((s, _)) => s,
            Err(e) => {
                // Typically EMFILE or a reset during the handshake: back off briefly.
                eprintln!("callconform reference: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let svc_state = state.clone();
            let svc = service_fn(move |req| handle(svc_state.clone(), req));
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), svc);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = state.stopped() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(5), conn.as_mut()).await;
                }
            }
        });
    }
}

/// Routes one request to the UM or Graph half; everything else is a plain 404.
async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<http::Resp, Infallible> {
    let path = req.uri().path();
    if um::is_um_path(path) {
        return Ok(um::handle(&state, req).await);
    }
    if path == graph::INCOMING_CALL_PATH {
        return Ok(graph::incoming_call(&state, req).await);
    }
    if path == graph::SHARE_SCREEN_PATH {
        return Ok(graph::share_screen(&state, req).await);
    }
    if let Some(route) = graph::route(path) {
        return Ok(graph::handle(&state, route, req).await);
    }
    Ok(http::response(
        StatusCode::NOT_FOUND,
        Some("text/plain; charset=utf-8"),
        "not found\n",
    ))
}
