//! The webhook listener: receives the notifications a Graph target POSTs to the callbackUri
//! the harness handed out. Each POST is split into its `value` entries, in order
//! ([`entries`]); each entry is routed by the call its own `resourceUrl` names ([`route`])
//! and by the case tag of the callback path it arrived on (`/callbacks/<token>/<tag>`).
//! An entry naming one case's call that arrived on another case's path is kept as evidence
//! for both ([`Listener::misrouted_for`]). Nothing is dropped silently: refused POSTs,
//! entries for no known call and overflow are all kept (bounded) for the report.
//!
//! Memory is bounded by a byte budget over everything kept, charged per entry (bodies plus
//! an estimate of their parsed JSON), not by a count: a count times the largest body
//! allowed is a bound nobody can afford (20,000 × 64 KiB was over 1.3 GiB). With a
//! certificate and key the listener serves https ([`ListenerTls`]), as Graph-like services
//! require.

mod entries;
mod route;
mod store;
mod tls;
pub use entries::resource_url as entry_resource_url;
pub use route::call_id_of;
pub use tls::{ListenerTls, read_roots};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use store::{Limits, State};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{Semaphore, watch};

#[derive(Debug, Clone)]
pub struct ListenerConfig {
    /// Loopback unless the user asks otherwise (`--listen`).
    pub bind: SocketAddr,
    /// Public base URL the target should use (`--callback-url`); default `http://<bind>`,
    /// or `https://<bind>` when `tls` is set.
    pub public_base: Option<String>,
    /// Serve https with this certificate and key instead of plain http.
    pub tls: Option<ListenerTls>,
    pub max_body: usize,
    /// Entries kept per call; a POST that would pass it is refused whole (507 Insufficient
    /// Storage) and its entries counted as overflow.
    pub max_per_call: usize,
    /// Refused POSTs, and entries naming no call, kept for the report; more are counted.
    pub max_kept: usize,
    /// Bytes kept across all calls: every stored entry is charged its body plus an
    /// estimate of its parsed JSON (and a new call id or case tag its key). Past the budget
    /// a POST is refused whole with 507, so a flood naming a million call ids stays
    /// bounded. Default [`DEFAULT_BYTE_BUDGET`].
    pub byte_budget: usize,
    /// Values the listener's own previews never show (the harness's secrets); the
    /// callback token is always among them.
    pub redact: Vec<String>,
}

/// 32 MiB: some 7,000 realistic notifications (a 1.5 KiB one for a new call is charged
/// about 4.6 KiB), far more than a corpus run receives, and a bound a CI runner can afford.
pub const DEFAULT_BYTE_BUDGET: usize = 32 * 1024 * 1024;

/// Status for a POST the listener will not keep (budget or per-call cap reached).
const OVER_BUDGET: StatusCode = StatusCode::INSUFFICIENT_STORAGE;

impl Default for ListenerConfig {
    fn default() -> Self {
        ListenerConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            public_base: None,
            max_body: 64 * 1024,
            max_per_call: 64,
            max_kept: 256,
            byte_budget: DEFAULT_BYTE_BUDGET,
            redact: Vec::new(),
            tls: None,
        }
    }
}

/// One notification entry that reached the listener: a whole single-entry POST, or one
/// entry of a batched one, with the metadata of the POST it came in.
#[derive(Debug, Clone)]
pub struct Received {
    /// Arrival order of its POST across the whole run (entries of one POST share it).
    pub seq: u64,
    pub at: Instant,
    pub path: String,
    /// The raw `Authorization` header, if any (kept only to be checked, never printed).
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    /// The POST's body as received when it held one entry; for a batched entry the
    /// single-entry form (see [`Received::json`]) serialized.
    pub body: Bytes,
    /// The single-entry form `{"@odata.type": ..., "value": [entry]}` with the POST's other
    /// top-level keys, so a batched entry compares exactly like a single-entry POST.
    pub json: Result<serde_json::Value, String>,
    /// The call the entry's `resourceUrl` names (percent-decoded).
    pub call_id: Option<String>,
    /// The case tag of the callbackUri it was POSTed to (`/callbacks/<token>/<tag>`).
    pub tag: Option<String>,
    /// `(index, len)` when the entry came with others in one POST: the report says so.
    pub batch: Option<(usize, usize)>,
}

#[cfg(test)]
impl Received {
    /// A notification as it would arrive with a bearer token and JSON content type, for
    /// the rules' unit tests.
    pub(crate) fn fixture(at: Instant, body: serde_json::Value) -> Received {
        Received {
            seq: 0,
            at,
            path: "/callbacks/t".into(),
            authorization: Some("Bearer t".into()),
            content_type: Some("application/json".into()),
            body: body.to_string().into(),
            json: Ok(body),
            call_id: None,
            tag: None,
            batch: None,
        }
    }
}

impl Received {
    /// `resourceData.state` of the entry, the notification's name in the docs.
    pub fn state(&self) -> Option<&str> {
        self.json
            .as_ref()
            .ok()?
            .pointer("/value/0/resourceData/state")?
            .as_str()
    }

    /// Arrival order of entries: the POST's, then the place in it.
    pub fn order(&self) -> (u64, usize) {
        (self.seq, self.batch.map_or(0, |(i, _)| i))
    }
}

/// An entry that names a call one case claims but arrived on another callback path: the
/// evidence both cases fail on (check `notification-callback`).
#[derive(Debug, Clone)]
pub struct Misrouted {
    pub entry: Received,
    /// The case tag that claims the call the entry names.
    pub owner: String,
    /// The case tag of the path it arrived on; `None` for the untagged callbackUri.
    pub arrived_on: Option<String>,
}

/// A POST the listener answered with an error, for the report.
#[derive(Debug, Clone)]
pub struct Refused {
    pub at: Instant,
    /// Redacted, then cut short.
    pub path: String,
    /// The HTTP status answered; 0 when the connection never got to HTTP (a failed TLS
    /// handshake).
    pub status: u16,
    pub reason: String,
}

/// What the run report says about the listener.
#[derive(Debug, Clone, Default)]
pub struct ListenerSummary {
    pub refused: Vec<Refused>,
    pub refused_overflow: u64,
    /// Entries whose resourceUrl named no call, or a call no case ever waited for.
    pub unrouted: Vec<(Option<String>, String)>,
    pub unrouted_overflow: u64,
    /// Entries refused past the per-call cap or the byte budget.
    pub overflow: u64,
    /// Of `overflow`, those refused because the byte budget was spent.
    pub budget_overflow: u64,
    /// The budget, for the message.
    pub byte_budget: usize,
    /// Bytes charged against the budget at the time of the summary.
    pub stored_bytes: usize,
}

pub struct Listener {
    pub addr: SocketAddr,
    max_kept: usize,
    byte_budget: usize,
    redact: Vec<String>,
    callback_url: String,
    token: String,
    state: Arc<Mutex<State>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

fn random_token() -> String {
    let mut b = [0u8; 24];
    if getrandom::fill(&mut b).is_err() {
        // No OS randomness: still unique per run, though guessable; say so loudly.
        eprintln!("warning: no OS randomness; the callback token is weak");
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        b[..16].copy_from_slice(&t.to_le_bytes());
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl Listener {
    pub async fn start(config: ListenerConfig) -> std::io::Result<Listener> {
        let tcp = tokio::net::TcpListener::bind(config.bind).await?;
        let addr = tcp.local_addr()?;
        let token = random_token();
        let scheme = if config.tls.is_some() {
            "https"
        } else {
            "http"
        };
        let base = config
            .public_base
            .clone()
            .unwrap_or_else(|| format!("{scheme}://{addr}"));
        let callback_url = format!("{}/callbacks/{token}", base.trim_end_matches('/'));
        let state = Arc::new(Mutex::new(State::default()));
        let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
        let max_kept = config.max_kept;
        let byte_budget = config.byte_budget;
        let mut config = config;
        config.redact.push(token.clone());
        let redact = config.redact.clone();
        let acceptor = config.tls.as_ref().map(ListenerTls::acceptor);
        let shared = Arc::new(Shared {
            state: state.clone(),
            path: format!("/callbacks/{token}"),
            config,
        });
        let permits = Arc::new(Semaphore::new(256));
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = &mut stop_rx => break,
                    a = tcp.accept() => a,
                };
                let Ok((stream, _)) = accepted else { continue };
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    break;
                };
                let shared = shared.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    // A connection that stalls forever is cut after a minute.
                    let _ = tokio::time::timeout(
                        Duration::from_secs(60),
                        shared.connection(stream, acceptor),
                    )
                    .await;
                    drop(permit);
                });
            }
        });
        Ok(Listener {
            addr,
            max_kept,
            byte_budget,
            redact,
            callback_url,
            token,
            state,
            stop: Some(stop_tx),
        })
    }

    /// The callbackUri to hand to targets; it carries the run's secret token.
    pub fn callback_url(&self) -> &str {
        &self.callback_url
    }

    /// A callbackUri for one case: notifications POSTed there can be traced back to the case
    /// even when their resourceUrl names the wrong call.
    pub fn callback_url_for(&self, tag: &str) -> String {
        format!("{}/{}", self.callback_url, sanitize_tag(tag))
    }

    /// Entries POSTed to a case's callbackUri that name a call nobody claims (or no call):
    /// what a case looks at when its notifications never came.
    pub fn unclaimed_for(&self, tag: &str) -> Vec<Received> {
        lock(&self.state).unclaimed_for(&sanitize_tag(tag))
    }

    /// The run's secret, for redaction.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Records that the case `tag` owns `call_id`, so entries naming it that arrive on
    /// another path become evidence for both ([`Listener::misrouted_for`]). The first
    /// claim stands: `Err` names the case that already owns the call (a target that gave
    /// two cases the same call id).
    pub fn claim(&self, tag: &str, call_id: &str) -> Result<(), String> {
        lock(&self.state).claim(&sanitize_tag(tag), call_id)
    }

    /// Waits until `count` entries after `cursor` have arrived naming `call_id`, on any
    /// callback path, or the deadline passes; returns what arrived (possibly fewer), in
    /// arrival order. Claims the call without naming a case. Never blocks past `deadline`.
    pub async fn wait(
        &self,
        call_id: &str,
        cursor: usize,
        count: usize,
        deadline: tokio::time::Instant,
    ) -> Vec<Received> {
        let rx = {
            let mut st = lock(&self.state);
            st.claims.entry(call_id.to_owned()).or_insert(None);
            st.calls.entry(call_id.to_owned()).or_default().subscribe()
        };
        self.wait_for(rx, cursor, count, deadline, |st| st.of_call(call_id, None))
            .await
    }

    /// Waits like [`Listener::wait`] for the entries naming `call_id` that arrived on the
    /// callback path of the case `tag`, after claiming the call for it; entries naming it
    /// that arrived elsewhere are not returned but listed by [`Listener::misrouted_for`].
    /// The entries a case saw through [`Listener::wait_tag`] naming `call_id` come first
    /// here, in the same order: their count is the cursor to continue from.
    pub async fn wait_call(
        &self,
        tag: &str,
        call_id: &str,
        cursor: usize,
        count: usize,
        deadline: tokio::time::Instant,
    ) -> Vec<Received> {
        let tag = sanitize_tag(tag);
        let rx = {
            let mut st = lock(&self.state);
            // A conflict is evidence misrouted_for reports; the case still sees its path.
            let _ = st.claim(&tag, call_id);
            st.calls.entry(call_id.to_owned()).or_default().subscribe()
        };
        self.wait_for(rx, cursor, count, deadline, |st| {
            st.of_call(call_id, Some(&tag))
        })
        .await
    }

    /// Waits until `count` entries after `cursor` have arrived on the callback path of the
    /// case `tag`, whatever call they name, or the deadline passes: how a case receives the
    /// `incoming` notification that tells it the call id (README: Coverage, incoming calls).
    pub async fn wait_tag(
        &self,
        tag: &str,
        cursor: usize,
        count: usize,
        deadline: tokio::time::Instant,
    ) -> Vec<Received> {
        let tag = sanitize_tag(tag);
        let rx = lock(&self.state)
            .tags
            .entry(tag.clone())
            .or_default()
            .subscribe();
        self.wait_for(rx, cursor, count, deadline, |st| st.of_tag(&tag))
            .await
    }

    /// Entries naming a call the case `tag` claims that arrived on another callback path,
    /// and entries that arrived on its path naming a call another case claims, in arrival
    /// order: each is a failed `notification-callback` check on both cases.
    pub fn misrouted_for(&self, tag: &str) -> Vec<Misrouted> {
        lock(&self.state).misrouted_for(&sanitize_tag(tag))
    }

    /// Sleeps on `rx` until `select` picks `cursor + count` entries or the deadline passes;
    /// returns the picked entries after `cursor`.
    async fn wait_for(
        &self,
        mut rx: watch::Receiver<usize>,
        cursor: usize,
        count: usize,
        deadline: tokio::time::Instant,
        select: impl Fn(&State) -> Vec<usize>,
    ) -> Vec<Received> {
        loop {
            // Marked seen before counting: an entry admitted after the count wakes us.
            rx.borrow_and_update();
            if select(&lock(&self.state)).len() >= cursor.saturating_add(count) {
                break;
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => continue,
                _ => break,
            }
        }
        let st = lock(&self.state);
        select(&st)
            .into_iter()
            .skip(cursor)
            .map(|i| st.entries[i].clone())
            .collect()
    }

    /// Every entry received so far naming a call, on any path.
    pub fn received(&self, call_id: &str) -> Vec<Received> {
        let st = lock(&self.state);
        st.of_call(call_id, None)
            .into_iter()
            .map(|i| st.entries[i].clone())
            .collect()
    }

    /// A short preview of a body: redacted first, then cut, so a secret straddling the
    /// cut cannot leave its prefix behind.
    fn preview(&self, body: &[u8]) -> String {
        let text = String::from_utf8_lossy(body);
        let clean = crate::text::redact(&text, &self.redact);
        crate::response::preview(clean.as_bytes(), PREVIEW_CHARS)
    }

    pub fn summary(&self) -> ListenerSummary {
        let st = lock(&self.state);
        let mut unrouted: Vec<(Option<String>, String)> = st
            .unrouted
            .iter()
            .map(|&i| &st.entries[i])
            .map(|r| (r.call_id.clone(), self.preview(&r.body)))
            .collect();
        let mut unrouted_overflow = st.unrouted_overflow;
        // In arrival order, and no more than the report can read.
        for r in st.unclaimed() {
            if unrouted.len() < self.max_kept {
                unrouted.push((r.call_id.clone(), self.preview(&r.body)));
            } else {
                unrouted_overflow += 1;
            }
        }
        ListenerSummary {
            refused: st.refused.clone(),
            refused_overflow: st.refused_overflow,
            unrouted,
            unrouted_overflow,
            overflow: st.cap_overflow + st.budget_overflow,
            budget_overflow: st.budget_overflow,
            byte_budget: self.byte_budget,
            stored_bytes: st.stored_bytes,
        }
    }
}

/// Characters of a body shown in the summary.
const PREVIEW_CHARS: usize = 200;
/// Characters of a refused path kept.
const PATH_CHARS: usize = 80;
/// Time a client has to start and finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What the first byte of a connection to the https listener says.
enum Opening {
    /// A TLS record (handshake content type 0x16).
    Tls,
    /// Anything else: most likely a plain-http request sent to the https port.
    Plain,
    /// Closed or silent before sending anything.
    Nothing,
}

async fn opening(stream: &tokio::net::TcpStream) -> Opening {
    let mut first = [0u8; 1];
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, stream.peek(&mut first)).await {
        Ok(Ok(1)) if first[0] == 0x16 => Opening::Tls,
        Ok(Ok(1)) => Opening::Plain,
        _ => Opening::Nothing,
    }
}

fn lock(m: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    // A panic while holding the lock cannot leave State inconsistent (plain pushes).
    m.lock().unwrap_or_else(|p| p.into_inner())
}

struct Shared {
    state: Arc<Mutex<State>>,
    path: String,
    config: ListenerConfig,
}

type Body = Full<Bytes>;

fn reply(status: StatusCode, text: &str) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(text.to_owned())));
    *r.status_mut() = status;
    r
}

impl Shared {
    /// Serves one accepted connection: plain http, or https after the handshake. On the
    /// https listener a plain-http request is answered in plain http, refused, and listed.
    async fn connection(
        self: Arc<Self>,
        stream: tokio::net::TcpStream,
        acceptor: Option<tokio_rustls::TlsAcceptor>,
    ) {
        let Some(acceptor) = acceptor else {
            return self.serve(stream, false).await;
        };
        match opening(&stream).await {
            Opening::Nothing => {}
            Opening::Plain => self.serve(stream, true).await,
            Opening::Tls => {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(tls)) => self.serve(tls, false).await,
                    Ok(Err(e)) => {
                        self.record(
                            "(TLS handshake)",
                            0,
                            format!("TLS handshake failed (does the sender trust the listener's certificate?): {e}"),
                        );
                    }
                    Err(_) => {
                        self.record(
                            "(TLS handshake)",
                            0,
                            format!(
                                "TLS handshake not finished within {} s",
                                HANDSHAKE_TIMEOUT.as_secs()
                            ),
                        );
                    }
                }
            }
        }
    }

    async fn serve<I>(self: Arc<Self>, io: I, plain_on_tls: bool)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let svc = service_fn(move |req| {
            let shared = self.clone();
            async move {
                Ok::<_, std::convert::Infallible>(if plain_on_tls {
                    shared.refuse_plain(&req)
                } else {
                    shared.handle(req).await
                })
            }
        });
        let _ = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(Duration::from_secs(5))
            .serve_connection(TokioIo::new(io), svc)
            .await;
    }

    fn refuse_plain(&self, req: &Request<Incoming>) -> Response<Body> {
        let mut r = self.refuse(
            req.uri().path(),
            StatusCode::BAD_REQUEST,
            "plain http sent to the https listener: notifications must use the https:// callbackUri".into(),
        );
        // Nothing of this connection is read further.
        r.headers_mut().insert(
            hyper::header::CONNECTION,
            hyper::header::HeaderValue::from_static("close"),
        );
        r
    }

    /// Lists a refusal for the report: the path redacted, then cut short (a forged path may
    /// hold a guessed token, a real one the run's token; a cut must not leave a prefix).
    fn record(&self, path: &str, status: u16, reason: String) {
        let mut st = lock(&self.state);
        if st.refused.len() < self.config.max_kept {
            let clean = crate::text::redact(path, &self.config.redact);
            st.refused.push(Refused {
                at: Instant::now(),
                path: clean.chars().take(PATH_CHARS).collect(),
                status,
                reason,
            });
        } else {
            st.refused_overflow += 1;
        }
    }

    fn refuse(&self, path: &str, status: StatusCode, reason: String) -> Response<Body> {
        self.record(path, status.as_u16(), reason.clone());
        reply(status, &reason)
    }

    async fn handle(&self, req: Request<Incoming>) -> Response<Body> {
        let path = req.uri().path().to_owned();
        if req.method() != hyper::Method::POST {
            return self.refuse(
                &path,
                StatusCode::METHOD_NOT_ALLOWED,
                format!("{} is not POST", req.method()),
            );
        }
        let (base, tag) = match path.get(self.path.len()..) {
            Some(rest) if rest.starts_with('/') => (&path[..self.path.len()], Some(&rest[1..])),
            _ => (path.as_str(), None),
        };
        let tag = tag
            .filter(|t| !t.is_empty() && *t == sanitize_tag(t))
            .map(str::to_owned);
        if !constant_time_eq(base.as_bytes(), self.path.as_bytes()) {
            return self.refuse(
                &path,
                StatusCode::FORBIDDEN,
                "POST to a path without the run's callback token".into(),
            );
        }
        let header = |name: &str| {
            req.headers()
                .get(name)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        };
        let authorization = header("authorization");
        let content_type = header("content-type");
        let limited = Limited::new(req.into_body(), self.config.max_body);
        let body = match tokio::time::timeout(Duration::from_secs(10), limited.collect()).await {
            Ok(Ok(c)) => c.to_bytes(),
            Ok(Err(e)) => {
                let too_big = e
                    .downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some();
                return if too_big {
                    self.refuse(
                        &path,
                        StatusCode::PAYLOAD_TOO_LARGE,
                        format!(
                            "notification body over the {} byte cap",
                            self.config.max_body
                        ),
                    )
                } else {
                    self.refuse(&path, StatusCode::BAD_REQUEST, format!("body: {e}"))
                };
            }
            Err(_) => {
                return self.refuse(
                    &path,
                    StatusCode::REQUEST_TIMEOUT,
                    "notification body not received within 10 s".into(),
                );
            }
        };
        let at = Instant::now();
        let parts = match entries::split(body) {
            Ok(p) => p,
            Err(n) => {
                return self.refuse(
                    &path,
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "{n} notification entries in one POST, over the {} the listener takes",
                        entries::MAX_ENTRIES
                    ),
                );
            }
        };
        let parts: Vec<Received> = parts
            .into_iter()
            .map(|p| Received {
                seq: 0,
                at,
                path: path.clone(),
                authorization: authorization.clone(),
                content_type: content_type.clone(),
                body: p.body,
                json: p.json,
                call_id: p.call_id,
                tag: tag.clone(),
                batch: p.batch,
            })
            .collect();
        let limits = Limits {
            max_per_call: self.config.max_per_call,
            max_kept: self.config.max_kept,
            byte_budget: self.config.byte_budget,
        };
        match lock(&self.state).admit(parts, &limits) {
            Ok(()) => reply(StatusCode::ACCEPTED, ""),
            // Counted, not listed one by one: a flood would crowd out every other finding.
            Err(reason) => reply(OVER_BUDGET, &reason),
        }
    }
}

/// Case tags in callback paths: letters, digits, `-`, `_` and `.` only.
pub fn sanitize_tag(tag: &str) -> String {
    tag.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '.'
            }
        })
        .take(100)
        .collect()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client")
    }

    /// True when any 6-character piece of `secret` shows in `text`.
    fn leaks(text: &str, secret: &str) -> bool {
        secret
            .as_bytes()
            .windows(6)
            .any(|w| text.contains(std::str::from_utf8(w).unwrap_or("\u{0}")))
    }

    #[tokio::test]
    async fn a_secret_straddling_the_preview_cut_leaves_no_prefix() {
        const NOTIFY: &str = "notify-secret-0123456789abcdef";
        let l = Listener::start(ListenerConfig {
            redact: vec![NOTIFY.to_owned()],
            ..ListenerConfig::default()
        })
        .await
        .expect("listener");
        let token = l.token().to_owned();
        // Both secrets start a few characters before the cut and end after it.
        for (secret, at) in [
            (NOTIFY, PREVIEW_CHARS - 6),
            (token.as_str(), PREVIEW_CHARS - 10),
        ] {
            let head = r#"{"value":[{"resourceUrl":"/communications/calls/nobody","note":""#;
            let pad = "p".repeat(at - head.len());
            let body = format!(r#"{head}{pad}{secret} and more text after it"}}]}}"#);
            assert_eq!(body.find(secret), Some(at));
            let r = client()
                .post(l.callback_url())
                .body(body)
                .send()
                .await
                .expect("answered");
            assert_eq!(r.status().as_u16(), 202);
        }
        let s = l.summary();
        assert_eq!(s.unrouted.len(), 2, "{:?}", s.unrouted);
        for (_, preview) in &s.unrouted {
            // The placeholder may itself be cut; the secret is gone either way.
            assert!(preview.contains("[redac"), "{preview}");
            assert!(!leaks(preview, NOTIFY), "{preview}");
            assert!(!leaks(preview, &token), "{preview}");
        }
        // A refused path holding the token across the path cut.
        let prefix = "/".to_owned() + &"a".repeat(PATH_CHARS - 20);
        let r = client()
            .get(format!("http://{}{prefix}/callbacks/{token}", l.addr))
            .send()
            .await
            .expect("answered");
        assert_eq!(r.status().as_u16(), 405);
        let s = l.summary();
        assert_eq!(s.refused.len(), 1, "{:?}", s.refused);
        assert!(!leaks(&s.refused[0].path, &token), "{}", s.refused[0].path);
    }

    #[tokio::test]
    async fn the_default_budget_keeps_every_notification_of_hundreds_of_calls() {
        const CALLS: usize = 400;
        let l = Listener::start(ListenerConfig::default())
            .await
            .expect("listener");
        let c = client();
        for i in 0..CALLS {
            // The size of a documented terminated notification, resultInfo and all.
            let body = format!(
                r##"{{"@odata.type":"#microsoft.graph.commsNotifications","value":[{{"@odata.type":"#microsoft.graph.commsNotification","changeType":"deleted","resourceUrl":"/communications/calls/{i:08}-0000-0000-0000-000000000000","resourceData":{{"@odata.type":"#microsoft.graph.call","state":"terminated","resultInfo":{{"code":200,"subcode":5001,"message":"{}"}}}}}}]}}"##,
                "m".repeat(1200)
            );
            let r = c
                .post(l.callback_url_for("many"))
                .body(body)
                .send()
                .await
                .expect("answered");
            assert_eq!(r.status().as_u16(), 202, "call {i}");
        }
        let s = l.summary();
        assert_eq!(s.overflow, 0);
        assert!(s.stored_bytes > CALLS * 1200, "{}", s.stored_bytes);
        assert!(s.stored_bytes < DEFAULT_BYTE_BUDGET);
        assert_eq!(l.unclaimed_for("many").len(), CALLS);
    }

    async fn post(url: &str, body: &str) -> u16 {
        client()
            .post(url)
            .header("Content-Type", "application/json")
            .header("Authorization", "Bearer t")
            .body(body.to_owned())
            .send()
            .await
            .expect("answered")
            .status()
            .as_u16()
    }

    /// A commsNotifications body with one entry per (resourceUrl, state).
    fn notifications(entries: &[(&str, &str)]) -> String {
        let value: Vec<serde_json::Value> = entries
            .iter()
            .map(|(url, state)| {
                serde_json::json!({
                    "@odata.type": "#microsoft.graph.commsNotification",
                    "changeType": "updated",
                    "resourceUrl": url,
                    "resourceData": {"@odata.type": "#microsoft.graph.call", "state": state}
                })
            })
            .collect();
        serde_json::json!({"@odata.type": "#microsoft.graph.commsNotifications", "value": value})
            .to_string()
    }

    fn soon() -> tokio::time::Instant {
        tokio::time::Instant::now() + Duration::from_secs(5)
    }

    fn now() -> tokio::time::Instant {
        tokio::time::Instant::now()
    }

    #[tokio::test]
    async fn a_batched_post_becomes_its_entries_in_order() {
        let l = Listener::start(ListenerConfig::default())
            .await
            .expect("listener");
        let url = l.callback_url_for("graph::delete-call");
        let body = notifications(&[
            ("/communications/calls/c1", "terminating"),
            ("/communications/calls/c1", "terminated"),
        ]);
        assert_eq!(post(&url, &body).await, 202);
        let got = l.wait("c1", 0, 2, soon()).await;
        let states: Vec<_> = got.iter().map(Received::state).collect();
        assert_eq!(states, [Some("terminating"), Some("terminated")]);
        let batch: Vec<_> = got.iter().map(|r| r.batch).collect();
        assert_eq!(batch, [Some((0, 2)), Some((1, 2))]);
        // One POST: the same seq, authorization, content type and path.
        assert_eq!(got[0].seq, got[1].seq);
        assert!(got[0].order() < got[1].order());
        for r in &got {
            assert_eq!(r.authorization.as_deref(), Some("Bearer t"));
            assert_eq!(r.content_type.as_deref(), Some("application/json"));
            assert_eq!(r.tag.as_deref(), Some("graph..delete-call"));
            let v = r.json.as_ref().expect("json");
            assert_eq!(v["@odata.type"], "#microsoft.graph.commsNotifications");
            assert_eq!(v["value"].as_array().map(Vec::len), Some(1));
        }
        // A single-entry POST stays as it was sent, and says it was not batched.
        let single = notifications(&[("/communications/calls/c2", "terminated")]);
        assert_eq!(post(&url, &single).await, 202);
        let got = l.wait("c2", 0, 1, soon()).await;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].batch, None);
        assert_eq!(&got[0].body[..], single.as_bytes());
        // A batched entry's body is its single-entry form, equal to the same entry sent alone.
        let alone = notifications(&[("/communications/calls/c1", "terminated")]);
        let first = l.received("c1");
        assert_eq!(
            first[1].json.as_ref().ok(),
            serde_json::from_str::<serde_json::Value>(&alone)
                .ok()
                .as_ref()
        );
    }

    #[tokio::test]
    async fn entries_of_one_post_route_to_their_own_calls() {
        let l = Listener::start(ListenerConfig::default())
            .await
            .expect("listener");
        let url = l.callback_url_for("t");
        let body = notifications(&[
            ("/communications/calls/a%2Fb%20c", "established"),
            ("/v1.0/communications/calls/x1/operations/op-1", "completed"),
            ("/beta/communications/calls/x1/participants", "roster"),
            ("/app/calls/x1", "terminated"),
            ("/communications/onlineMeetings/m", "none"),
        ]);
        assert_eq!(post(&url, &body).await, 202);
        let encoded = l.wait("a/b c", 0, 1, soon()).await;
        assert_eq!(encoded.len(), 1);
        assert_eq!(encoded[0].state(), Some("established"));
        let x1: Vec<_> = l
            .wait("x1", 0, 3, soon())
            .await
            .iter()
            .map(|r| (r.state().map(str::to_owned), r.batch))
            .collect();
        assert_eq!(
            x1,
            [
                (Some("completed".into()), Some((1, 5))),
                (Some("roster".into()), Some((2, 5))),
                (Some("terminated".into()), Some((3, 5)))
            ]
        );
        // The entry naming no call is reported, not routed to anyone.
        let s = l.summary();
        assert_eq!(s.unrouted.len(), 1, "{:?}", s.unrouted);
        assert_eq!(s.unrouted[0].0, None);
        let stray = l.unclaimed_for("t");
        assert_eq!(stray.len(), 1);
        assert_eq!(stray[0].batch, Some((4, 5)));
        assert_eq!(stray[0].state(), Some("none"));
    }

    #[tokio::test]
    async fn a_case_waits_on_its_tag_until_it_knows_the_call() {
        let l = Listener::start(ListenerConfig::default())
            .await
            .expect("listener");
        let mine = l.callback_url_for("graph::call-answer-1");
        let other = l.callback_url_for("graph::other");
        // Another case's traffic on another path is not this case's.
        let noise = notifications(&[("/communications/calls/zz", "incoming")]);
        assert_eq!(post(&other, &noise).await, 202);
        let incoming = notifications(&[("/communications/calls/in-1", "incoming")]);
        assert_eq!(post(&mine, &incoming).await, 202);
        let got = l.wait_tag("graph::call-answer-1", 0, 1, soon()).await;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].call_id.as_deref(), Some("in-1"));
        // Nothing more within a short deadline: it returns what it has, on time.
        let t0 = std::time::Instant::now();
        let more = l
            .wait_tag(
                "graph::call-answer-1",
                0,
                2,
                now() + Duration::from_millis(100),
            )
            .await;
        assert_eq!(more.len(), 1);
        assert!(t0.elapsed() < Duration::from_secs(2));
        // The call id is known: the tag's entries naming it are the call's first ones.
        let seen = got
            .iter()
            .filter(|r| r.call_id.as_deref() == Some("in-1"))
            .count();
        let later = notifications(&[
            ("/communications/calls/in-1", "establishing"),
            ("/communications/calls/in-1", "established"),
        ]);
        assert_eq!(post(&mine, &later).await, 202);
        let next = l
            .wait_call("graph::call-answer-1", "in-1", seen, 2, soon())
            .await;
        let states: Vec<_> = next.iter().map(Received::state).collect();
        assert_eq!(states, [Some("establishing"), Some("established")]);
        assert!(l.misrouted_for("graph::call-answer-1").is_empty());
        assert!(l.unclaimed_for("graph::call-answer-1").is_empty());
        assert_eq!(l.unclaimed_for("graph::other").len(), 1);
    }

    #[tokio::test]
    async fn an_entry_on_another_cases_path_is_evidence_for_both() {
        let l = Listener::start(ListenerConfig::default())
            .await
            .expect("listener");
        let (a, b) = ("graph::a", "graph::b");
        assert_eq!(l.claim(a, "call-a"), Ok(()));
        assert_eq!(l.claim(b, "call-b"), Ok(()));
        assert_eq!(l.claim(a, "call-a"), Ok(()), "claiming twice is fine");
        // Case b reuses case a's call id: the first claim stands.
        assert_eq!(l.claim(b, "call-a"), Err("graph..a".to_owned()));
        let ok = notifications(&[("/communications/calls/call-a", "established")]);
        assert_eq!(post(&l.callback_url_for(a), &ok).await, 202);
        // Batched: one entry for b's call on b's path, one for a's call on b's path.
        let mixed = notifications(&[
            ("/communications/calls/call-b", "established"),
            ("/communications/calls/call-a", "terminated"),
        ]);
        assert_eq!(post(&l.callback_url_for(b), &mixed).await, 202);
        // And one for b's call on the untagged callbackUri.
        let untagged = notifications(&[("/communications/calls/call-b", "terminated")]);
        assert_eq!(post(l.callback_url(), &untagged).await, 202);

        let for_a = l.misrouted_for(a);
        assert_eq!(for_a.len(), 1, "{for_a:?}");
        assert_eq!(for_a[0].entry.state(), Some("terminated"));
        assert_eq!(for_a[0].owner, "graph..a");
        assert_eq!(for_a[0].arrived_on.as_deref(), Some("graph..b"));
        let for_b = l.misrouted_for(b);
        let seen: Vec<_> = for_b
            .iter()
            .map(|m| {
                (
                    m.entry.call_id.as_deref(),
                    m.owner.as_str(),
                    m.arrived_on.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                (Some("call-a"), "graph..a", Some("graph..b")),
                (Some("call-b"), "graph..b", None)
            ]
        );
        // Waiting by case and call sees only what arrived on the case's own path.
        let a_sees = l
            .wait_call(a, "call-a", 0, 2, now() + Duration::from_millis(100))
            .await;
        assert_eq!(a_sees.len(), 1);
        assert_eq!(a_sees[0].state(), Some("established"));
        // Waiting by call alone (the runner before it names its case) sees every path.
        assert_eq!(l.wait("call-a", 0, 2, soon()).await.len(), 2);
    }

    #[tokio::test]
    async fn the_budget_and_the_per_call_cap_are_charged_per_entry() {
        let entry = |i: usize| (format!("/communications/calls/c{i}"), "x".repeat(500));
        let single = |i: usize| {
            let (url, pad) = entry(i);
            notifications(&[(url.as_str(), pad.as_str())])
        };
        // What one entry costs, measured on a listener that keeps it.
        let probe = Listener::start(ListenerConfig::default())
            .await
            .expect("listener");
        assert_eq!(post(probe.callback_url(), &single(0)).await, 202);
        let one = probe.summary().stored_bytes;
        drop(probe);
        // Room for about four entries: a batch of eight is refused whole.
        let l = Listener::start(ListenerConfig {
            byte_budget: one * 4 + one / 2,
            ..ListenerConfig::default()
        })
        .await
        .expect("listener");
        let eight: Vec<(String, String)> = (0..8).map(entry).collect();
        let refs: Vec<(&str, &str)> = eight
            .iter()
            .map(|(u, p)| (u.as_str(), p.as_str()))
            .collect();
        assert_eq!(post(l.callback_url(), &notifications(&refs)).await, 507);
        let s = l.summary();
        assert_eq!(s.stored_bytes, 0, "nothing of a refused POST is kept");
        assert_eq!((s.overflow, s.budget_overflow), (8, 8));
        // A batch of three fits, and is charged about three times one entry.
        assert_eq!(
            post(l.callback_url(), &notifications(&refs[..3])).await,
            202
        );
        let three = l.summary().stored_bytes;
        assert!(three > 2 * one && three < 4 * one, "{three} vs {one}");
        assert_eq!(l.received("c2").len(), 1);

        // The per-call cap counts entries, not POSTs.
        let l = Listener::start(ListenerConfig {
            max_per_call: 3,
            ..ListenerConfig::default()
        })
        .await
        .expect("listener");
        let two = notifications(&[
            ("/communications/calls/k", "a"),
            ("/communications/calls/k", "b"),
        ]);
        assert_eq!(post(l.callback_url(), &two).await, 202);
        assert_eq!(post(l.callback_url(), &two).await, 507);
        assert_eq!(l.received("k").len(), 2);
        let s = l.summary();
        assert_eq!((s.overflow, s.budget_overflow), (2, 0));
    }

    #[tokio::test]
    async fn a_secret_in_a_batched_entry_is_redacted_before_the_cut() {
        const SECRET: &str = "batched-secret-0123456789";
        let l = Listener::start(ListenerConfig {
            redact: vec![SECRET.to_owned()],
            ..ListenerConfig::default()
        })
        .await
        .expect("listener");
        // A top-level key every entry keeps, placing the secret across the preview cut.
        let head = r##"{"@odata.type":"#microsoft.graph.commsNotifications","a":""##;
        let pad = "p".repeat(PREVIEW_CHARS - 10 - head.len());
        let body = serde_json::json!({
            "@odata.type": "#microsoft.graph.commsNotifications",
            "a": format!("{pad}{SECRET} and more"),
            "value": [
                {"resourceUrl": "/communications/calls/n1"},
                {"resourceUrl": "/communications/calls/n2"}
            ]
        })
        .to_string();
        assert_eq!(post(l.callback_url(), &body).await, 202);
        let s = l.summary();
        assert_eq!(s.unrouted.len(), 2, "{:?}", s.unrouted);
        for (_, preview) in &s.unrouted {
            assert!(!leaks(preview, SECRET), "{preview}");
            assert!(preview.contains("[redac"), "{preview}");
        }
        // The secret starts before the cut and ends after it: a cut-then-redact would leak.
        let at = l.received("n2")[0]
            .body
            .windows(SECRET.len())
            .position(|w| w == SECRET.as_bytes());
        assert!(
            at.is_some_and(|at| at + 6 < PREVIEW_CHARS && at + SECRET.len() > PREVIEW_CHARS),
            "{at:?}"
        );
    }

    #[tokio::test]
    async fn a_post_of_too_many_entries_is_refused_and_listed() {
        let l = Listener::start(ListenerConfig::default())
            .await
            .expect("listener");
        let tiny = vec![r#"{"resourceUrl":"/communications/calls/t"}"#; entries::MAX_ENTRIES + 1];
        let body = format!(r#"{{"value":[{}]}}"#, tiny.join(","));
        assert_eq!(post(l.callback_url(), &body).await, 413);
        let s = l.summary();
        assert_eq!(s.refused.len(), 1, "{:?}", s.refused);
        assert!(s.refused[0].reason.contains("entries in one POST"));
        assert!(!leaks(&s.refused[0].path, l.token()));
        assert!(l.received("t").is_empty());
    }
}
