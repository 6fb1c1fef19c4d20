//! Call actions with no media: answer, reject and redirect (on an incoming call),
//! keepAlive, changeScreenSharingRole and updateRecordingStatus (transfer has its own file).

use std::sync::Arc;

use hyper::StatusCode;
use serde_json::{Map, Value, json};

use super::calls::{call_type, checked_callback, remove, set_state};
use super::json::J;
use super::notify::Batch;
use super::participants::{roster_update, screen_sharing_update};
use super::{Ctx, Sink, accepted, not_found};
use crate::reference::http::{self, Resp};
use crate::reference::{Deviation, State, lock};

/// Answer, reject and redirect need a call in state `incoming`: 404 for an unknown call,
/// a Graph-style 400 for one in another state.
fn refuse_unless_incoming(state: &State, ctx: &Ctx, id: &str, action: &str) -> Option<Resp> {
    let g = lock(&state.graph);
    let Some(call) = g.calls.get(id) else {
        return Some(not_found(ctx));
    };
    if call.state() == "incoming" {
        return None;
    }
    Some(ctx.bad_request(&format!(
        "{action} acts only on an incoming call (state `incoming`); this call is `{}`.",
        call.state()
    )))
}

/// Validates the optional callbackUri and makes it the call's callback; the refusal, if any.
fn take_callback(state: &State, ctx: &Ctx, id: &str, body: &Map<String, Value>) -> Option<Resp> {
    match checked_callback(state, body, false) {
        Ok(None) => None,
        Ok(Some(cb)) => {
            if let Some(c) = lock(&state.graph).calls.get_mut(id) {
                c.resource.insert("callbackUri".into(), json!(cb));
                c.callback = cb;
            }
            None
        }
        Err(r) => Some(ctx.bad_request(&r.message())),
    }
}

fn one_of(body: &Map<String, Value>, key: &str, allowed: &[&str]) -> Option<String> {
    body.get(key)
        .and_then(Value::as_str)
        .filter(|v| allowed.contains(v))
        .map(str::to_owned)
}

/// `@odata.type`, `@odata.id` and `@odata.etag` of a call as the answer page's
/// notifications show them, plus `state`.
fn call_state_data(sink: &Sink, state: &State, to: &str) -> J {
    J::obj(vec![
        call_type(),
        ("@odata.id", J::Str(sink.resource_url(state, ""))),
        ("@odata.etag", J::str("W/\"5445\"")),
        ("state", J::str(to)),
    ])
}

pub(super) fn answer(state: &Arc<State>, ctx: &Ctx, id: &str, body: &Map<String, Value>) -> Resp {
    if let Some(r) = refuse_unless_incoming(state, ctx, id, "answer") {
        return r;
    }
    let modalities_ok = body
        .get("acceptedModalities")
        .and_then(Value::as_array)
        .is_some_and(|a| {
            !a.is_empty()
                && a.iter().all(|m| {
                    matches!(
                        m.as_str(),
                        Some("audio" | "video" | "videoBasedScreenSharing")
                    )
                })
        });
    if !modalities_ok {
        return ctx.bad_request(
            "acceptedModalities is required: audio, video and/or videoBasedScreenSharing.",
        );
    }
    if !body.get("mediaConfig").is_some_and(Value::is_object) {
        return ctx.bad_request("mediaConfig is required.");
    }
    if let Some(r) = take_callback(state, ctx, id, body) {
        return r;
    }
    let sink = {
        let mut g = lock(&state.graph);
        if let Some(c) = g.calls.get_mut(id) {
            c.resource.insert("state".into(), json!("establishing"));
            if let Some(m) = body.get("acceptedModalities") {
                c.resource.insert("activeModalities".into(), m.clone());
            }
        }
        Sink::of(&g, id)
    };
    let Some(sink) = sink else {
        return not_found(ctx);
    };
    let established = if state.has(Deviation::GraphUndocumentedCallState) {
        "connected"
    } else {
        "established"
    };
    let first = sink.call_entry(
        state,
        "updated",
        call_state_data(&sink, state, "establishing"),
    );
    sink.send_op(state, Batch::new(&sink.url, vec![first]));
    let second = sink.call_entry(state, "updated", call_state_data(&sink, state, established));
    let mut batch = Batch::new(&sink.url, vec![second]);
    batch.before = Some(set_state(id, "established"));
    sink.send_op(state, batch);
    // contentSharingSession came after the `/app/calls` beta surface; a bot of that era
    // hears only of the call's states. The caller's screen share itself happens when the
    // harness asks for it (`super::sharing`).
    if shares_content(body)
        && !ctx.legacy
        && let Some(call) = lock(&state.graph).calls.get_mut(id)
    {
        call.sharing = Some(super::sharing::Sharing::PerSession);
    }
    accepted()
}

/// Whether the bot hears of the caller's content sharing: it asked to
/// (`callOptions.isContentSharingNotificationEnabled`), or it hosts the media itself and so
/// receives the shared screen, as the answer page's app-hosted example shows.
fn shares_content(body: &Map<String, Value>) -> bool {
    let asked = body
        .get("callOptions")
        .and_then(|o| o.get("isContentSharingNotificationEnabled"))
        .and_then(Value::as_bool)
        == Some(true);
    let app_hosted = body
        .get("mediaConfig")
        .and_then(|m| m.get("@odata.type"))
        .and_then(Value::as_str)
        == Some("#microsoft.graph.appHostedMediaConfig");
    asked || app_hosted
}

pub(super) fn reject(state: &Arc<State>, ctx: &Ctx, id: &str, body: &Map<String, Value>) -> Resp {
    if let Some(r) = refuse_unless_incoming(state, ctx, id, "reject") {
        return r;
    }
    if body.contains_key("reason")
        && one_of(body, "reason", &["none", "busy", "forbidden"]).is_none()
    {
        return ctx.bad_request("reason must be one of none, busy, forbidden.");
    }
    if let Some(r) = take_callback(state, ctx, id, body) {
        return r;
    }
    let Some((_, sink)) = remove(state, id) else {
        return not_found(ctx);
    };
    // The reject page's notification: the call is gone, resourceData names it only.
    let data = J::obj(vec![
        call_type(),
        ("@odata.id", J::Str(sink.resource_url(state, ""))),
    ]);
    let entry = sink.call_entry(state, "deleted", data);
    sink.send_op(state, Batch::new(&sink.url, vec![entry]));
    accepted()
}

pub(super) fn redirect(state: &Arc<State>, ctx: &Ctx, id: &str, body: &Map<String, Value>) -> Resp {
    if let Some(r) = refuse_unless_incoming(state, ctx, id, "redirect") {
        return r;
    }
    if body
        .get("targets")
        .and_then(Value::as_array)
        .is_none_or(|a| a.is_empty())
    {
        return ctx.bad_request(
            "targets is required: a non-empty collection of invitationParticipantInfo.",
        );
    }
    if let Some(r) = take_callback(state, ctx, id, body) {
        return r;
    }
    let Some((call, sink)) = remove(state, id) else {
        return not_found(ctx);
    };
    // The redirect page's notification: the whole incoming call, now terminated, answered
    // by the first redirect target.
    let r = &call.resource;
    let mut pairs = vec![call_type(), ("state", J::str("terminated"))];
    for k in [
        "direction",
        "callbackUri",
        "source",
        "targets",
        "tenantId",
        "myParticipantId",
        "id",
    ] {
        if let Some(v) = r.get(k).filter(|v| !v.is_null()) {
            pairs.push((k, J::from_value(v)));
        }
    }
    if let Some(first) = body.get("targets").and_then(|t| t.get(0)) {
        pairs.push(("answeredBy", answered_by(first)));
    }
    let entry = sink.call_entry(state, "deleted", J::obj(pairs));
    sink.send_op(state, Batch::new(&sink.url, vec![entry]));
    accepted()
}

/// The participantInfo of the redirect target that answered. A phone number is not given
/// back in clear: the service names that endpoint by an `encrypted` identity, as the
/// redirect page's notification shows.
fn answered_by(target: &Value) -> J {
    let mut identity = target
        .get("identity")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if identity.remove("phone").is_some() {
        identity.insert(
            "encrypted".into(),
            json!({
                "@odata.type": "#microsoft.graph.identity",
                "id": http::uuid_v4().replace('-', ""),
            }),
        );
    }
    identity
        .entry("@odata.type")
        .or_insert_with(|| json!("#microsoft.graph.identitySet"));
    let endpoint = target
        .get("endpointType")
        .and_then(Value::as_str)
        .unwrap_or("default")
        .to_owned();
    J::obj(vec![
        ("@odata.type", J::str("#microsoft.graph.participantInfo")),
        ("endpointType", J::Str(endpoint)),
        ("identity", J::from_value(&Value::Object(identity))),
    ])
}

pub(super) fn keep_alive(
    state: &Arc<State>,
    ctx: &Ctx,
    id: &str,
    _body: &Map<String, Value>,
) -> Resp {
    if !lock(&state.graph).calls.contains_key(id) {
        return not_found(ctx);
    }
    http::response(StatusCode::OK, None, "")
}

pub(super) fn change_screen_sharing_role(
    state: &Arc<State>,
    ctx: &Ctx,
    id: &str,
    body: &Map<String, Value>,
) -> Resp {
    let Some(role) = one_of(body, "role", &["viewer", "sharer"]) else {
        return ctx.bad_request("role is required: viewer or sharer.");
    };
    let Some((sink, changed)) = screen_sharing_update(state, id, &role) else {
        return not_found(ctx);
    };
    if let Some(e) = roster_update(state, &sink, vec![changed], false) {
        sink.send_op(state, Batch::new(&sink.url, vec![e]));
    }
    accepted()
}

pub(super) fn update_recording_status(
    state: &Arc<State>,
    ctx: &Ctx,
    id: &str,
    body: &Map<String, Value>,
) -> Resp {
    if one_of(body, "status", &["notRecording", "recording", "failed"]).is_none() {
        return ctx.bad_request("status is required: notRecording, recording or failed.");
    }
    if !lock(&state.graph).calls.contains_key(id) {
        return not_found(ctx);
    }
    let mut op = Map::new();
    op.insert(
        "@odata.type".into(),
        json!("#microsoft.graph.updateRecordingStatusOperation"),
    );
    op.insert(
        "clientContext".into(),
        body.get("clientContext").cloned().unwrap_or(Value::Null),
    );
    op.insert("id".into(), json!(http::uuid_v4()));
    op.insert("resultInfo".into(), Value::Null);
    op.insert("status".into(), json!("completed"));
    ctx.operation(state, id, &op)
}
