//! The call resource: create (outgoing calls), get and delete, and the bookkeeping every
//! other operation shares (registering a call, its state-change notifications).

use std::sync::Arc;

use hyper::StatusCode;
use hyper::header::LOCATION;
use serde_json::{Map, Value, json};

use super::callback::{self, Refusal};
use super::json::J;
use super::notify::{Batch, Hook, Queue};
use super::{Ctx, GraphCall, JSON_CT, MAX_CALLS, Sink, not_found, participants};
use crate::reference::http::{self, Resp};
use crate::reference::{Deviation, State, lock};

/// Appended to every call id under `graph-hostile-call-id`: a path separator, a query
/// start and a space, which a client must percent-encode in the call's URL.
pub(crate) const HOSTILE_CALL_ID_SUFFIX: &str = "/leg?1 a";

pub(super) fn create(state: &Arc<State>, ctx: &Ctx, input: &Map<String, Value>) -> Resp {
    let callback = match checked_callback(state, input, true) {
        Ok(Some(c)) => c,
        Ok(None) => return ctx.bad_request(&Refusal::Invalid.message()),
        Err(r) => return ctx.bad_request(&r.message()),
    };
    let mut id = http::uuid_v4();
    if state.has(Deviation::GraphHostileCallId) {
        id.push_str(HOSTILE_CALL_ID_SUFFIX);
    }
    let chain_id = http::uuid_v4();
    let resource = call_resource(&id, &chain_id, &callback, input);
    let sink = match register(state, ctx, &id, resource.clone(), callback, chain_id) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let mut order = ["establishing", "established"];
    if state.has(Deviation::GraphEstablishedFirst) {
        order.reverse();
    }
    for s in order {
        let data = J::obj(vec![call_type(), ("state", J::str(s))]);
        let mut batch = Batch::new(&sink.url, vec![sink.call_entry(state, "updated", data)]);
        if s == "established" {
            batch.before = Some(set_state(&id, "established"));
        }
        sink.send(batch);
    }
    let resp = http::response(
        StatusCode::CREATED,
        Some(JSON_CT),
        Value::Object(resource).to_string(),
    );
    http::with_header(resp, LOCATION.as_str(), &ctx.call_url(&id))
}

/// The request's `callbackUri` after the callback policy: `Ok(None)` when absent and not
/// `required`.
pub(super) fn checked_callback(
    state: &State,
    input: &Map<String, Value>,
    required: bool,
) -> Result<Option<String>, Refusal> {
    match input.get("callbackUri") {
        None | Some(Value::Null) if !required => Ok(None),
        Some(Value::String(s)) => callback::check(&state.config, s).map(Some),
        _ => Err(Refusal::Invalid),
    }
}

/// Stores a new call with its roster and notification queue.
pub(super) fn register(
    state: &Arc<State>,
    ctx: &Ctx,
    id: &str,
    resource: Map<String, Value>,
    callback: String,
    chain_id: String,
) -> Result<Sink, Box<Resp>> {
    let roster = participants::initial_roster(&resource);
    let mut g = lock(&state.graph);
    if g.calls.len() >= MAX_CALLS {
        return Err(Box::new(ctx.error(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "Too many calls are in progress.",
        )));
    }
    g.calls.insert(
        id.to_owned(),
        GraphCall {
            resource,
            callback,
            chain_id,
            queue: Queue::start(state),
            roster,
            running: Vec::new(),
            tone_sequence: 0,
        },
    );
    Sink::of(&g, id).ok_or_else(|| Box::new(not_found(ctx)))
}

/// Sets the call resource's state just before the notification saying so is sent.
pub(super) fn set_state(id: &str, to: &'static str) -> Hook {
    let id = id.to_owned();
    Box::new(move |st: &State| {
        if let Some(c) = lock(&st.graph).calls.get_mut(&id) {
            c.resource.insert("state".into(), json!(to));
        }
    })
}

pub(super) fn call_type() -> (&'static str, J) {
    ("@odata.type", J::str("#microsoft.graph.call"))
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

pub(super) fn get(state: &State, ctx: &Ctx, id: &str) -> Resp {
    let found = lock(&state.graph).calls.get(id).map(|c| c.resource.clone());
    match found {
        Some(r) => http::response(StatusCode::OK, Some(JSON_CT), Value::Object(r).to_string()),
        None => not_found(ctx),
    }
}

/// Removes the call; its notifications still go out in order through its queue.
pub(super) fn remove(state: &State, id: &str) -> Option<(GraphCall, Sink)> {
    let mut g = lock(&state.graph);
    let sink = Sink::of(&g, id)?;
    let call = g.calls.remove(id)?;
    Some((call, sink))
}

pub(super) fn delete(state: &Arc<State>, ctx: &Ctx, id: &str) -> Resp {
    let Some((_, sink)) = remove(state, id) else {
        return not_found(ctx);
    };
    let terminating = || {
        let data = J::obj(vec![call_type(), ("state", J::str("terminating"))]);
        sink.call_entry(state, "updated", data)
    };
    let terminated = || {
        let data = J::obj(vec![
            call_type(),
            ("state", J::str("terminated")),
            ("resultInfo", delete_result_info(state)),
        ]);
        let change = if state.has(Deviation::GraphWrongChangeType) {
            "updated"
        } else {
            "deleted"
        };
        sink.call_entry(state, change, data)
    };
    let mut seq = Vec::new();
    if !state.has(Deviation::GraphNoTerminating) {
        seq.push(terminating());
    }
    seq.push(terminated());
    if state.has(Deviation::GraphSwappedNotifications) {
        seq.reverse();
    }
    if state.has(Deviation::GraphTerminatedTwice) {
        seq.push(terminated());
    }
    let last = seq.len().saturating_sub(1);
    for (i, entry) in seq.into_iter().enumerate() {
        let mut batch = Batch::new(&sink.url, vec![entry]);
        if (i == 0 && state.has(Deviation::GraphLateNotifications))
            || (i == last && state.has(Deviation::GraphTerminatedPastDeadline))
        {
            batch.delay = state.config.late_delay;
        }
        sink.send(batch);
    }
    if state.has(Deviation::Graph200InsteadOf204) {
        let body = json!({"id": id, "state": "terminating"});
        return http::response(StatusCode::OK, Some(JSON_CT), body.to_string());
    }
    http::response(StatusCode::NO_CONTENT, None, "")
}

/// A resultInfo object; code/subcode as numbers unless `graph-result-info-strings`.
pub(super) fn result_info(state: &State, code: i64, subcode: i64, message: &str) -> J {
    let num = |n: i64| {
        if state.has(Deviation::GraphResultInfoStrings) {
            J::Str(n.to_string())
        } else {
            J::Num(n)
        }
    };
    J::obj(vec![
        ("@odata.type", J::str("#microsoft.graph.resultInfo")),
        ("code", num(code)),
        ("subcode", num(subcode)),
        ("message", J::str(message)),
    ])
}

/// The documented resultInfo for a call the app hung up (200/5001), unless deviating.
fn delete_result_info(state: &State) -> J {
    let (code, subcode) = if state.has(Deviation::GraphUndocumentedResultInfo) {
        (999, 1)
    } else if state.has(Deviation::GraphOtherEndReason) {
        (200, 7000)
    } else {
        (200, 5001)
    };
    let message = if state.has(Deviation::GraphWrongMessage) {
        "Call ended."
    } else if state.has(Deviation::GraphOtherEndReason) {
        "The conversation has ended by bot."
    } else {
        "The conversation has ended."
    };
    result_info(state, code, subcode, message)
}
