//! Stage 2: the request as it goes on the wire, and the transport that sends it.
//! The transport is a small trait so tests and benchmarks can swap it.

use crate::response::Response;
use bytes::Bytes;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

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
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(classify)? {
            if body.len() + chunk.len() > cap {
                return Err(TransportError::TooLarge { limit: cap });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Response::new(
            status,
            headers,
            Bytes::from(body),
            started.elapsed(),
        ))
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

/// The namespace UM operations live in; a SOAPAction is `<this>/<Operation>`.
const UM_MESSAGES_NS: &str = "http://schemas.microsoft.com/exchange/services/2006/messages";
const SOAP11_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";

/// How UM requests carry the `SOAPAction` header (profile `[um] soap_action`).
///
/// WSDL-driven clients send the value the WSDL declares, quoted (SOAP 1.1 §6.1.1); ASMX
/// servers (Exchange 2007) route on it and fault without it, Exchange 2010+ ignores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SoapAction {
    /// `SOAPAction: "http://.../messages/<Operation>"`.
    #[default]
    Quoted,
    /// `SOAPAction: http://.../messages/<Operation>`, for servers that compare it verbatim.
    Unquoted,
    /// No header at all.
    None,
}

impl SoapAction {
    /// The profile spellings, for messages.
    pub const NAMES: &'static str = "\"quoted\" (default), \"unquoted\" or \"none\"";

    pub fn parse(s: &str) -> Option<SoapAction> {
        match s {
            "quoted" => Some(SoapAction::Quoted),
            "unquoted" => Some(SoapAction::Unquoted),
            "none" => Some(SoapAction::None),
            _ => None,
        }
    }

    /// The header value for a SOAP 1.1 request body, or `None` when this form sends none
    /// or the body names no operation.
    pub fn value_for(self, body: &str) -> Option<String> {
        if self == SoapAction::None {
            return None;
        }
        let op = soap_operation(body)?;
        Some(match self {
            SoapAction::Quoted => format!("\"{UM_MESSAGES_NS}/{op}\""),
            _ => format!("{UM_MESSAGES_NS}/{op}"),
        })
    }
}

/// The local name of the first child element of the SOAP 1.1 `Body`: the operation.
/// Reads only up to that element, so it costs a few hundred bytes of parsing per request.
pub fn soap_operation(body: &str) -> Option<String> {
    use quick_xml::events::Event;
    use quick_xml::name::ResolveResult;
    let mut r = quick_xml::reader::NsReader::from_str(body);
    let mut depth = 0usize;
    let mut in_body = false;
    loop {
        match r.read_event().ok()? {
            Event::Start(e) => {
                depth += 1;
                if depth == 3 && in_body {
                    return Some(e.local_name().as_ref().to_owned());
                }
                if depth == 2 {
                    let (ns, local) = r.resolver().resolve_element(e.name());
                    in_body = local.as_ref() == "Body"
                        && matches!(ns, ResolveResult::Bound(n) if n.as_ref() == SOAP11_NS);
                }
            }
            Event::Empty(e) if depth == 2 && in_body => {
                return Some(e.local_name().as_ref().to_owned());
            }
            Event::End(_) => {
                if depth == 2 {
                    in_body = false;
                }
                depth = depth.checked_sub(1)?;
            }
            Event::Eof => return None,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GCI: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
  <soap:Header><Ignored xmlns="urn:x"/></soap:Header>
  <soap:Body>
    <GetCallInfo xmlns="http://schemas.microsoft.com/exchange/services/2006/messages">
      <CallId>abc</CallId>
    </GetCallInfo>
  </soap:Body>
</soap:Envelope>"#;

    #[test]
    fn operation_is_the_first_body_child() {
        assert_eq!(soap_operation(GCI).as_deref(), Some("GetCallInfo"));
        let prefixed = r#"<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="urn:m"><e:Body><m:Disconnect/></e:Body></e:Envelope>"#;
        assert_eq!(soap_operation(prefixed).as_deref(), Some("Disconnect"));
        // Not SOAP 1.1, no Body, an empty Body, not XML: no operation.
        for body in [
            r#"<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body><X/></e:Body></e:Envelope>"#,
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header><X/></s:Header></s:Envelope>"#,
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>"#,
            "{\"json\": true}",
            "",
        ] {
            assert_eq!(soap_operation(body), None, "{body}");
        }
    }

    #[test]
    fn soap_action_forms() {
        let ns = UM_MESSAGES_NS;
        assert_eq!(
            SoapAction::Quoted.value_for(GCI),
            Some(format!("\"{ns}/GetCallInfo\""))
        );
        assert_eq!(
            SoapAction::Unquoted.value_for(GCI),
            Some(format!("{ns}/GetCallInfo"))
        );
        assert_eq!(SoapAction::None.value_for(GCI), None);
        assert_eq!(SoapAction::default(), SoapAction::Quoted);
        assert_eq!(SoapAction::parse("unquoted"), Some(SoapAction::Unquoted));
        assert_eq!(SoapAction::parse("Quoted"), None);
    }
}
