//! The Exchange Unified Messaging (UM) SOAP 1.1 half of the reference target.
//!
//! Behaviour follows the notes in `domain.md` §1: dispatch by the Body's first child, only
//! in the `http://` messages namespace (case-insensitive, as Exchange compares); nested
//! response elements; CallId = base64(`session|fqdn`); UM faults with HTTP 500.

use std::collections::{HashMap, VecDeque};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hyper::body::Incoming;
use hyper::header::{ALLOW, CONTENT_TYPE};
use hyper::{Method, Request, StatusCode};
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

use super::http::{self, BodyError, Resp, xml_escape};
use super::{Deviation, State, lock};

pub(crate) const MSG_NS: &str = "http://schemas.microsoft.com/exchange/services/2006/messages";
const MSG_NS_HTTPS: &str = "https://schemas.microsoft.com/exchange/services/2006/messages";
pub(crate) const SOAP_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";
const XSD_NS: &str = "http://www.w3.org/2001/XMLSchema";
const TYPES_NS: &str = "http://schemas.microsoft.com/exchange/services/2006/types";
const ERRORS_NS: &str = "http://schemas.microsoft.com/exchange/services/2006/errors";

/// Second half of every CallId this target issues; `.invalid` so it can never resolve.
const CALLID_FQDN: &str = "um.reference.callconform.invalid";
/// Appended to every CallId under `um-hostile-call-id`: XML markup characters a client must
/// escape when it sends the CallId back.
pub(crate) const HOSTILE_CALLID_SUFFIX: &str = "&<>\"'";
/// Exchange 2013/2016 rejects longer CallIds before decoding them.
const MAX_CALLID_LEN: usize = 1420;
/// Live calls kept at most; beyond this PlayOnPhone answers a busy fault instead of growing.
const MAX_CALLS: usize = 10_000;
/// Ended calls remembered at most, so a client polling a call it just ended reads
/// `Disconnected`; past this the oldest is forgotten (and then faults as unknown).
pub(crate) const MAX_DISCONNECTED: usize = 10_000;

const XML_CT: &str = "text/xml; charset=utf-8";
const DOC_DECL: &str = r#"<?xml version="1.0" encoding="utf-8" ?>"#;

/// Both documented endpoint paths (Exchange 2013+ and Exchange 2007), case-insensitive.
pub(crate) const UM_PATHS: [&str; 2] = ["/EWS/UM2007Legacy.asmx", "/UnifiedMessaging/Service.asmx"];

pub(crate) fn is_um_path(path: &str) -> bool {
    UM_PATHS.iter().any(|p| p.eq_ignore_ascii_case(path))
}

/// In-memory UM state: live calls, recently ended ones, and the (single, server-wide)
/// mailbox's UM properties.
pub(crate) struct UmState {
    calls: HashMap<String, UmCall>,
    ended: EndedCalls,
    props: UmProperties,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct UmCall {
    state: &'static str,
    cause: &'static str,
    /// When PlayOnPhone placed it: a ringing call's state follows from its age.
    placed: std::time::Instant,
}

/// How long a ringing call dials before the far phone rings, and rings before it is answered.
const DIALLING: std::time::Duration = std::time::Duration::from_millis(500);
const RINGING: std::time::Duration = std::time::Duration::from_millis(1500);

impl UmCall {
    /// The state GetCallInfo reports now: as stored, unless the call is still ringing
    /// (the `um-rings-first` / `um-never-connects` deviations).
    fn state_now(&self, state: &State) -> &'static str {
        if self.state != "Connected" {
            return self.state;
        }
        let age = self.placed.elapsed();
        let rings = state.has(Deviation::UmRingsFirst) || state.has(Deviation::UmNeverConnects);
        match (rings, age) {
            (false, _) => self.state,
            (true, a) if a < DIALLING => "Connecting",
            (true, a) if a < RINGING || state.has(Deviation::UmNeverConnects) => "Alerted",
            _ => self.state,
        }
    }
}

/// Disconnected calls, bounded: insertion order is kept so the oldest is evicted first.
#[derive(Default)]
struct EndedCalls {
    by_id: HashMap<String, UmCall>,
    order: VecDeque<String>,
    cap: usize,
}

impl EndedCalls {
    fn with_cap(cap: usize) -> Self {
        EndedCalls {
            cap,
            ..EndedCalls::default()
        }
    }

    /// Remembers an ended call; `cause` is one of the documented EventCause values
    /// (`None` when the client hung up).
    fn insert(&mut self, id: String, cause: &'static str) {
        let call = UmCall {
            state: "Disconnected",
            cause,
            placed: std::time::Instant::now(),
        };
        if let Some(known) = self.by_id.get_mut(&id) {
            *known = call;
            return;
        }
        if self.cap == 0 {
            return;
        }
        while self.order.len() >= self.cap {
            match self.order.pop_front() {
                Some(old) => {
                    self.by_id.remove(&old);
                }
                None => break,
            }
        }
        self.by_id.insert(id.clone(), call);
        self.order.push_back(id);
    }

    fn get(&self, id: &str) -> Option<UmCall> {
        self.by_id.get(id).copied()
    }
}

/// The mailbox's own UM properties under `um-mailbox-own-values`: a dial string, an access
/// number and a folder id of the documented types, none the example's.
const OWN_DIAL_STRING: &str = "+14255550100";
const OWN_ACCESS_NUMBERS: &str = "+14255550199";
const OWN_FOLDER_EMAIL: &str = "AAAAAB7tQ4ZkjE1Lk2vO3mH0zJIBAEX2ikn/L8JJtI5WHI0FAW8AAAFXHhwAAA==";

/// Starts with the values of the documented GetUMProperties example.
struct UmProperties {
    oof: bool,
    missed_call_notification: bool,
    dial_string: String,
    access_numbers: String,
    folder_email: String,
}

impl Default for UmState {
    fn default() -> Self {
        UmState {
            calls: HashMap::new(),
            ended: EndedCalls::with_cap(MAX_DISCONNECTED),
            props: UmProperties {
                oof: false,
                missed_call_notification: true,
                dial_string: "12345".into(),
                access_numbers: "54321".into(),
                folder_email: "AAAAAGsd2rbQLVtLobUGbrq/9IUBAEX2ikn/L8JJtI5WHI0FAW8AAAFXHhsAAA=="
                    .into(),
            },
        }
    }
}

pub(crate) async fn handle(state: &State, req: Request<Incoming>) -> Resp {
    if state.has(Deviation::UmExchange2007PathOnly)
        && !req.uri().path().eq_ignore_ascii_case(UM_PATHS[1])
    {
        return http::response(
            StatusCode::NOT_FOUND,
            Some("text/plain; charset=utf-8"),
            "not found\n",
        );
    }
    match *req.method() {
        Method::POST => post(state, req).await,
        Method::GET if wants_wsdl(req.uri().query()) => {
            let host = http::request_host(req.headers()).unwrap_or_else(|| state.addr.to_string());
            let location = format!("http://{host}{}", req.uri().path());
            http::response(
                StatusCode::OK,
                Some(XML_CT),
                super::wsdl::document(&location),
            )
        }
        Method::GET => http::response(
            StatusCode::OK,
            Some("text/html; charset=utf-8"),
            "<html><head><title>UM web service</title></head><body>\
             <p>Exchange UM web service (callconform reference target). \
             POST SOAP 1.1 requests here; the WSDL is at <code>?wsdl</code>.</p></body></html>\n",
        ),
        _ => http::with_header(
            http::response(
                StatusCode::METHOD_NOT_ALLOWED,
                Some("text/plain; charset=utf-8"),
                "method not allowed\n",
            ),
            ALLOW.as_str(),
            "GET, POST",
        ),
    }
}

/// `text/xml`, optionally followed by parameters (`; charset=utf-8`), as Exchange accepts.
fn is_text_xml(v: &str) -> bool {
    let v = v.trim_start().to_ascii_lowercase();
    v.strip_prefix("text/xml")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(';') || rest.starts_with(' '))
}

fn wants_wsdl(query: Option<&str>) -> bool {
    query.is_some_and(|q| {
        q.split('&').any(|p| {
            let key = p.split('=').next().unwrap_or("");
            key.eq_ignore_ascii_case("wsdl")
        })
    })
}

/// The header ASMX (Exchange 2007) dispatches on; Exchange 2010+ ignores it.
const SOAP_ACTION: &str = "soapaction";

/// The operation a SOAPAction value names (`"<messages ns>/<Operation>"`, quotes optional),
/// if it names one of the contract's operations.
fn soap_action_operation(value: &str) -> Option<&'static str> {
    let v = value.trim();
    let v = v
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(v);
    let op = v.strip_prefix(MSG_NS)?.strip_prefix('/')?;
    super::wsdl::OPERATIONS.iter().copied().find(|o| *o == op)
}

/// ASMX's answer to a SOAPAction it cannot route: HTTP 500, a `soap:Client` fault.
fn soap_action_fault(value: &str) -> Resp {
    fault(
        StatusCode::INTERNAL_SERVER_ERROR,
        fault_envelope(&format!(
            "      <faultcode>s:Client</faultcode>\n      \
             <faultstring>Server did not recognize the value of HTTP Header SOAPAction: {}.</faultstring>\n      \
             <detail />\n",
            xml_escape(value)
        )),
    )
}

async fn post(state: &State, req: Request<Incoming>) -> Resp {
    let (parts, body) = req.into_parts();
    // Under `um-require-soap-action`, the header must name an operation (checked before
    // the body is read, as ASMX routes on it) and, below, the one the Body carries.
    let required_action = if state.has(Deviation::UmRequireSoapAction) {
        let value = parts
            .headers
            .get(SOAP_ACTION)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        match soap_action_operation(&value) {
            Some(op) => Some((value.clone(), op)),
            None => return soap_action_fault(value.trim().trim_matches('"')),
        }
    } else {
        None
    };
    let ct_ok = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(is_text_xml);
    if !ct_ok {
        return fault(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ews_fault(
                "ErrorInvalidRequest",
                "The request must be a SOAP 1.1 message with Content-Type text/xml.",
            ),
        );
    }
    let bytes = match http::read_body(&parts.headers, body).await {
        Ok(b) => b,
        Err(BodyError::TooLarge) => {
            return fault(
                StatusCode::PAYLOAD_TOO_LARGE,
                ews_fault("ErrorInvalidRequest", "The request is too large."),
            );
        }
        Err(BodyError::Timeout) => {
            return fault(
                StatusCode::REQUEST_TIMEOUT,
                ews_fault(
                    "ErrorInvalidRequest",
                    "The request body was not received in time.",
                ),
            );
        }
        Err(BodyError::Broken) => {
            return fault(
                StatusCode::BAD_REQUEST,
                ews_fault("ErrorInvalidRequest", "The request body could not be read."),
            );
        }
    };
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let Ok(text) = std::str::from_utf8(bytes) else {
        return fault(
            StatusCode::INTERNAL_SERVER_ERROR,
            ews_fault("ErrorInvalidRequest", "The request is not valid UTF-8."),
        );
    };
    let request = match parse_envelope(text) {
        Ok(r) => r,
        Err(ParseError::VersionMismatch) => {
            return fault(StatusCode::INTERNAL_SERVER_ERROR, version_mismatch_fault());
        }
        Err(ParseError::Invalid(why)) => {
            return fault(
                StatusCode::INTERNAL_SERVER_ERROR,
                ews_fault(
                    "ErrorInvalidRequest",
                    &format!("The request is invalid: {why}"),
                ),
            );
        }
    };
    // Exchange's selector: only the http:// messages namespace, compared case-insensitively.
    if !request.op_ns.eq_ignore_ascii_case(MSG_NS) {
        return fault(
            StatusCode::INTERNAL_SERVER_ERROR,
            ews_fault(
                "ErrorInvalidRequest",
                "The request is invalid: the operation element is not in the namespace \
                 http://schemas.microsoft.com/exchange/services/2006/messages.",
            ),
        );
    }
    if let Some((value, op)) = required_action
        && op != request.op
    {
        return soap_action_fault(value.trim().trim_matches('"'));
    }
    dispatch(state, &request)
}

// ---------------------------------------------------------------------------------------
// Request parsing

/// What the target needs from a SOAP request: the operation element and its direct
/// children's text.
#[derive(Debug)]
struct SoapRequest {
    op_ns: String,
    op: String,
    params: Vec<Param>,
}

#[derive(Debug)]
struct Param {
    ns: String,
    name: String,
    text: String,
}

impl SoapRequest {
    /// First direct child with this local name in the operation's namespace (which is how
    /// the documented requests write them: inheriting the default namespace).
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|p| p.name == name && p.ns == self.op_ns)
            .map(|p| p.text.trim())
    }
}

#[derive(Debug, PartialEq)]
enum ParseError {
    /// The root element is an `Envelope`, but not SOAP 1.1's.
    VersionMismatch,
    Invalid(String),
}

const MAX_PARAMS: usize = 64;
const MAX_PARAM_TEXT: usize = 64 * 1024;

/// Parses a SOAP 1.1 envelope namespace-aware. The whole document is read so that
/// malformed input anywhere is reported, but only the operation element is kept.
fn parse_envelope(xml: &str) -> Result<SoapRequest, ParseError> {
    let mut r = NsReader::from_str(xml);
    r.config_mut().expand_empty_elements = true;
    r.config_mut().check_end_names = true;
    let mut env = Envelope::default();
    loop {
        let ev = r.read_event().map_err(|e| invalid(e.to_string()))?;
        match ev {
            Event::DocType(_) => {
                return Err(invalid("document type declarations are not allowed".into()));
            }
            Event::Start(e) => {
                let (ns, local) = element_name(&r, &e)?;
                env.start(ns, local)?;
            }
            Event::End(_) => env.end()?,
            Event::Text(t) => {
                let t = t.xml10_content();
                if env.depth == 0 && !t.trim().is_empty() {
                    return Err(invalid("text outside the root element".into()));
                }
                push_text(env.depth, &mut env.cur, &t)?;
            }
            Event::CData(c) => {
                if env.depth == 0 {
                    return Err(invalid("CDATA outside the root element".into()));
                }
                push_text(env.depth, &mut env.cur, &c.xml10_content())?;
            }
            Event::GeneralRef(g) => {
                let resolved = resolve_reference(&g)?;
                push_text(env.depth, &mut env.cur, &resolved)?;
            }
            Event::Eof => break,
            Event::Empty(_) | Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
    }
    env.finish()
}

fn invalid(s: String) -> ParseError {
    ParseError::Invalid(s)
}

/// An element's namespace and local name; an unknown prefix on it or on any of its
/// attributes makes the document malformed.
fn element_name(
    r: &NsReader<&[u8]>,
    e: &quick_xml::events::BytesStart<'_>,
) -> Result<(String, String), ParseError> {
    for a in e.attributes() {
        let a = a.map_err(|e| invalid(e.to_string()))?;
        if a.key.as_namespace_binding().is_some() {
            continue;
        }
        if let (ResolveResult::Unknown(p), _) = r.resolver().resolve_attribute(a.key) {
            return Err(invalid(format!("unknown namespace prefix `{p}`")));
        }
    }
    let (res, local) = r.resolver().resolve_element(e.name());
    let ns = match res {
        ResolveResult::Bound(n) => n.0.to_owned(),
        ResolveResult::Unbound => String::new(),
        ResolveResult::Unknown(p) => {
            return Err(invalid(format!("unknown namespace prefix `{p}`")));
        }
    };
    let local: &str = local.as_ref();
    Ok((ns, local.to_owned()))
}

/// A character or predefined entity reference as text; any other entity is undefined.
fn resolve_reference(g: &quick_xml::events::BytesRef<'_>) -> Result<String, ParseError> {
    match g.resolve_char_ref() {
        Ok(Some(ch)) => Ok(ch.to_string()),
        Ok(None) => match quick_xml::escape::resolve_predefined_entity(g) {
            Some(s) => Ok(s.to_owned()),
            None => Err(invalid(format!("undefined entity `&{};`", &**g))),
        },
        Err(e) => Err(invalid(e.to_string())),
    }
}

/// Where the reader is in the envelope: Envelope (depth 1), Body (2), the operation (3)
/// and its parameters (4).
#[derive(Default)]
struct Envelope {
    depth: usize,
    root_seen: bool,
    body_seen: bool,
    in_body: bool,
    in_op: bool,
    op: Option<(String, String)>,
    /// The parameter being read.
    cur: Option<Param>,
    params: Vec<Param>,
}

impl Envelope {
    /// One root, a SOAP 1.1 Envelope (another namespace is a version mismatch), one Body;
    /// the Body's first child is the operation, its children the parameters.
    fn start(&mut self, ns: String, local: String) -> Result<(), ParseError> {
        self.depth += 1;
        match self.depth {
            1 => {
                if self.root_seen {
                    return Err(invalid("more than one root element".into()));
                }
                self.root_seen = true;
                if local != "Envelope" {
                    return Err(invalid("the root element is not a SOAP Envelope".into()));
                }
                if ns != SOAP_NS {
                    return Err(ParseError::VersionMismatch);
                }
            }
            2 if ns == SOAP_NS && local == "Body" => {
                if self.body_seen {
                    return Err(invalid("more than one SOAP Body".into()));
                }
                self.body_seen = true;
                self.in_body = true;
            }
            3 if self.in_body && self.op.is_none() => {
                self.op = Some((ns, local));
                self.in_op = true;
            }
            4 if self.in_op => {
                self.cur = Some(Param {
                    ns,
                    name: local,
                    text: String::new(),
                });
            }
            _ => {}
        }
        Ok(())
    }

    /// Closes an element; a parameter is kept, up to [`MAX_PARAMS`].
    fn end(&mut self) -> Result<(), ParseError> {
        match self.depth {
            4 => {
                if let Some(p) = self.cur.take() {
                    if self.params.len() >= MAX_PARAMS {
                        return Err(invalid("too many operation parameters".into()));
                    }
                    self.params.push(p);
                }
            }
            3 => self.in_op = false,
            2 => self.in_body = false,
            _ => {}
        }
        self.depth = self.depth.saturating_sub(1);
        Ok(())
    }

    /// The request, once the whole document was read and held an envelope with a body.
    fn finish(self) -> Result<SoapRequest, ParseError> {
        if !self.root_seen {
            return Err(invalid("the document has no root element".into()));
        }
        if self.depth != 0 {
            return Err(invalid("unexpected end of document".into()));
        }
        if !self.body_seen {
            return Err(invalid("the envelope has no SOAP Body".into()));
        }
        let (op_ns, op) = self
            .op
            .ok_or_else(|| invalid("the SOAP Body is empty".into()))?;
        Ok(SoapRequest {
            op_ns,
            op,
            params: self.params,
        })
    }
}

/// Appends character data when it sits directly inside a parameter element.
fn push_text(depth: usize, cur: &mut Option<Param>, s: &str) -> Result<(), ParseError> {
    if depth == 4
        && let Some(p) = cur.as_mut()
    {
        if p.text.len() + s.len() > MAX_PARAM_TEXT {
            return Err(ParseError::Invalid("a parameter value is too long".into()));
        }
        p.text.push_str(s);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Operations

/// A response element tree (everything inside soap:Body is in the messages namespace).
#[derive(Debug, Clone)]
struct El {
    name: &'static str,
    text: Option<String>,
    children: Vec<El>,
}

fn el(name: &'static str, children: Vec<El>) -> El {
    El {
        name,
        text: None,
        children,
    }
}

fn leaf(name: &'static str, text: impl Into<String>) -> El {
    El {
        name,
        text: Some(text.into()),
        children: Vec::new(),
    }
}

/// `<XResponse><XResponse>value</XResponse></XResponse>`: WCF's wrapper plus return part.
fn nested(name: &'static str, inner: El) -> El {
    el(name, vec![inner])
}

fn bool_text(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

/// xsd:boolean lexical forms.
fn parse_bool(s: Option<&str>) -> Option<bool> {
    match s? {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

fn dispatch(state: &State, req: &SoapRequest) -> Resp {
    match req.op.as_str() {
        "IsUMEnabled" => ok(nested(
            "IsUMEnabledResponse",
            leaf("IsUMEnabledResponse", "true"),
        )),
        "GetUMProperties" => {
            let um = lock(&state.um);
            let p = &um.props;
            // Under `um-mailbox-own-values`, a mailbox set up otherwise than the example's.
            let own = state.has(Deviation::UmMailboxOwnValues);
            let mine = |documented: &String, own_value: &str| {
                if own {
                    own_value.to_owned()
                } else {
                    documented.clone()
                }
            };
            let oof = if state.has(Deviation::UmNonBooleanOofStatus) {
                "Off"
            } else {
                bool_text(p.oof)
            };
            ok(nested(
                "GetUMPropertiesResponse",
                el(
                    "GetUMPropertiesResponse",
                    vec![
                        leaf("OofStatus", oof),
                        leaf(
                            "MissedCallNotificationEnabled",
                            bool_text(p.missed_call_notification),
                        ),
                        leaf(
                            "PlayOnPhoneDialString",
                            mine(&p.dial_string, OWN_DIAL_STRING),
                        ),
                        leaf(
                            "TelephoneAccessNumbers",
                            mine(&p.access_numbers, OWN_ACCESS_NUMBERS),
                        ),
                        leaf(
                            "TelephoneAccessFolderEmail",
                            mine(&p.folder_email, OWN_FOLDER_EMAIL),
                        ),
                    ],
                ),
            ))
        }
        "SetOofStatus" => match parse_bool(req.param("status")) {
            Some(b) => {
                lock(&state.um).props.oof = b;
                ok(el("SetOofStatusResponse", vec![]))
            }
            None => um_fault_500("InvalidArgumentException", "status must be true or false."),
        },
        "SetMissedCallNotificationEnabled" => match parse_bool(req.param("status")) {
            Some(b) => {
                lock(&state.um).props.missed_call_notification = b;
                ok(el("SetMissedCallNotificationEnabledResponse", vec![]))
            }
            None => um_fault_500("InvalidArgumentException", "status must be true or false."),
        },
        "SetPlayOnPhoneDialString" => match req.param("dialString") {
            Some(d) if !d.is_empty() => {
                lock(&state.um).props.dial_string = d.to_owned();
                ok(el("SetPlayOnPhoneDialStringResponse", vec![]))
            }
            _ => um_fault_500("InvalidArgumentException", "dialString is required."),
        },
        "SetTelephoneAccessFolderEmail" => {
            // The contract says base64FolderId; the documented example writes base64FolderID.
            // Accept both so the documented example works against the reference.
            match req
                .param("base64FolderId")
                .or_else(|| req.param("base64FolderID"))
            {
                Some(f) if B64.decode(f).is_ok() && !f.is_empty() => {
                    lock(&state.um).props.folder_email = f.to_owned();
                    ok(el("SetTelephoneAccessFolderEmailResponse", vec![]))
                }
                _ => um_fault_500("InvalidObjectIdException", "The folder id is not valid."),
            }
        }
        "ResetPIN" => ok(el("ResetPINResponse", vec![])),
        "PlayOnPhone" => {
            match req.param("entryId") {
                Some(e) if !e.is_empty() && B64.decode(e).is_ok() => {}
                _ => {
                    return um_fault_500(
                        "InvalidObjectIdException",
                        "The entryId is not a valid item id.",
                    );
                }
            }
            play_on_phone(state, req, "PlayOnPhoneResponse")
        }
        "PlayOnPhoneGreeting" => {
            match req.param("GreetingType") {
                Some("NormalCustom" | "OofCustom") => {}
                _ => {
                    return um_fault_500(
                        "InvalidArgumentException",
                        "GreetingType must be NormalCustom or OofCustom.",
                    );
                }
            }
            play_on_phone(state, req, "PlayOnPhoneGreetingResponse")
        }
        "GetCallInfo" => get_call_info(state, req),
        "Disconnect" => disconnect(state, req),
        _ => fault(
            StatusCode::INTERNAL_SERVER_ERROR,
            ews_fault(
                "ErrorInvalidRequest",
                &format!("The request is invalid: unknown operation `{}`.", req.op),
            ),
        ),
    }
}

/// Both play-on-phone flavours: place a (simulated) call and hand back its CallId.
fn play_on_phone(state: &State, req: &SoapRequest, resp: &'static str) -> Resp {
    if req.param("DialString").is_none_or(str::is_empty) {
        return um_fault_500("InvalidArgumentException", "DialString is required.");
    }
    if state.has(Deviation::UmPlayOnPhoneNoCallId) {
        return ok(nested(resp, el(resp, Vec::new())));
    }
    let mut call_id = B64.encode(format!("{}|{CALLID_FQDN}", http::uuid_v4()));
    if state.has(Deviation::UmHostileCallId) {
        call_id.push_str(HOSTILE_CALLID_SUFFIX);
    }
    {
        let mut um = lock(&state.um);
        if um.calls.len() >= MAX_CALLS {
            drop(um);
            return fault(
                StatusCode::INTERNAL_SERVER_ERROR,
                ews_fault("ErrorServerBusy", "Too many calls are in progress."),
            );
        }
        um.calls.insert(
            call_id.clone(),
            UmCall {
                state: "Connected",
                cause: "None",
                placed: std::time::Instant::now(),
            },
        );
    }
    ok(nested(resp, leaf(resp, call_id)))
}

/// [`call_id_well_formed`], for the CallIds this target hands out (with the hostile
/// suffix under `um-hostile-call-id`).
fn known_form(state: &State, id: &str) -> bool {
    let id = match id.strip_suffix(HOSTILE_CALLID_SUFFIX) {
        Some(base) if state.has(Deviation::UmHostileCallId) => base,
        _ => id,
    };
    call_id_well_formed(id)
}

/// The checks Exchange's DecodeCallId makes; all of them end in InvalidCallIdException.
fn call_id_well_formed(id: &str) -> bool {
    if id.is_empty() || id.len() > MAX_CALLID_LEN {
        return false;
    }
    let Ok(raw) = B64.decode(id) else {
        return false;
    };
    let Ok(s) = String::from_utf8(raw) else {
        return false;
    };
    s.split('|').count() == 2
}

fn invalid_call_id() -> Resp {
    um_fault_500("InvalidCallIdException", "The call ID is not valid.")
}

fn get_call_info(state: &State, req: &SoapRequest) -> Resp {
    let id = req.param("CallId").unwrap_or("");
    if !known_form(state, id) {
        return invalid_call_id();
    }
    let found = {
        let um = lock(&state.um);
        um.calls.get(id).copied().or_else(|| um.ended.get(id))
    };
    let Some(call) = found else {
        return invalid_call_id();
    };
    let cause = call.cause;
    let call_state = if state.has(Deviation::UmWrongCallState) {
        "Disconnected"
    } else if state.has(Deviation::UmUndocumentedCallState) {
        "connected"
    } else {
        call.state_now(state)
    };
    let mut children = vec![leaf("CallState", call_state), leaf("EventCause", cause)];
    if state.has(Deviation::UmMissingEventCause) {
        children.retain(|c| c.name != "EventCause");
    }
    if state.has(Deviation::UmChildrenSwapped) {
        children.reverse();
    }
    if state.has(Deviation::UmExtraElement) {
        children.push(leaf("CallDuration", "0"));
    }
    deviated(
        state,
        nested("GetCallInfoResponse", el("GetCallInfoResponse", children)),
    )
}

fn disconnect(state: &State, req: &SoapRequest) -> Resp {
    let id = req.param("CallId").unwrap_or("");
    if !known_form(state, id) {
        return invalid_call_id();
    }
    // Only a live call can be disconnected; an ended one faults like an unknown one.
    {
        let mut um = lock(&state.um);
        if um.calls.remove(id).is_none() {
            return invalid_call_id();
        }
        if !state.has(Deviation::UmForgetDisconnected) {
            um.ended.insert(id.to_owned(), "None");
        }
    }
    let mut children = Vec::new();
    if state.has(Deviation::UmExtraElement) {
        children.push(leaf("Disconnected", "true"));
    }
    deviated(state, el("DisconnectResponse", children))
}

// ---------------------------------------------------------------------------------------
// Rendering

/// How an envelope is written; the default is the documented form.
#[derive(Debug, Clone, Copy)]
struct Style {
    decl: Option<&'static str>,
    soap_prefix: &'static str,
    /// `None` writes the messages namespace as the default namespace (as documented).
    msg_prefix: Option<&'static str>,
    msg_ns: &'static str,
    xsi_xsd: bool,
    /// Declarations in reverse order, messages namespace declared on the Envelope.
    reordered: bool,
    pretty: bool,
    /// A SOAP Header entry the documents do not show: WCF's `ActivityId`, optional or
    /// (`true`) marked mustUnderstand.
    activity_header: Option<bool>,
}

const DOCUMENTED: Style = Style {
    decl: Some(DOC_DECL),
    soap_prefix: "soap",
    msg_prefix: None,
    msg_ns: MSG_NS,
    xsi_xsd: true,
    reordered: false,
    pretty: true,
    activity_header: None,
};

fn ok(payload: El) -> Resp {
    http::response(StatusCode::OK, Some(XML_CT), render(&payload, DOCUMENTED))
}

/// Success response of GetCallInfo/Disconnect, the only place UM deviations apply.
fn deviated(state: &State, payload: El) -> Resp {
    let content_type = if state.has(Deviation::UmWrongContentType) {
        "text/plain; charset=utf-8"
    } else {
        XML_CT
    };
    if state.has(Deviation::UmFaultInstead) || state.has(Deviation::UmFaultWith200) {
        let status = if state.has(Deviation::UmFaultWith200) {
            StatusCode::OK
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        };
        let body = um_fault_xml("InvalidCallIdException", "The call ID is not valid.");
        return http::response(status, Some(content_type), body);
    }
    let mut style = DOCUMENTED;
    if state.has(Deviation::UmOtherPrefixes) {
        style.soap_prefix = "env";
        style.msg_prefix = Some("m");
    }
    if state.has(Deviation::UmCompactWhitespace) {
        style.pretty = false;
    }
    if state.has(Deviation::UmAttributesReordered) {
        style.reordered = true;
    }
    if state.has(Deviation::UmNoXsiXsd) {
        style.xsi_xsd = false;
    }
    if state.has(Deviation::UmOtherXmlDeclaration) {
        style.decl = Some(r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>"#);
    }
    if state.has(Deviation::UmHttpsNamespace) {
        style.msg_ns = MSG_NS_HTTPS;
    }
    if state.has(Deviation::UmActivityIdHeader) {
        style.activity_header = Some(false);
    }
    if state.has(Deviation::UmMustUnderstandHeader) {
        style.activity_header = Some(true);
    }
    let status = if state.has(Deviation::UmSuccessWith500) {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    };
    http::response(status, Some(content_type), render(&payload, style))
}

fn render(payload: &El, s: Style) -> String {
    let nl = |out: &mut String, level: usize| {
        if s.pretty {
            out.push('\n');
            out.push_str(&"  ".repeat(level));
        }
    };
    let msg_decl = match s.msg_prefix {
        Some(p) => format!(r#"xmlns:{p}="{}""#, s.msg_ns),
        None => format!(r#"xmlns="{}""#, s.msg_ns),
    };
    let sp = s.soap_prefix;
    let soap_decl = format!(r#"xmlns:{sp}="{SOAP_NS}""#);
    let mut env_decls: Vec<String> = vec![soap_decl];
    if s.xsi_xsd {
        env_decls.push(format!(r#"xmlns:xsi="{XSI_NS}""#));
        env_decls.push(format!(r#"xmlns:xsd="{XSD_NS}""#));
    }
    if s.reordered {
        env_decls.push(msg_decl.clone());
        env_decls.reverse();
    }

    let mut out = String::new();
    if let Some(d) = s.decl {
        out.push_str(d);
        nl(&mut out, 0);
    }
    out.push_str(&format!("<{sp}:Envelope {}>", env_decls.join(" ")));
    nl(&mut out, 1);
    if let Some(must) = s.activity_header {
        // What WCF adds with activity tracing on (SOAP 1.1 section 4.2: an optional
        // extension unless marked mustUnderstand).
        let mu = if must {
            format!(r#" {sp}:mustUnderstand="1""#)
        } else {
            String::new()
        };
        out.push_str(&format!(
            r#"<{sp}:Header><ActivityId CorrelationId="5b1c9a3e-0d4f-4b6a-9e1c-2f3a4b5c6d7e"{mu} xmlns="http://schemas.microsoft.com/2004/09/ServiceModel/Diagnostics">7f3e2d1c-4b5a-6978-8a9b-0c1d2e3f4a5b</ActivityId></{sp}:Header>"#
        ));
        nl(&mut out, 1);
    }
    out.push_str(&format!("<{sp}:Body>"));
    nl(&mut out, 2);
    let root_decl = if s.reordered {
        None
    } else {
        Some(msg_decl.as_str())
    };
    write_el(&mut out, payload, s, 2, root_decl);
    nl(&mut out, 1);
    out.push_str(&format!("</{sp}:Body>"));
    nl(&mut out, 0);
    out.push_str(&format!("</{sp}:Envelope>"));
    out
}

fn write_el(out: &mut String, e: &El, s: Style, level: usize, decl: Option<&str>) {
    let name = match s.msg_prefix {
        Some(p) => format!("{p}:{}", e.name),
        None => e.name.to_owned(),
    };
    out.push('<');
    out.push_str(&name);
    if let Some(d) = decl {
        out.push(' ');
        out.push_str(d);
    }
    if e.text.is_none() && e.children.is_empty() {
        out.push_str(" />");
        return;
    }
    out.push('>');
    if let Some(t) = &e.text {
        out.push_str(&xml_escape(t));
    } else {
        for c in &e.children {
            if s.pretty {
                out.push('\n');
                out.push_str(&"  ".repeat(level + 1));
            }
            write_el(out, c, s, level + 1, None);
        }
        if s.pretty {
            out.push('\n');
            out.push_str(&"  ".repeat(level));
        }
    }
    out.push_str("</");
    out.push_str(&name);
    out.push('>');
}

// ---------------------------------------------------------------------------------------
// Faults

fn fault(status: StatusCode, xml: String) -> Resp {
    http::response(status, Some(XML_CT), xml)
}

/// A UM operation failure: `a:<ExceptionType>` in the errors namespace, HTTP 500 (§1.7).
fn um_fault_500(exception: &str, message: &str) -> Resp {
    fault(
        StatusCode::INTERNAL_SERVER_ERROR,
        um_fault_xml(exception, message),
    )
}

fn fault_envelope(inner: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
         <s:Envelope xmlns:s=\"{SOAP_NS}\">\n  <s:Body>\n    <s:Fault>\n{inner}    </s:Fault>\n  </s:Body>\n</s:Envelope>"
    )
}

pub(crate) fn um_fault_xml(exception: &str, message: &str) -> String {
    let exception = xml_escape(exception);
    fault_envelope(&format!(
        "      <faultcode xmlns:a=\"{ERRORS_NS}\">a:{exception}</faultcode>\n      \
         <faultstring xml:lang=\"en-US\">{}</faultstring>\n      \
         <detail><ExceptionType xmlns=\"{MSG_NS}\">{exception}</ExceptionType></detail>\n",
        xml_escape(message)
    ))
}

/// The generic EWS-style fault Exchange's dispatcher answers for requests it cannot route.
fn ews_fault(code: &str, message: &str) -> String {
    let code = xml_escape(code);
    let message = xml_escape(message);
    fault_envelope(&format!(
        "      <faultcode xmlns:a=\"{TYPES_NS}\">a:{code}</faultcode>\n      \
         <faultstring xml:lang=\"en-US\">{message}</faultstring>\n      \
         <detail>\n        <e:ResponseCode xmlns:e=\"{ERRORS_NS}\">{code}</e:ResponseCode>\n        \
         <e:Message xmlns:e=\"{ERRORS_NS}\">{message}</e:Message>\n      </detail>\n"
    ))
}

/// SOAP 1.1's own fault for an envelope in another SOAP version's namespace.
fn version_mismatch_fault() -> String {
    fault_envelope(
        "      <faultcode>s:VersionMismatch</faultcode>\n      \
         <faultstring xml:lang=\"en-US\">The envelope is not a SOAP 1.1 envelope.</faultstring>\n",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const GCI: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
  <soap:Body>
    <GetCallInfo xmlns="http://schemas.microsoft.com/exchange/services/2006/messages">
      <CallId>abc&amp;d<![CDATA[e]]>&#x66;</CallId>
    </GetCallInfo>
  </soap:Body>
</soap:Envelope>"#;

    #[test]
    fn parses_documented_shape() {
        let r = parse_envelope(GCI).expect("parse");
        assert_eq!(r.op, "GetCallInfo");
        assert_eq!(r.op_ns, MSG_NS);
        assert_eq!(r.param("CallId"), Some("abc&def"));
    }

    #[test]
    fn parses_prefixed_compact_shape_with_header() {
        let x = r#"<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="HTTP://schemas.microsoft.com/exchange/services/2006/messages"><e:Header><m:X/></e:Header><e:Body><m:Disconnect><m:CallId>x</m:CallId></m:Disconnect></e:Body></e:Envelope>"#;
        let r = parse_envelope(x).expect("parse");
        assert_eq!(r.op, "Disconnect");
        assert!(r.op_ns.eq_ignore_ascii_case(MSG_NS));
        assert_eq!(r.param("CallId"), Some("x"));
    }

    #[test]
    fn rejects_hostile_and_broken_input() {
        let cases = [
            "",
            "<",
            "not xml",
            "<a/>",
            r#"<!DOCTYPE x [<!ENTITY a "b">]><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"/>"#,
            r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body></soap:Body></soap:Envelope>"#,
            r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><x:Y/></soap:Body></soap:Envelope>"#,
            r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><Y>&bogus;</Y></soap:Body></soap:Envelope>"#,
            r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><Y></Z></soap:Body></soap:Envelope>"#,
            r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><Y>"#,
            r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><Y/></soap:Body></soap:Envelope><again/>"#,
        ];
        for c in cases {
            assert!(
                matches!(parse_envelope(c), Err(ParseError::Invalid(_))),
                "accepted {c:?}"
            );
        }
        let v12 = r#"<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body/></e:Envelope>"#;
        assert_eq!(parse_envelope(v12).err(), Some(ParseError::VersionMismatch));
        let deep = format!(
            "<s:Envelope xmlns:s=\"{SOAP_NS}\"><s:Body>{}{}</s:Body></s:Envelope>",
            "<a>".repeat(100_000),
            "</a>".repeat(100_000)
        );
        assert!(parse_envelope(&deep).is_err());
    }

    #[test]
    fn content_types() {
        assert!(is_text_xml("text/xml"));
        assert!(is_text_xml("Text/XML; charset=utf-8"));
        assert!(is_text_xml("text/xml ;charset=utf-8"));
        assert!(!is_text_xml("text/xmlish"));
        assert!(!is_text_xml("application/soap+xml"));
    }

    #[test]
    fn ended_calls_are_bounded_oldest_first() {
        let mut e = EndedCalls::with_cap(2);
        e.insert("a".into(), "None");
        e.insert("b".into(), "None");
        e.insert("a".into(), "Other"); // already known: updated, not queued twice
        e.insert("c".into(), "None");
        assert_eq!(e.get("a"), None, "the oldest is evicted first");
        assert_eq!(e.get("b").map(|c| c.state), Some("Disconnected"));
        assert_eq!(e.get("c").map(|c| c.cause), Some("None"));
        assert_eq!((e.by_id.len(), e.order.len()), (2, 2));
        let mut none = EndedCalls::with_cap(0);
        none.insert("a".into(), "None");
        assert_eq!(none.get("a"), None);
        assert_eq!(UmState::default().ended.cap, MAX_DISCONNECTED);
    }

    #[test]
    fn soap_action_values() {
        for v in [
            format!("\"{MSG_NS}/GetCallInfo\""),
            format!("{MSG_NS}/GetCallInfo"),
            format!("  \"{MSG_NS}/GetCallInfo\" "),
        ] {
            assert_eq!(soap_action_operation(&v), Some("GetCallInfo"), "{v}");
        }
        for v in [
            String::new(),
            "\"\"".into(),
            format!("{MSG_NS}/NoSuchOperation"),
            format!("{MSG_NS}GetCallInfo"),
            format!("{MSG_NS_HTTPS}/GetCallInfo"),
            format!("\"{MSG_NS}/getcallinfo\""),
        ] {
            assert_eq!(soap_action_operation(&v), None, "{v}");
        }
    }

    #[test]
    fn call_id_checks() {
        assert!(call_id_well_formed(&B64.encode("a|b")));
        assert!(!call_id_well_formed(&B64.encode("a@b")));
        assert!(!call_id_well_formed(&B64.encode("a|b|c")));
        assert!(!call_id_well_formed("%%%"));
        assert!(!call_id_well_formed(""));
        assert!(!call_id_well_formed(&"A".repeat(1424)));
    }

    #[test]
    fn documented_rendering() {
        let p = nested(
            "GetCallInfoResponse",
            el(
                "GetCallInfoResponse",
                vec![leaf("CallState", "Connected"), leaf("EventCause", "None")],
            ),
        );
        let want = r#"<?xml version="1.0" encoding="utf-8" ?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">
  <soap:Body>
    <GetCallInfoResponse xmlns="http://schemas.microsoft.com/exchange/services/2006/messages">
      <GetCallInfoResponse>
        <CallState>Connected</CallState>
        <EventCause>None</EventCause>
      </GetCallInfoResponse>
    </GetCallInfoResponse>
  </soap:Body>
</soap:Envelope>"#;
        assert_eq!(render(&p, DOCUMENTED), want);
        let d = render(&el("DisconnectResponse", vec![]), DOCUMENTED);
        assert!(d.contains(
            r#"<DisconnectResponse xmlns="http://schemas.microsoft.com/exchange/services/2006/messages" />"#
        ));
    }

    #[test]
    fn styled_renderings_parse_back() {
        let p = el("DisconnectResponse", vec![leaf("X", "1")]);
        let mut s = DOCUMENTED;
        s.soap_prefix = "env";
        s.msg_prefix = Some("m");
        s.reordered = true;
        s.pretty = false;
        s.xsi_xsd = false;
        let x = render(&p, s);
        assert!(!x.contains('\n'));
        let r = parse_envelope(&x).expect("own output parses");
        assert_eq!(r.op, "DisconnectResponse");
        assert_eq!(r.op_ns, MSG_NS);
        assert_eq!(r.param("X"), Some("1"));
    }

    #[test]
    fn faults_are_well_formed() {
        for x in [
            um_fault_xml("InvalidCallIdException", "<&>"),
            ews_fault("ErrorInvalidRequest", "x"),
            version_mismatch_fault(),
        ] {
            let mut r = NsReader::from_str(&x);
            loop {
                match r.read_event() {
                    Ok(Event::Eof) => break,
                    Ok(_) => {}
                    Err(e) => panic!("{e}: {x}"),
                }
            }
        }
    }
}
