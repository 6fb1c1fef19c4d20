//! The call's roster: list, get, invite, delete and mute participants, and the call-level
//! mute/unmute of the bot itself. Roster changes are notified as documented: changeType
//! `updated`, resourceUrl `/communications/calls/{id}/participants`, resourceData the
//! changed participants.

use std::sync::Arc;

use hyper::StatusCode;
use serde_json::{Map, Value, json};

use super::json::J;
use super::notify::{Batch, Entry};
use super::{Ctx, JSON_CT, Sink, not_found};
use crate::reference::http::{self, Resp};
use crate::reference::{Deviation, State, lock};

/// The application id the reference bot uses in rosters and incoming calls.
pub(super) const BOT_APP_ID: &str = "9b5b1e7e-7a3b-4c5b-9d0e-00000000c0de";
/// The application instance (resource account) incoming calls reach the bot through.
pub(super) const BOT_APP_INSTANCE_ID: &str = "9b5b1e7e-7a3b-4c5b-9d0e-00000000a11c";
/// The tenant the reference bot and its directory's users belong to.
pub(super) const TENANT_ID: &str = "9b5b1e7e-7a3b-4c5b-9d0e-0000000007e1";
/// The display name the reference directory gives a user invited by id alone.
const DIRECTORY_DISPLAY_NAME: &str = "Participant";
/// The media region and language the service assigns a participant that names none.
pub(super) const DEFAULT_REGION: &str = "westus";
pub(super) const DEFAULT_LANGUAGE: &str = "en-US";

/// The roster a new call starts with: the bot, then the other side (the targets of an
/// outgoing call, the source of an incoming one).
pub(super) fn initial_roster(resource: &Map<String, Value>) -> Vec<Map<String, Value>> {
    let my_id = resource
        .get("myParticipantId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    // The bot is an application of the call's tenant; Graph names the tenant on it.
    let tenant = resource.get("tenantId").cloned().unwrap_or(Value::Null);
    let bot = json!({
        "@odata.type": "#microsoft.graph.identitySet",
        "application": {
            "@odata.type": "#microsoft.graph.identity",
            "displayName": super::calls::BOT_DISPLAY_NAME,
            "id": BOT_APP_ID,
            "tenantId": tenant
        }
    });
    let mut roster = vec![participant(my_id, &json!({ "identity": bot }))];
    let incoming = resource.get("direction").and_then(Value::as_str) == Some("incoming");
    let others: Vec<&Value> = if incoming {
        resource.get("source").into_iter().collect()
    } else {
        resource
            .get("targets")
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default()
    };
    for o in others.into_iter().filter(|o| o.is_object()) {
        roster.push(participant(http::uuid_v4(), o));
    }
    roster
}

/// A participant resource for someone described by a participantInfo-like object.
fn participant(id: String, who: &Value) -> Map<String, Value> {
    let mut info = Map::new();
    info.insert(
        "@odata.type".into(),
        json!("#microsoft.graph.participantInfo"),
    );
    info.insert("identity".into(), resolved_identity(who));
    // The roster page shows the participant's own id on its info too.
    info.insert("id".into(), json!(id));
    let endpoint = who.get("endpointType").filter(|v| v.is_string()).cloned();
    info.insert(
        "endpointType".into(),
        endpoint.unwrap_or_else(|| json!("default")),
    );
    // The service places every participant in a media region and language.
    for (k, default) in [("region", DEFAULT_REGION), ("languageId", DEFAULT_LANGUAGE)] {
        let v = who.get(k).filter(|v| v.is_string()).cloned();
        info.insert(k.into(), v.unwrap_or_else(|| json!(default)));
    }
    let mut p = Map::new();
    p.insert("@odata.type".into(), json!("#microsoft.graph.participant"));
    p.insert("id".into(), json!(id));
    p.insert("info".into(), Value::Object(info));
    p.insert("mediaStreams".into(), json!([audio_stream()]));
    p.insert("isMuted".into(), json!(false));
    p.insert("isInLobby".into(), json!(false));
    p.insert("metadata".into(), Value::Null);
    p
}

fn audio_stream() -> Value {
    json!({
        "@odata.type": "#microsoft.graph.mediaStream",
        "mediaType": "audio",
        "label": "main-audio",
        "sourceId": "1",
        "direction": "sendReceive",
        "serverMuted": false
    })
}

/// A roster update naming `changed`, unless `graph-no-roster-update`.
pub(super) fn roster_update(
    state: &State,
    sink: &Sink,
    changed: Vec<Map<String, Value>>,
    legacy_resource: bool,
) -> Option<Entry> {
    if state.has(Deviation::GraphNoRosterUpdate) || changed.is_empty() {
        return None;
    }
    let data = J::Arr(
        changed
            .into_iter()
            .map(|p| J::from_value(&Value::Object(p)))
            .collect(),
    );
    let mut e = Entry::new("updated", sink.resource_url(state, "/participants"), data);
    if legacy_resource {
        e.resource = Some(super::legacy_path(&e.resource_url));
    }
    Some(e)
}

pub(super) fn list(state: &State, ctx: &Ctx, id: &str) -> Resp {
    let Some(mut roster) = lock(&state.graph).calls.get(id).map(|c| c.roster.clone()) else {
        return not_found(ctx);
    };
    if state.has(Deviation::GraphRosterFewerParticipants) && roster.len() > 1 {
        roster.pop();
    }
    if state.has(Deviation::GraphRosterExtraParticipant) {
        let phone = json!({"identity": {
            "@odata.type": "#microsoft.graph.identitySet",
            "phone": {"@odata.type": "#microsoft.graph.identity", "id": "+12345678901"}
        }});
        let mut p = participant(http::uuid_v4(), &phone);
        p.insert("isMuted".into(), json!(true));
        roster.push(p);
    }
    if state.has(Deviation::GraphRosterMalformedMember) {
        for p in &mut roster {
            p.insert("isMuted".into(), json!("false"));
        }
    }
    let body = json!({
        "@odata.context": format!("{}/$metadata#communications/calls('{id}')/participants", ctx.base),
        "value": roster,
    });
    http::response(StatusCode::OK, Some(JSON_CT), body.to_string())
}

pub(super) fn get(state: &State, ctx: &Ctx, id: &str, pid: &str) -> Resp {
    let found = {
        let g = lock(&state.graph);
        let Some(call) = g.calls.get(id) else {
            return not_found(ctx);
        };
        call.roster.iter().find(|p| p["id"] == pid).cloned()
    };
    let Some(mut p) = found else {
        return participant_not_found(ctx);
    };
    p.insert(
        "@odata.context".into(),
        json!(format!(
            "{}/$metadata#communications/calls('{id}')/participants/$entity",
            ctx.base
        )),
    );
    http::response(StatusCode::OK, Some(JSON_CT), Value::Object(p).to_string())
}

fn participant_not_found(ctx: &Ctx) -> Resp {
    ctx.error(
        StatusCode::NOT_FOUND,
        "ItemNotFound",
        "The participant does not exist in this call.",
    )
}

pub(super) fn delete(state: &State, ctx: &Ctx, id: &str, pid: &str) -> Resp {
    let mut g = lock(&state.graph);
    let Some(call) = g.calls.get_mut(id) else {
        return not_found(ctx);
    };
    let before = call.roster.len();
    call.roster.retain(|p| p["id"] != pid);
    if call.roster.len() == before {
        return participant_not_found(ctx);
    }
    http::response(StatusCode::NO_CONTENT, None, "")
}

pub(super) fn invite(state: &Arc<State>, ctx: &Ctx, id: &str, body: &Map<String, Value>) -> Resp {
    let invited: Vec<&Value> = match body.get("participants").and_then(Value::as_array) {
        Some(a)
            if !a.is_empty()
                && a.iter()
                    .all(|p| p.get("identity").is_some_and(Value::is_object)) =>
        {
            a.iter().collect()
        }
        _ => {
            return ctx.bad_request(
                "participants is required: a non-empty collection of invitationParticipantInfo with an identity.",
            );
        }
    };
    let client_context = body.get("clientContext").cloned().unwrap_or(Value::Null);
    let op_id = http::uuid_v4();
    let added: Vec<Map<String, Value>> = invited
        .iter()
        .map(|p| participant(http::uuid_v4(), p))
        .collect();
    let sink = {
        let mut g = lock(&state.graph);
        let Some(call) = g.calls.get_mut(id) else {
            return not_found(ctx);
        };
        call.roster.extend(added.iter().cloned());
        Sink::of(&g, id)
    };
    let Some(sink) = sink else {
        return not_found(ctx);
    };
    let echoed: Vec<Value> = invited.iter().map(|p| echo_invited(p)).collect();
    let completed = J::obj(vec![
        (
            "@odata.type",
            J::str("#microsoft.graph.inviteParticipantsOperation"),
        ),
        (
            "participants",
            J::Arr(
                invited
                    .iter()
                    .map(|p| {
                        J::obj(vec![
                            (
                                "@odata.type",
                                J::str("#microsoft.graph.invitationParticipantInfo"),
                            ),
                            ("identity", J::from_value(&resolved_identity(p))),
                        ])
                    })
                    .collect(),
            ),
        ),
        ("status", J::str(super::media::completed_status(state))),
        ("clientContext", J::from_value(&client_context)),
        ("id", J::str(op_id.clone())),
    ]);
    let suffix = format!("/operations/{op_id}");
    let mut done = Entry::new("deleted", sink.resource_url(state, &suffix), completed);
    done.resource = Some(super::legacy_path(&done.resource_url));
    sink.send_op(state, Batch::new(&sink.url, vec![done]));
    if let Some(e) = roster_update(state, &sink, added, true) {
        sink.send_op(state, Batch::new(&sink.url, vec![e]));
    }
    let mut op = Map::new();
    op.insert(
        "@odata.type".into(),
        json!("#microsoft.graph.inviteParticipantsOperation"),
    );
    op.insert("id".into(), json!(op_id));
    op.insert("status".into(), json!("running"));
    op.insert("clientContext".into(), client_context);
    op.insert("resultInfo".into(), Value::Null);
    op.insert("participants".into(), Value::Array(echoed));
    ctx.operation(state, id, &op)
}

/// An invited participant's identitySet with its user resolved in the tenant's directory
/// (tenant and display name filled in when the request named the user by id alone).
fn resolved_identity(p: &Value) -> Value {
    let mut identity = p["identity"].as_object().cloned().unwrap_or_default();
    if let Some(Value::Object(user)) = identity.get_mut("user") {
        user.entry("@odata.type")
            .or_insert_with(|| json!("#microsoft.graph.identity"));
        user.entry("tenantId").or_insert_with(|| json!(TENANT_ID));
        user.entry("displayName")
            .or_insert_with(|| json!(DIRECTORY_DISPLAY_NAME));
    }
    Value::Object(identity)
}

/// An invited participant as the invite response shows it: every identity kind present,
/// the user resolved in the directory.
fn echo_invited(p: &Value) -> Value {
    let mut identity = resolved_identity(p)
        .as_object()
        .cloned()
        .unwrap_or_default();
    identity.remove("@odata.type");
    for k in ["user", "application", "device", "phone"] {
        identity.entry(k).or_insert(Value::Null);
    }
    json!({
        "endpointType": p.get("endpointType").cloned().unwrap_or(Value::Null),
        "id": Value::Null,
        "replacesCallId": p.get("replacesCallId").cloned().unwrap_or(Value::Null),
        "identity": identity,
    })
}

pub(super) fn mute_call(
    state: &Arc<State>,
    ctx: &Ctx,
    id: &str,
    body: &Map<String, Value>,
) -> Resp {
    set_muted(state, ctx, id, None, true, body)
}

pub(super) fn unmute_call(
    state: &Arc<State>,
    ctx: &Ctx,
    id: &str,
    body: &Map<String, Value>,
) -> Resp {
    set_muted(state, ctx, id, None, false, body)
}

pub(super) fn mute_participant(
    state: &Arc<State>,
    ctx: &Ctx,
    id: &str,
    pid: &str,
    body: &Map<String, Value>,
) -> Resp {
    set_muted(state, ctx, id, Some(pid), true, body)
}

/// Mutes or unmutes the bot (`pid` None) or another participant, answers the completed
/// mute/unmute operation and notifies the roster change.
fn set_muted(
    state: &Arc<State>,
    ctx: &Ctx,
    id: &str,
    pid: Option<&str>,
    muted: bool,
    body: &Map<String, Value>,
) -> Resp {
    let (changed, sink) = {
        let mut g = lock(&state.graph);
        let Some(call) = g.calls.get_mut(id) else {
            return not_found(ctx);
        };
        let target = match pid {
            None => call.roster.first_mut(),
            Some(pid) => call.roster.iter_mut().find(|p| p["id"] == pid),
        };
        let Some(p) = target else {
            return participant_not_found(ctx);
        };
        p.insert("isMuted".into(), json!(muted));
        let changed = p.clone();
        (changed, Sink::of(&g, id))
    };
    let Some(sink) = sink else {
        return not_found(ctx);
    };
    if let Some(e) = roster_update(state, &sink, vec![changed], false) {
        sink.send_op(state, Batch::new(&sink.url, vec![e]));
    }
    let kind = if muted {
        "muteParticipantOperation"
    } else {
        "unmuteParticipantOperation"
    };
    let mut op = Map::new();
    op.insert(
        "@odata.type".into(),
        json!(format!("#microsoft.graph.{kind}")),
    );
    op.insert(
        "@odata.context".into(),
        json!(format!("{}/$metadata#{kind}", ctx.base)),
    );
    op.insert("id".into(), json!(http::uuid_v4()));
    op.insert("status".into(), json!("completed"));
    op.insert(
        "clientContext".into(),
        body.get("clientContext").cloned().unwrap_or(Value::Null),
    );
    ctx.operation(state, id, &op)
}

/// The roster entry for a screen-sharing role change: the participant now sending
/// screen-sharing video (the bot when it becomes `sharer`, the other side otherwise).
pub(super) fn screen_sharing_update(
    state: &State,
    id: &str,
    role: &str,
) -> Option<(Sink, Map<String, Value>)> {
    let mut g = lock(&state.graph);
    let call = g.calls.get_mut(id)?;
    let index = if role == "sharer" || call.roster.len() < 2 {
        0
    } else {
        1
    };
    let p = call.roster.get_mut(index)?;
    p.insert(
        "mediaStreams".into(),
        json!([{
            "@odata.type": "#microsoft.graph.mediaStream",
            "mediaType": "videoBasedScreenSharing",
            "label": "applicationsharing-video",
            "sourceId": "1",
            "direction": "sendOnly",
            "serverMuted": false
        }]),
    );
    let changed = p.clone();
    Some((Sink::of(&g, id)?, changed))
}
