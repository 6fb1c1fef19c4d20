//! The webhook listener: receives the notifications a Graph target POSTs to the callbackUri
//! the harness handed out, and routes them to the waiting case by the call id in
//! `resourceUrl`. Nothing is dropped silently: refused POSTs, notifications for no known
//! call and overflow are all kept (bounded) for the report.
//!
//! Memory is bounded by a byte budget over everything kept (bodies plus an estimate of
//! their parsed JSON), not by a count: a count times the largest body allowed is a bound
//! nobody can afford (20,000 × 64 KiB was over 1.3 GiB). With a certificate and key the
//! listener serves https ([`ListenerTls`]), as Graph-like services require.

mod tls;
pub use tls::{ListenerTls, read_roots};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
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
    /// Notifications kept per call; more are refused (507 Insufficient Storage) and counted
    /// as overflow.
    pub max_per_call: usize,
    /// Refused or unroutable POSTs kept for the report; more are counted.
    pub max_kept: usize,
    /// Bytes kept across all calls: every stored notification is charged its body plus an
    /// estimate of its parsed JSON (and a new call id its key). Past the budget a POST is
    /// refused with 507, so a flood naming a million call ids stays bounded. Default
    /// [`DEFAULT_BYTE_BUDGET`].
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

/// One POST that reached the listener.
#[derive(Debug, Clone)]
pub struct Received {
    /// Arrival order across the whole run.
    pub seq: u64,
    pub at: Instant,
    pub path: String,
    /// The raw `Authorization` header, if any (kept only to be checked, never printed).
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub body: Bytes,
    pub json: Result<serde_json::Value, String>,
    pub call_id: Option<String>,
    /// The case tag of the callbackUri it was POSTed to (`/callbacks/<token>/<tag>`).
    pub tag: Option<String>,
}

impl Received {
    /// `resourceData.state` of the first entry, the notification's name in the docs.
    pub fn state(&self) -> Option<&str> {
        self.json
            .as_ref()
            .ok()?
            .pointer("/value/0/resourceData/state")?
            .as_str()
    }
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

#[derive(Default)]
struct Mailbox {
    items: Vec<Received>,
    overflow: u64,
    tx: Option<watch::Sender<usize>>,
}

impl Mailbox {
    fn sender(&mut self) -> &watch::Sender<usize> {
        self.tx.get_or_insert_with(|| watch::channel(0).0)
    }
}

#[derive(Default)]
struct State {
    seq: u64,
    /// Bytes charged against `byte_budget` (see [`ListenerConfig::byte_budget`]).
    stored_bytes: usize,
    /// Notifications refused because the byte budget was spent.
    total_overflow: u64,
    mailboxes: HashMap<String, Mailbox>,
    claimed: std::collections::HashSet<String>,
    refused: Vec<Refused>,
    refused_overflow: u64,
    unrouted: Vec<Received>,
    unrouted_overflow: u64,
}

/// What the run report says about the listener.
#[derive(Debug, Clone, Default)]
pub struct ListenerSummary {
    pub refused: Vec<Refused>,
    pub refused_overflow: u64,
    /// Notifications whose resourceUrl named no call, or a call no case ever waited for.
    pub unrouted: Vec<(Option<String>, String)>,
    pub unrouted_overflow: u64,
    /// Notifications refused past the per-call cap or the byte budget.
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

/// The call id a `resourceUrl` names: the segment after `/calls/`.
pub fn call_id_of(resource_url: &str) -> Option<&str> {
    let idx = resource_url.rfind("/calls/")?;
    let rest = &resource_url[idx + "/calls/".len()..];
    let id = rest.split(['/', '?', '#']).next()?;
    (!id.is_empty()).then_some(id)
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

    /// Notifications POSTed to a case's callbackUri that went to a call nobody waits for
    /// (or named no call): what a case looks at when its notifications never came.
    pub fn unclaimed_for(&self, tag: &str) -> Vec<Received> {
        let tag = sanitize_tag(tag);
        let st = lock(&self.state);
        let mut out: Vec<Received> = st
            .mailboxes
            .iter()
            .filter(|(id, _)| !st.claimed.contains(*id))
            .flat_map(|(_, m)| m.items.iter())
            .chain(st.unrouted.iter())
            .filter(|r| r.tag.as_deref() == Some(tag.as_str()))
            .cloned()
            .collect();
        out.sort_by_key(|r| r.seq);
        out
    }

    /// The run's secret, for redaction.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Waits until `count` notifications after `cursor` have arrived for `call_id`, or the
    /// deadline passes; returns what arrived (possibly fewer). Never blocks past `deadline`.
    pub async fn wait(
        &self,
        call_id: &str,
        cursor: usize,
        count: usize,
        deadline: tokio::time::Instant,
    ) -> Vec<Received> {
        let mut rx = {
            let mut st = lock(&self.state);
            st.claimed.insert(call_id.to_owned());
            st.mailboxes
                .entry(call_id.to_owned())
                .or_default()
                .sender()
                .subscribe()
        };
        loop {
            let have = *rx.borrow_and_update();
            if have >= cursor + count {
                break;
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => continue,
                _ => break,
            }
        }
        let st = lock(&self.state);
        st.mailboxes
            .get(call_id)
            .map(|m| m.items.iter().skip(cursor).cloned().collect())
            .unwrap_or_default()
    }

    /// Waits until `count` notifications after `cursor` have arrived on the callback path of
    /// case `tag`, whatever call they name (a trigger step, before the call is known), or
    /// the deadline passes.
    pub async fn wait_tag(
        &self,
        tag: &str,
        cursor: usize,
        count: usize,
        deadline: tokio::time::Instant,
    ) -> Vec<Received> {
        let tag = sanitize_tag(tag);
        loop {
            let got: Vec<Received> = {
                let st = lock(&self.state);
                let mut v: Vec<Received> = st
                    .mailboxes
                    .values()
                    .flat_map(|m| m.items.iter())
                    .chain(st.unrouted.iter())
                    .filter(|r| r.tag.as_deref() == Some(tag.as_str()))
                    .cloned()
                    .collect();
                v.sort_by_key(|r| r.seq);
                v.into_iter().skip(cursor).collect()
            };
            if got.len() >= count || tokio::time::Instant::now() >= deadline {
                return got;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// Every notification received so far for a call (for the quiet period after the last one).
    pub fn received(&self, call_id: &str) -> Vec<Received> {
        let st = lock(&self.state);
        st.mailboxes
            .get(call_id)
            .map(|m| m.items.clone())
            .unwrap_or_default()
    }

    /// A short preview of a body: redacted first, then cut, so a secret straddling the
    /// cut cannot leave its prefix behind.
    fn preview(&self, body: &[u8]) -> String {
        let text = String::from_utf8_lossy(body);
        let clean = crate::report::redact(&text, &self.redact);
        crate::response::preview(clean.as_bytes(), PREVIEW_CHARS)
    }

    pub fn summary(&self) -> ListenerSummary {
        let st = lock(&self.state);
        let mut unrouted: Vec<(Option<String>, String)> = st
            .unrouted
            .iter()
            .map(|r| (r.call_id.clone(), self.preview(&r.body)))
            .collect();
        let mut overflow = st.total_overflow;
        let mut unrouted_overflow = st.unrouted_overflow;
        let mut unclaimed: Vec<&Received> = Vec::new();
        for (id, mb) in &st.mailboxes {
            overflow += mb.overflow;
            if !st.claimed.contains(id) {
                unclaimed.extend(&mb.items);
            }
        }
        // In arrival order, and no more than the report can read.
        unclaimed.sort_by_key(|r| r.seq);
        for r in unclaimed {
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
            overflow,
            budget_overflow: st.total_overflow,
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

/// Memory a parsed JSON value holds, roughly: a node per value plus its strings and keys.
/// An estimate is enough for a budget; it errs on the high side.
fn json_cost(v: &serde_json::Value) -> usize {
    const NODE: usize = std::mem::size_of::<serde_json::Value>();
    NODE + match v {
        serde_json::Value::String(s) => s.len(),
        serde_json::Value::Array(a) => a.iter().map(json_cost).sum(),
        serde_json::Value::Object(m) => m
            .iter()
            // The key's String and a map entry's links.
            .map(|(k, v)| k.len() + 2 * NODE + json_cost(v))
            .sum(),
        _ => 0,
    }
}

/// What keeping one received notification costs against the byte budget.
fn cost(r: &Received) -> usize {
    let parsed = r.json.as_ref().map_or_else(|e| e.len(), json_cost);
    std::mem::size_of::<Received>()
        + r.body.len()
        + parsed
        + r.path.len()
        + r.authorization.as_ref().map_or(0, String::len)
        + r.content_type.as_ref().map_or(0, String::len)
        + r.call_id.as_ref().map_or(0, String::len)
        + r.tag.as_ref().map_or(0, String::len)
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
            let clean = crate::report::redact(path, &self.config.redact);
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
        let json = serde_json::from_slice::<serde_json::Value>(&body).map_err(|e| e.to_string());
        let call_id = json
            .as_ref()
            .ok()
            .and_then(|v| v.pointer("/value/0/resourceUrl"))
            .and_then(|v| v.as_str())
            .and_then(call_id_of)
            .map(str::to_owned);
        let rec = Received {
            seq: 0,
            at: Instant::now(),
            path: path.clone(),
            authorization,
            content_type,
            body,
            json,
            call_id: call_id.clone(),
            tag,
        };
        let mut charge = cost(&rec);
        let mut st = lock(&self.state);
        let budget = self.config.byte_budget;
        let refusal = match &call_id {
            Some(id) => {
                if !st.mailboxes.contains_key(id) {
                    charge += id.len() + std::mem::size_of::<Mailbox>();
                }
                let full = st
                    .mailboxes
                    .get(id)
                    .is_some_and(|m| m.items.len() >= self.config.max_per_call);
                if full {
                    if let Some(mb) = st.mailboxes.get_mut(id) {
                        mb.overflow += 1;
                    }
                    Some(format!(
                        "more than {} notifications for one call",
                        self.config.max_per_call
                    ))
                } else if st.stored_bytes + charge > budget {
                    st.total_overflow += 1;
                    Some(format!("the listener's {budget} byte budget is spent"))
                } else {
                    None
                }
            }
            // Unrouted notifications are listed after the run, at most max_kept of them.
            None if st.unrouted.len() >= self.config.max_kept => {
                st.unrouted_overflow += 1;
                None
            }
            None if st.stored_bytes + charge > budget => {
                st.total_overflow += 1;
                Some(format!("the listener's {budget} byte budget is spent"))
            }
            None => None,
        };
        if let Some(reason) = refusal {
            // Counted, not listed one by one: a flood would crowd out every other finding.
            return reply(OVER_BUDGET, &reason);
        }
        st.seq += 1;
        let rec = Received { seq: st.seq, ..rec };
        match call_id {
            Some(id) => {
                let mb = st.mailboxes.entry(id).or_default();
                mb.items.push(rec);
                let n = mb.items.len();
                mb.sender().send_replace(n);
                st.stored_bytes += charge;
            }
            None => {
                if st.unrouted.len() < self.config.max_kept {
                    st.unrouted.push(rec);
                    st.stored_bytes += charge;
                }
            }
        }
        reply(StatusCode::ACCEPTED, "")
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

    #[test]
    fn json_cost_counts_nodes_strings_and_keys() {
        let small = json_cost(&serde_json::json!({"a": 1}));
        let big = json_cost(&serde_json::json!({"a": 1, "bbbb": "x".repeat(100)}));
        assert!(big >= small + 100 + 4, "{small} {big}");
    }

    #[test]
    fn call_id_from_resource_url() {
        assert_eq!(call_id_of("/communications/calls/abc"), Some("abc"));
        assert_eq!(call_id_of("/app/calls/abc/operations/x"), Some("abc"));
        assert_eq!(call_id_of("/communications/calls/"), None);
        assert_eq!(call_id_of("/nothing"), None);
    }
}
