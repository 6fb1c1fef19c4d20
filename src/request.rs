//! Stage 2: the request as it goes on the wire, and the transport that sends it.
//! The transport is a small trait so tests and benchmarks can swap it.

use crate::response::Response;
use bytes::Bytes;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

/// Where one family's cases go.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Target {
    pub base_url: String,
    /// Added to every request of the family (authentication); values are secrets.
    pub headers: Vec<(String, String)>,
    /// Family-specific settings from the profile, read by the family (`soap_action`).
    pub options: std::collections::BTreeMap<String, String>,
    /// How to make the target cause what a trigger step names (`incoming-call`); a case
    /// whose trigger the target has no way to cause is ignored with the reason.
    pub triggers: std::collections::BTreeMap<String, Trigger>,
}

/// How the harness asks a target to cause an event (offer an incoming call). `{{var}}`
/// placeholders (`{{callback_url}}` above all) are rendered in every string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// Send this request; any 2xx answer means the event is on its way.
    Http {
        method: String,
        url: String,
        body: Option<String>,
    },
    /// Run this program (argv); exit status 0 means the event is on its way.
    Command(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct PreparedRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

/// Why no response could be judged. `Unreachable` is kept apart so a run can exit 3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    Unreachable(String),
    Timeout(String),
    TooLarge { limit: usize },
    Redirect { status: u16, location: String },
    Protocol(String),
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TransportError::Unreachable(m) => write!(f, "target unreachable: {m}"),
            TransportError::Timeout(m) => write!(f, "timed out: {m}"),
            TransportError::TooLarge { limit } => {
                write!(
                    f,
                    "response body exceeds the {limit} byte cap; reading stopped"
                )
            }
            TransportError::Redirect { status, location } => write!(
                f,
                "target answered {status} redirecting to `{location}`; redirects are not followed"
            ),
            TransportError::Protocol(m) => write!(f, "broken HTTP exchange: {m}"),
        }
    }
}

pub type SendFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Response, TransportError>> + Send + 'a>>;

pub trait Transport: Send + Sync {
    fn send<'a>(&'a self, req: &'a PreparedRequest) -> SendFuture<'a>;
}

#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub max_body: usize,
    /// Extra PEM CA certificates to trust.
    pub ca_pem: Option<Vec<u8>>,
    /// PEM client certificate and key, concatenated.
    pub client_identity_pem: Option<Vec<u8>>,
    pub insecure: bool,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            max_body: 4 * 1024 * 1024,
            ca_pem: None,
            client_identity_pem: None,
            insecure: false,
        }
    }
}

/// One pooled reqwest client for the whole run: retries off, redirects reported.
pub struct HttpTransport {
    client: reqwest::Client,
    opts: HttpOptions,
}

impl HttpTransport {
    pub fn new(opts: HttpOptions) -> Result<Self, String> {
        let mut b = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .retry(reqwest::retry::never())
            .no_proxy()
            .timeout(opts.timeout)
            .connect_timeout(opts.connect_timeout)
            .pool_max_idle_per_host(64)
            .user_agent(concat!("callconform/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &opts.ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| format!("extra CA file: {e}"))?;
            for c in certs {
                b = b.add_root_certificate(c);
            }
        }
        if let Some(pem) = &opts.client_identity_pem {
            let id =
                reqwest::Identity::from_pem(pem).map_err(|e| format!("client certificate: {e}"))?;
            b = b.identity(id);
        }
        if opts.insecure {
            b = b.danger_accept_invalid_certs(true);
        }
        let client = b.build().map_err(|e| format!("HTTP client: {e}"))?;
        Ok(HttpTransport { client, opts })
    }

    async fn send_inner(&self, req: &PreparedRequest) -> Result<Response, TransportError> {
        let method = reqwest::Method::from_bytes(req.method.as_bytes())
            .map_err(|_| TransportError::Protocol(format!("bad method {}", req.method)))?;
        let mut rb = self.client.request(method, &req.url);
        for (k, v) in &req.headers {
            rb = rb.header(k, v);
        }
        if let Some(body) = &req.body {
            rb = rb.body(body.clone());
        }
        let started = Instant::now();
        let mut resp = rb.send().await.map_err(classify)?;
        let status = resp.status().as_u16();
        let headers: Vec<(String, String)> = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        if (300..400).contains(&status) {
            let location = resp
                .headers()
                .get("location")
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .unwrap_or_default();
            return Err(TransportError::Redirect { status, location });
        }
        let cap = self.opts.max_body;
        if resp.content_length().is_some_and(|n| n > cap as u64) {
            return Err(TransportError::TooLarge { limit: cap });
        }
        // A small answer arrives as one chunk: keep it as it came, copy only to join several.
        let mut first: Option<Bytes> = None;
        let mut joined: Vec<u8> = Vec::new();
        let mut len = 0usize;
        while let Some(chunk) = resp.chunk().await.map_err(classify)? {
            len += chunk.len();
            if len > cap {
                return Err(TransportError::TooLarge { limit: cap });
            }
            match first.take() {
                None if joined.is_empty() => first = Some(chunk),
                None => joined.extend_from_slice(&chunk),
                Some(f) => {
                    joined.reserve(f.len() + chunk.len());
                    joined.extend_from_slice(&f);
                    joined.extend_from_slice(&chunk);
                }
            }
        }
        let body = first.unwrap_or_else(|| Bytes::from(joined));
        Ok(Response::new(status, headers, body, started.elapsed()))
    }
}

fn classify(e: reqwest::Error) -> TransportError {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    if e.is_timeout() {
        TransportError::Timeout(msg)
    } else if e.is_connect() {
        TransportError::Unreachable(msg)
    } else {
        TransportError::Protocol(msg)
    }
}

impl Transport for HttpTransport {
    fn send<'a>(&'a self, req: &'a PreparedRequest) -> SendFuture<'a> {
        Box::pin(self.send_inner(req))
    }
}
