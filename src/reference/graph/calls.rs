//! The call resource: create (outgoing calls), get and delete, and the bookkeeping every
//! other operation shares (registering a call, its state-change notifications).

use std::sync::Arc;

use hyper::StatusCode;
use hyper::header::LOCATION;
use serde_json::{Map, Value, json};

use super::callback::{self, Refusal};
use super::json::J;
use super::notify::{Batch, Entry, Hook, Queue};
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
    let sink = match register(state, ctx, &id, resource.clone(), callback.clone()) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let mut order = ["establishing", "established"];
    if state.has(Deviation::GraphEstablishedFirst) {
        order.reverse();
    }
    for s in order {
        let mut entry = sink.call_entry(state, "updated", progress_data(&resource, s));
        entry.callback_uri = Some(callback.clone());
        let mut batch = Batch::new(&sink.url, vec![entry]);
        if s == "established" {
            batch.before = Some(set_state(&id, "established"));
        }
        sink.send(batch);
    }
    if content_sharing_notified(&resource)
        && let Some(call) = lock(&state.graph).calls.get_mut(&id)
    {
        // The bot hears of a participant's screen share when one happens (the harness
        // asks for it: `super::sharing`).
        call.sharing = Some(super::sharing::Sharing::Listed);
    }
    if resource.get("meetingInfo").is_some_and(Value::is_object)
        && let Some(mut entry) = meeting_roster(state, &sink)
    {
        entry.callback_uri = Some(callback);
        sink.send(Batch::new(&sink.url, vec![entry]));
    }
    let mut body = resource;
    body.insert(
        "@odata.context".into(),
        json!(entity_context(ctx, "app/calls")),
    );
    let resp = http::response(
        StatusCode::CREATED,
        Some(JSON_CT),
        Value::Object(body).to_string(),
    );
    http::with_header(resp, LOCATION.as_str(), &ctx.call_url(&id))
}

/// Whether the bot asked to hear of content sharing (`callOptions`).
fn content_sharing_notified(resource: &Map<String, Value>) -> bool {
    resource
        .get("callOptions")
        .and_then(|o| o.get("isContentSharingNotificationEnabled"))
        .and_then(Value::as_bool)
        == Some(true)
}

/// The resourceData of an establishing/established notification of a created call, as
/// the create-call pages show it: the state, the meeting the call joins, the call's id
/// (and its direction once established).
fn progress_data(resource: &Map<String, Value>, to: &'static str) -> J {
    let mut pairs = vec![call_type(), ("state", J::str(to))];
    if to == "established"
        && let Some(d) = resource.get("direction")
    {
        pairs.push(("direction", J::from_value(d)));
    }
    for k in ["chatInfo", "meetingInfo"] {
        if let Some(v) = resource.get(k).filter(|v| v.is_object()) {
            pairs.push((k, J::from_value(v)));
        }
    }
    if let Some(v) = resource.get("id") {
        pairs.push(("id", J::from_value(v)));
    }
    J::obj(pairs)
}

/// The roster update a call that joined a meeting receives once in: the attendees
/// already there, then the bot itself.
fn meeting_roster(state: &State, sink: &Sink) -> Option<Entry> {
    let roster = lock(&state.graph)
        .calls
        .get(&sink.id)
        .map(|c| c.roster.clone())?;
    let (bot, others) = roster.split_first()?;
    let mut changed = others.to_vec();
    changed.push(bot.clone());
    participants::roster_update(state, sink, changed, false)
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
) -> Result<Sink, Box<Resp>> {
    let mut roster = participants::initial_roster(&resource);
    roster.extend(meeting_attendees(&resource));
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
            queue: Queue::start(state),
            roster,
            running: Vec::new(),
            tone_sequence: 0,
            legacy: false,
            sharing: None,
            groups: Vec::new(),
            sessions: Vec::new(),
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

/// The call resource as the documented create response shapes it: what the client sent
/// for the properties it owns, and the service's values for the rest (the bot as source,
/// the app's tenant, the meeting's chat when joining by meeting id).
fn call_resource(
    id: &str,
    chain_id: &str,
    callback: &str,
    input: &Map<String, Value>,
) -> Map<String, Value> {
    let given = |k: &str| input.get(k).filter(|v| !v.is_null()).cloned();
    let echo = |k: &str, default: Value| given(k).unwrap_or(default);
    let meeting = given("meetingInfo");
    let mut m = Map::new();
    m.insert("@odata.type".into(), json!("#microsoft.graph.call"));
    m.insert("id".into(), json!(id));
    m.insert("state".into(), json!("establishing"));
    m.insert("direction".into(), json!("outgoing"));
    m.insert("callbackUri".into(), json!(callback));
    m.insert("callChainId".into(), json!(chain_id));
    m.insert("callRoutes".into(), json!([]));
    m.insert("myParticipantId".into(), json!(http::uuid_v4()));
    m.insert(
        "requestedModalities".into(),
        echo("requestedModalities", json!(["audio"])),
    );
    m.insert("source".into(), echo("source", bot_source()));
    m.insert("targets".into(), echo("targets", json!([])));
    m.insert("tenantId".into(), echo("tenantId", json!(BOT_TENANT_ID)));
    let chat = match (given("chatInfo"), &meeting) {
        (Some(c), _) => c,
        (None, Some(_)) => meeting_chat(),
        (None, None) => Value::Null,
    };
    m.insert("chatInfo".into(), chat);
    m.insert(
        "transcription".into(),
        if meeting.is_some() {
            inactive_transcription()
        } else {
            Value::Null
        },
    );
    m.insert("meetingInfo".into(), meeting.unwrap_or(Value::Null));
    for k in ["mediaConfig", "subject", "ringingTimeoutInSeconds"] {
        m.insert(k.into(), echo(k, Value::Null));
    }
    if let Some(o) = given("callOptions") {
        m.insert("callOptions".into(), o);
    }
    m.insert("activeModalities".into(), json!([]));
    m.insert("routingPolicies".into(), json!([]));
    m.insert("resultInfo".into(), Value::Null);
    m.insert("answeredBy".into(), Value::Null);
    m.insert("mediaState".into(), Value::Null);
    m.insert("toneInfo".into(), Value::Null);
    m
}

/// The reference bot's registered name, as its roster entry and incoming calls show it:
/// the name the pages give their calling bot.
pub(super) const BOT_DISPLAY_NAME: &str = "Calling Bot";

/// `@odata.context` of one call, in the form the pages show: create answers with the
/// `app/calls` entity set, get with `communications/calls`.
fn entity_context(ctx: &Ctx, entity_set: &str) -> String {
    format!("{}/$metadata#{entity_set}/$entity", ctx.base)
}

/// The tenant of the reference bot, for calls whose request names none.
pub(super) const BOT_TENANT_ID: &str = "5e5b1e7e-7a3b-4c5b-9d0e-00000000c0de";

/// The calling application as a participantInfo: a call's source unless the request
/// gives one.
fn bot_source() -> Value {
    json!({
        "@odata.type": "#microsoft.graph.participantInfo",
        "identity": {
            "@odata.type": "#microsoft.graph.identitySet",
            "application": {
                "@odata.type": "#microsoft.graph.identity",
                "displayName": BOT_DISPLAY_NAME,
                "id": participants::BOT_APP_ID
            }
        },
        "region": null,
        "languageId": null
    })
}

/// The chat of a meeting joined without chatInfo (by joinMeetingId): the service resolves
/// the meeting's thread; the root message is `0`.
fn meeting_chat() -> Value {
    let thread = http::uuid_v4().replace('-', "");
    json!({
        "@odata.type": "#microsoft.graph.chatInfo",
        "threadId": format!("19:meeting_{thread}@thread.v2"),
        "messageId": "0",
        "replyChainMessageId": null
    })
}

/// A meeting call's transcription, not started.
fn inactive_transcription() -> Value {
    json!({
        "@odata.type": "#microsoft.graph.callTranscriptionInfo",
        "state": "inactive",
        "lastModifiedDateTime": format!("{}Z", http::utc_now())
    })
}

/// Who is already in the meeting a call joins: its organizer, when the meeting info names
/// one, in the meeting with audio, video and screen sharing and muted.
fn meeting_attendees(resource: &Map<String, Value>) -> Vec<Map<String, Value>> {
    let Some(organizer) = resource
        .get("meetingInfo")
        .and_then(|m| m.get("organizer"))
        .filter(|o| o.is_object())
    else {
        return Vec::new();
    };
    let stream = |media: &str, source: &str, direction: &str| {
        json!({
            "@odata.type": "#microsoft.graph.mediaStream",
            "mediaType": media,
            "sourceId": source,
            "direction": direction,
            "serverMuted": false
        })
    };
    let p = json!({
        "@odata.type": "#microsoft.graph.participant",
        "id": http::uuid_v4(),
        "info": {
            "@odata.type": "#microsoft.graph.participantInfo",
            "identity": organizer,
            "languageId": "en-US"
        },
        "mediaStreams": [
            stream("audio", "1", "sendReceive"),
            stream("video", "2", "receiveOnly"),
            stream("videoBasedScreenSharing", "8", "receiveOnly")
        ],
        "isMuted": true,
        "isInLobby": false,
        "metadata": null
    });
    match p {
        Value::Object(m) => vec![m],
        _ => Vec::new(),
    }
}

pub(super) fn get(state: &State, ctx: &Ctx, id: &str) -> Resp {
    let found = lock(&state.graph).calls.get(id).map(|c| c.resource.clone());
    match found {
        Some(mut r) => {
            r.insert(
                "@odata.context".into(),
                json!(entity_context(ctx, "communications/calls")),
            );
            if state.has(Deviation::GraphGetCallTypeErrors) {
                type_errors(&mut r, ctx);
            }
            http::response(StatusCode::OK, Some(JSON_CT), Value::Object(r).to_string())
        }
        None => not_found(ctx),
    }
}

/// A call answer whose every documented field holds a value of the wrong type or form,
/// structure kept: what a judge by example alone lets through.
fn type_errors(r: &mut Map<String, Value>, ctx: &Ctx) {
    let context = format!("{}/v1.0/$metadata#users/$entity", ctx.base);
    let wrong = [
        ("/source/identity", json!({"applicaton": {"idd": 5}})),
        ("/targets/0/identity", json!({"nobody": true})),
        ("/toneInfo", json!(42)),
        ("/resultInfo", json!("garbage")),
        ("/answeredBy", json!([1, 2, 3])),
        ("/subject", json!({"not": "a string"})),
        ("/ringingTimeoutInSeconds", json!("forever")),
        ("/id", json!(http::uuid_v4())),
        ("/myParticipantId", json!("")),
        ("/@odata.context", json!(context)),
    ];
    let mut whole = Value::Object(std::mem::take(r));
    for (ptr, v) in wrong {
        match whole.pointer_mut(ptr) {
            Some(slot) => *slot = v,
            None => {
                if let (Some(key), Value::Object(m)) = (ptr.strip_prefix('/'), &mut whole)
                    && !key.contains('/')
                {
                    m.insert(key.to_string(), v);
                }
            }
        }
    }
    if let Value::Object(m) = whole {
        *r = m;
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
    let Some((call, sink)) = remove(state, id) else {
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
    // The roster empties as the call ends: a live service may say so before or after
    // `terminated`, which no page shows.
    let roster_left = || {
        let data = J::Arr(
            call.roster
                .iter()
                .map(|p| J::from_value(&Value::Object(p.clone())))
                .collect(),
        );
        sink_roster(state, &sink, data)
    };
    if state.has(Deviation::GraphRosterUpdateWhileTerminating) {
        seq.push(roster_left());
    }
    seq.push(terminated());
    if state.has(Deviation::GraphRosterUpdateAfterTerminated) {
        seq.push(roster_left());
    }
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

/// A roster-update entry of the call `sink` notifies.
fn sink_roster(state: &State, sink: &Sink, data: J) -> Entry {
    Entry::new("updated", sink.resource_url(state, "/participants"), data)
}

/// A resultInfo object; code/subcode as numbers unless `graph-result-info-strings`, no
/// subcode under `graph-result-info-no-subcode`.
pub(super) fn result_info(state: &State, code: i64, subcode: i64, message: &str) -> J {
    let num = |n: i64| {
        if state.has(Deviation::GraphResultInfoStrings) {
            J::Str(n.to_string())
        } else {
            J::Num(n)
        }
    };
    let mut pairs = vec![
        ("@odata.type", J::str("#microsoft.graph.resultInfo")),
        ("code", num(code)),
        ("subcode", num(subcode)),
        ("message", J::str(message)),
    ];
    if state.has(Deviation::GraphResultInfoNoSubcode) {
        pairs.retain(|(k, _)| *k != "subcode");
    }
    J::obj(pairs)
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

/// `POST /communications/calls/logTeleconferenceDeviceQuality`: a teleconference device's
/// media quality, logged; `200 OK` with no body. `quality` is required.
pub(super) fn log_device_quality(ctx: &Ctx, body: &Map<String, Value>) -> Resp {
    let Some(quality) = body.get("quality").and_then(Value::as_object) else {
        return ctx.bad_request("quality is required: a teleconferenceDeviceQuality.");
    };
    for key in ["callChainId", "mediaLegId", "deviceName"] {
        if quality.get(key).and_then(Value::as_str).is_none() {
            return ctx.bad_request("quality lacks callChainId, mediaLegId or deviceName.");
        }
    }
    http::response(StatusCode::OK, None, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn a_created_call_echoes_what_the_request_sets() {
        let req = input(json!({
            "source": {"identity": {"application": {"id": "app"}}},
            "targets": [{"identity": {"user": {"id": "u"}}}],
            "requestedModalities": ["audio", "video"],
            "mediaConfig": {"@odata.type": "#microsoft.graph.serviceHostedMediaConfig",
                            "preFetchMedia": [{"uri": "https://x/beep.wav", "resourceId": "r"}]},
            "callOptions": {"isContentSharingNotificationEnabled": true},
            "tenantId": "t",
            "subject": "s"
        }));
        let r = call_resource("id", "chain", "cb", &req);
        for k in [
            "source",
            "targets",
            "requestedModalities",
            "mediaConfig",
            "callOptions",
            "tenantId",
            "subject",
        ] {
            assert_eq!(r.get(k), req.get(k), "{k}");
        }
        assert_eq!(r["chatInfo"], Value::Null);
        assert_eq!(r["transcription"], Value::Null);
        assert!(meeting_attendees(&r).is_empty());
    }

    #[test]
    fn what_the_request_leaves_out_gets_the_services_values() {
        let r = call_resource("id", "chain", "cb", &Map::new());
        assert_eq!(r["state"], "establishing");
        assert_eq!(r["direction"], "outgoing");
        assert_eq!(r["callRoutes"], json!([]));
        assert_eq!(r["targets"], json!([]));
        assert_eq!(r["tenantId"], BOT_TENANT_ID);
        assert_eq!(
            r["source"]["identity"]["application"]["id"],
            participants::BOT_APP_ID
        );
        assert!(!r.contains_key("callOptions"));
    }

    #[test]
    fn a_meeting_join_gets_the_meetings_chat_transcription_and_organizer() {
        let by_id = input(json!({"meetingInfo": {
            "@odata.type": "#microsoft.graph.joinMeetingIdMeetingInfo", "joinMeetingId": "1"}}));
        let r = call_resource("id", "chain", "cb", &by_id);
        let thread = r["chatInfo"]["threadId"].as_str().unwrap_or_default();
        assert!(
            thread.starts_with("19:meeting_") && thread.ends_with("@thread.v2"),
            "{thread}"
        );
        assert_eq!(r["transcription"]["state"], "inactive");
        assert!(meeting_attendees(&r).is_empty(), "no organizer is named");
        let organizer = json!({"user": {"id": "o", "displayName": "Bob"}});
        let chat = json!({"threadId": "19:meeting_x@thread.v2", "messageId": "0"});
        let scheduled = input(json!({"chatInfo": chat,
            "meetingInfo": {"@odata.type": "#microsoft.graph.organizerMeetingInfo", "organizer": organizer}}));
        let r = call_resource("id", "chain", "cb", &scheduled);
        assert_eq!(r["chatInfo"], chat, "a given chatInfo is kept");
        let attendees = meeting_attendees(&r);
        assert_eq!(attendees.len(), 1);
        assert_eq!(attendees[0]["info"]["identity"], organizer);
        let mut s = String::new();
        progress_data(&r, "established").write(false, &mut s);
        let data: Value = serde_json::from_str(&s).unwrap_or_default();
        assert_eq!(data["state"], "established");
        assert_eq!(data["chatInfo"], chat);
        assert_eq!(data["meetingInfo"]["organizer"], organizer);
        assert_eq!(data["id"], "id");
    }
}
