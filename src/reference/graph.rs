//! The Microsoft Graph `/communications/calls` half of the reference target.
//!
//! Create answers 201 and then notifies `establishing`/`established`; delete answers 204
//! and then notifies `terminating` (updated) and `terminated` (deleted) with the documented
//! resultInfo, code/subcode as JSON numbers (the schema's Int32; the docs print strings).
//! Notifications go only to the callbackUri the client gave, one call's in order.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::header::{ALLOW, AUTHORIZATION, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use hyper::{HeaderMap, Method, Request, StatusCode};
use serde_json::{Map, Value, json};
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

use super::http::{self, BodyError, Resp};
use super::{Deviation, State, lock};

const JSON_CT: &str = "application/json";
/// Live calls kept at most; beyond this create answers 429 instead of growing.
const MAX_CALLS: usize = 10_000;
/// Per-POST limit for notification deliveries (the client also has it as its timeout).
const NOTIFY_TIMEOUT: Duration = Duration::from_secs(5);

/// Calls the target knows about, by id.
#[derive(Default)]
pub(crate) struct GraphState {
    calls: HashMap<String, GraphCall>,
}

struct GraphCall {
    /// The call resource as GET returns it.
    resource: Map<String, Value>,
    callback: String,
    chain_id: String,
    /// Held by whichever notification sequence is running for this call, so the delete
    /// sequence never interleaves with the create one (tokio's mutex is FIFO).
    notify_lock: Arc<AsyncMutex<()>>,
}

/// What the path names, after the optional version prefix.
#[derive(Debug, PartialEq)]
pub(crate) struct Route {
    /// `/v1.0`, `/beta` or empty, kept so `Location` points back the same way.
    prefix: String,
    target: Target,
}

#[derive(Debug, PartialEq)]
enum Target {
    Collection,
    Item(String),
    /// Something below an item (actions like `/answer`) that this target doesn't implement.
    Other,
}

/// Matches `[/v1.0|/beta](/communications/calls|/app/calls)[/{id}[/...]]`, case-insensitive.
pub(crate) fn route(path: &str) -> Option<Route> {
    let mut segs: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let mut prefix = String::new();
    if let Some(first) = segs.first()
        && (first.eq_ignore_ascii_case("v1.0") || first.eq_ignore_ascii_case("beta"))
    {
        prefix = format!("/{first}");
        segs.remove(0);
    }
    if segs.len() < 2
        || !(segs[0].eq_ignore_ascii_case("communications") || segs[0].eq_ignore_ascii_case("app"))
        || !segs[1].eq_ignore_ascii_case("calls")
    {
        return None;
    }
    let target = match &segs[2..] {
        [] => Target::Collection,
        [id] if !id.is_empty() => Target::Item((*id).to_owned()),
        _ => Target::Other,
    };
    Some(Route { prefix, target })
}

/// `extra_roots`: PEM certificates trusted for https callbacks besides the system's.
pub(crate) fn notification_client(extra_roots: &[Vec<u8>]) -> reqwest::Result<reqwest::Client> {
    let mut roots = Vec::new();
    for pem in extra_roots {
        roots.extend(reqwest::Certificate::from_pem_bundle(pem)?);
    }
    reqwest::Client::builder()
        .tls_certs_merge(roots)
        .redirect(reqwest::redirect::Policy::none())
        .retry(reqwest::retry::never())
        .timeout(NOTIFY_TIMEOUT)
        .connect_timeout(NOTIFY_TIMEOUT)
        .no_proxy()
        .user_agent("callconform-reference")
        .build()
}

pub(crate) async fn handle(state: &Arc<State>, route: Route, req: Request<Incoming>) -> Resp {
    let request_id = http::uuid_v4();
    let client_request_id = req
        .headers()
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 128)
        .map(str::to_owned);
    let ctx = Ctx {
        request_id: request_id.clone(),
    };
    let resp = if !authorized(state, req.headers()) {
        http::with_header(
            ctx.error(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                "Access token is empty or invalid.",
            ),
            WWW_AUTHENTICATE.as_str(),
            "Bearer",
        )
    } else {
        let method = req.method().clone();
        match (&route.target, method) {
            (Target::Collection, Method::POST) => create(state, &ctx, &route, req).await,
            (Target::Collection, _) => method_not_allowed(&ctx, "POST"),
            (Target::Item(id), Method::GET) => get(state, &ctx, id),
            (Target::Item(id), Method::DELETE) => delete(state, &ctx, id),
            (Target::Item(_), _) => method_not_allowed(&ctx, "GET, DELETE"),
            (Target::Other, _) => ctx.error(
                StatusCode::NOT_FOUND,
                "ResourceNotFound",
                "Resource not found for the segment.",
            ),
        }
    };
    let resp = http::with_header(resp, "request-id", &request_id);
    match client_request_id {
        Some(c) => http::with_header(resp, "client-request-id", &c),
        None => resp,
    }
}

/// Per-request data the error bodies need.
struct Ctx {
    request_id: String,
}

impl Ctx {
    /// Graph's standard error body (`concepts/errors.md`).
    fn error(&self, status: StatusCode, code: &str, message: &str) -> Resp {
        let body = json!({
            "error": {
                "code": code,
                "message": message,
                "innerError": {
                    "request-id": self.request_id,
                    "date": http::utc_now(),
                }
            }
        });
        http::response(status, Some(JSON_CT), body.to_string())
    }
}

fn method_not_allowed(ctx: &Ctx, allow: &str) -> Resp {
    http::with_header(
        ctx.error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "The HTTP method is not allowed for this resource.",
        ),
        ALLOW.as_str(),
        allow,
    )
}

/// Any non-empty bearer token, or exactly `accept_token` when one is configured.
fn authorized(state: &State, headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let value = value.trim();
    let Some((scheme, token)) = value.split_once(' ') else {
        return false;
    };
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return false;
    }
    match &state.config.accept_token {
        Some(want) => constant_time_eq(want.as_bytes(), token.as_bytes()),
        None => true,
    }
}

/// Compares without an early exit on the first differing byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Only absolute http(s) URLs with a host are accepted as callbackUri.
fn valid_callback(s: &str) -> Option<String> {
    let url = reqwest::Url::parse(s).ok()?;
    let scheme_ok = matches!(url.scheme(), "http" | "https");
    let host_ok = url.host_str().is_some_and(|h| !h.is_empty());
    (scheme_ok && host_ok).then(|| url.to_string())
}

async fn create(state: &Arc<State>, ctx: &Ctx, route: &Route, req: Request<Incoming>) -> Resp {
    let (parts, body) = req.into_parts();
    if let Some(ct) = parts.headers.get(CONTENT_TYPE) {
        let ok = ct.to_str().is_ok_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
        if !ok {
            return ctx.error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UnsupportedMediaType",
                "The request body must be application/json.",
            );
        }
    }
    let bytes = match http::read_body(&parts.headers, body).await {
        Ok(b) => b,
        Err(BodyError::TooLarge) => {
            return ctx.error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                "The request body is too large.",
            );
        }
        Err(BodyError::Timeout) => {
            return ctx.error(
                StatusCode::REQUEST_TIMEOUT,
                "RequestTimeout",
                "The request body was not received in time.",
            );
        }
        Err(BodyError::Broken) => {
            return ctx.error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "The request body could not be read.",
            );
        }
    };
    let Ok(Value::Object(input)) = serde_json::from_slice::<Value>(&bytes) else {
        return ctx.error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Unable to read JSON request payload: expected a JSON object.",
        );
    };
    let Some(callback) = input
        .get("callbackUri")
        .and_then(Value::as_str)
        .and_then(valid_callback)
    else {
        return ctx.error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "callbackUri is required and must be an absolute http or https URL.",
        );
    };

    let id = http::uuid_v4();
    let chain_id = http::uuid_v4();
    let resource = call_resource(&id, &chain_id, &callback, &input);
    let notify_lock = Arc::new(AsyncMutex::new(()));
    // A fresh mutex: taking it here (not in the task) guarantees the create sequence
    // runs before any later delete sequence for the same call.
    let Ok(guard) = notify_lock.clone().try_lock_owned() else {
        return ctx.error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "UnknownError",
            "Internal error.",
        );
    };
    {
        let mut g = lock(&state.graph);
        if g.calls.len() >= MAX_CALLS {
            drop(g);
            return ctx.error(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                "Too many calls are in progress.",
            );
        }
        g.calls.insert(
            id.clone(),
            GraphCall {
                resource: resource.clone(),
                callback: callback.clone(),
                chain_id: chain_id.clone(),
                notify_lock,
            },
        );
    }
    let info = CallRef {
        id: id.clone(),
        callback,
        chain_id,
    };
    let st = state.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = after_create(&st, info, guard) => {}
            _ = st.stopped() => {}
        }
    });

    let host = http::request_host(&parts.headers).unwrap_or_else(|| state.addr.to_string());
    let location = format!("http://{host}{}/communications/calls/{id}", route.prefix);
    let resp = http::response(
        StatusCode::CREATED,
        Some(JSON_CT),
        Value::Object(resource).to_string(),
    );
    http::with_header(resp, LOCATION.as_str(), &location)
}

/// The call resource as the documented create response shapes it, echoing what the
/// client sent for the properties it owns.
fn call_resource(
    id: &str,
    chain_id: &str,
    callback: &str,
    input: &Map<String, Value>,
) -> Map<String, Value> {
    let echo = |k: &str, default: Value| input.get(k).cloned().unwrap_or(default);
    let mut m = Map::new();
    m.insert("@odata.type".into(), json!("#microsoft.graph.call"));
    m.insert("id".into(), json!(id));
    m.insert("state".into(), json!("establishing"));
    m.insert("direction".into(), json!("outgoing"));
    m.insert("callbackUri".into(), json!(callback));
    m.insert("callChainId".into(), json!(chain_id));
    m.insert("myParticipantId".into(), json!(http::uuid_v4()));
    m.insert(
        "requestedModalities".into(),
        echo("requestedModalities", json!(["audio"])),
    );
    m.insert("targets".into(), echo("targets", json!([])));
    for k in [
        "source",
        "mediaConfig",
        "callOptions",
        "tenantId",
        "subject",
        "chatInfo",
        "meetingInfo",
    ] {
        m.insert(k.into(), echo(k, Value::Null));
    }
    m.insert("activeModalities".into(), json!([]));
    m.insert("routingPolicies".into(), json!([]));
    m.insert("resultInfo".into(), Value::Null);
    m.insert("answeredBy".into(), Value::Null);
    m.insert("mediaState".into(), Value::Null);
    m.insert("toneInfo".into(), Value::Null);
    m.insert("transcription".into(), Value::Null);
    m
}

fn get(state: &State, ctx: &Ctx, id: &str) -> Resp {
    let found = lock(&state.graph).calls.get(id).map(|c| c.resource.clone());
    match found {
        Some(r) => http::response(StatusCode::OK, Some(JSON_CT), Value::Object(r).to_string()),
        None => not_found(ctx),
    }
}

fn not_found(ctx: &Ctx) -> Resp {
    ctx.error(
        StatusCode::NOT_FOUND,
        "ItemNotFound",
        "The call does not exist or has already ended.",
    )
}

fn delete(state: &Arc<State>, ctx: &Ctx, id: &str) -> Resp {
    let Some(call) = lock(&state.graph).calls.remove(id) else {
        return not_found(ctx);
    };
    let info = CallRef {
        id: id.to_owned(),
        callback: call.callback,
        chain_id: call.chain_id,
    };
    let lock = call.notify_lock;
    let st = state.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = async {
                let guard = lock.lock_owned().await;
                after_delete(&st, info, guard).await;
            } => {}
            _ = st.stopped() => {}
        }
    });
    if state.has(Deviation::Graph200InsteadOf204) {
        let body = json!({"id": id, "state": "terminating"});
        return http::response(StatusCode::OK, Some(JSON_CT), body.to_string());
    }
    http::response(StatusCode::NO_CONTENT, None, "")
}

// ---------------------------------------------------------------------------------------
// Notifications

/// What a notification sequence needs to know about its call (which may be gone already).
struct CallRef {
    id: String,
    callback: String,
    chain_id: String,
}

async fn after_create(state: &State, call: CallRef, _guard: OwnedMutexGuard<()>) {
    let mut order = ["establishing", "established"];
    if state.has(Deviation::GraphEstablishedFirst) {
        order.reverse();
    }
    for s in order {
        // The resource reaches `established` before the bot hears of it, so a GET made after
        // that notification arrives never sees a stale state.
        if s == "established"
            && let Some(c) = lock(&state.graph).calls.get_mut(&call.id)
        {
            c.resource.insert("state".into(), json!("established"));
        }
        let body = notification(
            state,
            &call,
            "updated",
            vec![call_type(), ("state", J::Str(s.into()))],
        );
        deliver(state, &call.callback, body).await;
    }
}

async fn after_delete(state: &State, call: CallRef, _guard: OwnedMutexGuard<()>) {
    if state.has(Deviation::GraphLateNotifications) {
        tokio::time::sleep(state.config.late_delay).await;
    }
    let terminating = notification(
        state,
        &call,
        "updated",
        vec![call_type(), ("state", J::Str("terminating".into()))],
    );
    let terminated = notification(
        state,
        &call,
        "deleted",
        vec![
            call_type(),
            ("state", J::Str("terminated".into())),
            ("resultInfo", result_info(state)),
        ],
    );
    let mut seq = vec![&terminating, &terminated];
    if state.has(Deviation::GraphSwappedNotifications) {
        seq.reverse();
    }
    if state.has(Deviation::GraphTerminatedTwice) {
        seq.push(&terminated);
    }
    if state.has(Deviation::GraphNoTerminating) {
        seq.retain(|b| !std::ptr::eq(*b, &terminating));
    }
    for body in seq {
        deliver(state, &call.callback, body.clone()).await;
    }
}

fn call_type() -> (&'static str, J) {
    ("@odata.type", J::Str("#microsoft.graph.call".into()))
}

/// The documented resultInfo for a call the app hung up (200/5001), unless deviating.
fn result_info(state: &State) -> J {
    let (code, subcode) = if state.has(Deviation::GraphUndocumentedResultInfo) {
        (999, 1)
    } else {
        (200, 5001)
    };
    let num = |n: i64| {
        if state.has(Deviation::GraphResultInfoStrings) {
            J::Str(n.to_string())
        } else {
            J::Num(n)
        }
    };
    let message = if state.has(Deviation::GraphWrongMessage) {
        "Call ended."
    } else {
        "The conversation has ended."
    };
    J::Obj(vec![
        ("@odata.type", J::Str("#microsoft.graph.resultInfo".into())),
        ("code", num(code)),
        ("subcode", num(subcode)),
        ("message", J::Str(message.into())),
    ])
}

/// A commsNotifications body with one commsNotification, keys in documented order
/// (or reversed under `graph-keys-reordered`; serde_json would sort them, hence `J`).
fn notification(
    state: &State,
    call: &CallRef,
    change_type: &str,
    mut data: Vec<(&'static str, J)>,
) -> String {
    let id = if state.has(Deviation::GraphWrongResourceUrl) {
        http::uuid_v4()
    } else {
        call.id.clone()
    };
    if state.has(Deviation::GraphExtraResourceData) {
        data.push(("callChainId", J::Str(call.chain_id.clone())));
    }
    let doc = J::Obj(vec![
        (
            "@odata.type",
            J::Str("#microsoft.graph.commsNotifications".into()),
        ),
        (
            "value",
            J::Arr(vec![J::Obj(vec![
                (
                    "@odata.type",
                    J::Str("#microsoft.graph.commsNotification".into()),
                ),
                ("changeType", J::Str(change_type.into())),
                ("resourceUrl", J::Str(format!("/communications/calls/{id}"))),
                ("resourceData", J::Obj(data)),
            ])]),
        ),
    ]);
    let mut out = String::new();
    doc.write(state.has(Deviation::GraphKeysReordered), &mut out);
    out
}

/// POSTs one notification; failures are logged briefly (never the token) and dropped.
async fn deliver(state: &State, url: &str, body: String) {
    let Ok(_permit) = state.deliveries.acquire().await else {
        return;
    };
    let mut rb = state
        .notifier
        .post(url)
        .header(CONTENT_TYPE, JSON_CT)
        .body(body);
    if !state.has(Deviation::GraphNoAuthorization) {
        rb = rb.bearer_auth(&state.config.notify_token);
    }
    match rb.send().await {
        Ok(r) if r.status().is_success() => {}
        Ok(r) => eprintln!(
            "callconform reference: notification to {} answered {}",
            loggable(url),
            r.status()
        ),
        Err(e) => eprintln!(
            "callconform reference: notification to {} failed: {}",
            loggable(url),
            e.without_url()
        ),
    }
}

/// The callback URL without user-info, query or the segment after `/callbacks/` (the
/// harness's secret callback token), which might carry secrets.
fn loggable(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            let mut after_callbacks = false;
            let path: Vec<&str> = u
                .path()
                .split('/')
                .map(|seg| {
                    let shown = if after_callbacks { "[redacted]" } else { seg };
                    after_callbacks = seg == "callbacks";
                    shown
                })
                .collect();
            let path = path.join("/");
            u.set_path(&path);
            u.to_string()
        }
        Err(_) => "<invalid url>".into(),
    }
}

/// Just enough JSON to write objects with a chosen key order.
enum J {
    Str(String),
    Num(i64),
    Obj(Vec<(&'static str, J)>),
    Arr(Vec<J>),
}

impl J {
    fn write(&self, reverse_keys: bool, out: &mut String) {
        match self {
            J::Str(s) => write_json_string(s, out),
            J::Num(n) => out.push_str(&n.to_string()),
            J::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(reverse_keys, out);
                }
                out.push(']');
            }
            J::Obj(pairs) => {
                out.push('{');
                let mut ordered: Vec<&(&str, J)> = pairs.iter().collect();
                if reverse_keys {
                    ordered.reverse();
                }
                for (i, (k, v)) in ordered.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_json_string(k, out);
                    out.push(':');
                    v.write(reverse_keys, out);
                }
                out.push('}');
            }
        }
    }
}

fn write_json_string(s: &str, out: &mut String) {
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let r = |p: &str| route(p).map(|r| (r.prefix, r.target));
        assert_eq!(
            r("/communications/calls"),
            Some((String::new(), Target::Collection))
        );
        assert_eq!(
            r("/v1.0/communications/calls/"),
            Some(("/v1.0".into(), Target::Collection))
        );
        assert_eq!(
            r("/BETA/App/Calls/abc"),
            Some(("/BETA".into(), Target::Item("abc".into())))
        );
        assert_eq!(
            r("/communications/calls/abc/answer"),
            Some((String::new(), Target::Other))
        );
        assert_eq!(r("/communications"), None);
        assert_eq!(r("/v2/communications/calls"), None);
        assert_eq!(r("/"), None);
        assert_eq!(r(""), None);
    }

    #[test]
    fn json_writer_is_valid_and_ordered() {
        let j = J::Obj(vec![
            ("b", J::Str("x\"\\\u{1}é".into())),
            ("a", J::Arr(vec![J::Num(1), J::Obj(vec![])])),
        ]);
        let mut s = String::new();
        j.write(false, &mut s);
        assert_eq!(s, r#"{"b":"x\"\\\u0001é","a":[1,{}]}"#);
        let v: Value = serde_json::from_str(&s).expect("valid json");
        assert_eq!(v["b"], "x\"\\\u{1}é");
        let mut r = String::new();
        j.write(true, &mut r);
        assert!(r.starts_with(r#"{"a":"#));
    }

    #[test]
    fn callbacks() {
        assert!(valid_callback("https://bot.contoso.com/callback").is_some());
        assert!(valid_callback("http://127.0.0.1:9/x?y=1").is_some());
        assert!(valid_callback("ftp://x/").is_none());
        assert!(valid_callback("/relative").is_none());
        assert!(valid_callback("mailto:a@b").is_none());
        assert!(valid_callback("").is_none());
    }

    #[test]
    fn log_redaction() {
        assert_eq!(loggable("https://u:p@h/x?token=1#f"), "https://h/x");
        assert_eq!(
            loggable("https://h:1/callbacks/0123abcd/graph..delete-call"),
            "https://h:1/callbacks/[redacted]/graph..delete-call"
        );
    }

    #[test]
    fn constant_time() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
