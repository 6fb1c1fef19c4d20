//! What every Graph request shares: the per-request context (ids, base URL), Graph-style
//! error bodies, the bearer-token check and reading a JSON body.

use hyper::body::Incoming;
use hyper::header::{ALLOW, AUTHORIZATION, CONTENT_TYPE, LOCATION};
use hyper::{HeaderMap, Request, StatusCode};
use serde_json::{Map, Value, json};

use super::JSON_CT;
use crate::reference::http::{self, BodyError, Resp};
use crate::reference::{Deviation, State};

/// Per-request data the responses need.
pub(super) struct Ctx {
    pub(super) request_id: String,
    /// `http://host`, for URLs outside the Graph surface (recordings).
    pub(super) origin: String,
    /// `http://host[/v1.0|/beta]`, for Location and @odata.context.
    pub(super) base: String,
    /// The request came through the legacy `/app/calls` collection (see
    /// [`super::Route::legacy`]).
    pub(super) legacy: bool,
}

impl Ctx {
    /// Graph's standard error body (`concepts/errors.md`).
    pub(super) fn error(&self, status: StatusCode, code: &str, message: &str) -> Resp {
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

    pub(super) fn bad_request(&self, message: &str) -> Resp {
        self.error(StatusCode::BAD_REQUEST, "BadRequest", message)
    }

    /// The call's URL, its id percent-encoded as one path segment (the current
    /// collection, whichever one the request named).
    pub(super) fn call_url(&self, id: &str) -> String {
        let id = crate::template::encode_segment(id);
        format!("{}/communications/calls/{id}", self.base)
    }

    /// A 200 operation response with its `Location`, as the operation pages show. On the
    /// legacy surface the commsOperation also carries `createdDateTime` and
    /// `lastActionDateTime`, as the 2018 beta pages print it (later revisions dropped both).
    pub(super) fn operation(&self, state: &State, call_id: &str, op: &Map<String, Value>) -> Resp {
        self.operation_with(state, call_id, op, StatusCode::OK)
    }

    /// [`Ctx::operation`] with another status (`202 Accepted` where the page shows it).
    pub(super) fn operation_with(
        &self,
        state: &State,
        call_id: &str,
        op: &Map<String, Value>,
        status: StatusCode,
    ) -> Resp {
        let op_id = op.get("id").and_then(Value::as_str).unwrap_or_default();
        let location = format!("{}/operations/{op_id}", self.call_url(call_id));
        let mut op = op.clone();
        if self.legacy {
            let now = format!("{}Z", http::utc_now());
            op.insert("createdDateTime".into(), json!(now));
            op.insert("lastActionDateTime".into(), json!(now));
        }
        let resp = http::response(status, Some(JSON_CT), Value::Object(op).to_string());
        if state.has(Deviation::GraphOperationNoLocation) {
            return resp;
        }
        http::with_header(resp, LOCATION.as_str(), &location)
    }
}

pub(super) fn accepted() -> Resp {
    http::response(StatusCode::ACCEPTED, None, "")
}

impl Ctx {
    /// A 202 with only a `Location` naming the operation: how the 2018 beta `record` and
    /// legacy-surface `subscribeToTone` answer (the operation itself arrives by
    /// notification).
    pub(super) fn accepted_operation(&self, state: &State, call_id: &str, op_id: &str) -> Resp {
        let resp = accepted();
        if state.has(Deviation::GraphOperationNoLocation) {
            return resp;
        }
        let location = format!("{}/operations/{op_id}", self.call_url(call_id));
        http::with_header(resp, LOCATION.as_str(), &location)
    }
}

pub(super) fn not_found(ctx: &Ctx) -> Resp {
    ctx.error(
        StatusCode::NOT_FOUND,
        "ItemNotFound",
        "The call does not exist or has already ended.",
    )
}

pub(super) fn segment_not_found(ctx: &Ctx) -> Resp {
    ctx.error(
        StatusCode::NOT_FOUND,
        "ResourceNotFound",
        "Resource not found for the segment.",
    )
}

pub(super) fn method_not_allowed(ctx: &Ctx, allow: &str) -> Resp {
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
pub(super) fn authorized(state: &State, headers: &HeaderMap) -> bool {
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

/// Reads a JSON object body (an empty body is an empty object: keepAlive has none).
pub(super) async fn read_json(
    ctx: &Ctx,
    req: Request<Incoming>,
) -> Result<Map<String, Value>, Resp> {
    let (parts, body) = req.into_parts();
    if let Some(ct) = parts.headers.get(CONTENT_TYPE) {
        let ok = ct.to_str().is_ok_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
        if !ok {
            return Err(ctx.error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UnsupportedMediaType",
                "The request body must be application/json.",
            ));
        }
    }
    let bytes = match http::read_body(&parts.headers, body).await {
        Ok(b) => b,
        Err(BodyError::TooLarge) => {
            return Err(ctx.error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                "The request body is too large.",
            ));
        }
        Err(BodyError::Timeout) => {
            return Err(ctx.error(
                StatusCode::REQUEST_TIMEOUT,
                "RequestTimeout",
                "The request body was not received in time.",
            ));
        }
        Err(BodyError::Broken) => {
            return Err(ctx.bad_request("The request body could not be read."));
        }
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(ctx.bad_request("Unable to read JSON request payload: expected a JSON object.")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
