//! The Microsoft Graph `/communications/calls` half of the reference target.
//!
//! It implements the call-control operations of the Graph v1.0 pages: create, get, delete;
//! answer, reject, redirect (on incoming calls only); transfer, keepAlive, mute, unmute,
//! changeScreenSharingRole, updateRecordingStatus; playPrompt, recordResponse,
//! cancelMediaProcessing, subscribeToTone, sendDtmfTones; participants list, get, invite,
//! delete and mute. Each answers with the documented status, headers (`Location` for
//! operations) and body, with live ids, and queues the documented notifications for the
//! call's callbackUri (see [`notify`]): call-state changes, operation completions
//! (`commsOperation` subtypes, resourceUrl `/communications/calls/{id}/operations/{op}`) and
//! roster updates (resourceUrl `/communications/calls/{id}/participants`). resultInfo
//! code/subcode are JSON numbers (the schema's Int32; some pages print strings).
//!
//! Incoming calls exist because the target offers them on request: the control endpoint
//! `POST /_callconform/incoming-call` with `{"callbackUri": "..."}` (not part of the Graph
//! surface; see [`incoming`]) creates an incoming call, answers `201 {"id": "..."}` and POSTs
//! the `incoming` notification to that callback.
//!
//! Notifications go only to loopback callbacks unless the operator allows more hosts
//! ([`callback`]); other callbackUri values are refused at request time with a 400.

mod actions;
mod callback;
mod calls;
mod groups;
mod incoming;
mod json;
mod media;
mod notify;
mod participants;
mod request;
mod sharing;
mod transfer;

pub(crate) use incoming::{PATH as INCOMING_CALL_PATH, handle as incoming_call};
pub(crate) use notify::notification_client;
pub(crate) use sharing::{PATH as SHARE_SCREEN_PATH, handle as share_screen};

use std::collections::HashMap;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::header::WWW_AUTHENTICATE;
use hyper::{Method, Request, StatusCode};
use serde_json::{Map, Value};

use super::http::{self, Resp};
use super::{Deviation, State, lock};
use json::J;
use notify::{Batch, Entry, Queue};
use request::{
    Ctx, accepted, authorized, method_not_allowed, not_found, read_json, segment_not_found,
};

const JSON_CT: &str = "application/json";
/// Live calls kept at most; beyond this create answers 429 instead of growing.
const MAX_CALLS: usize = 10_000;

/// Calls the target knows about, by id.
#[derive(Default)]
pub(crate) struct GraphState {
    calls: HashMap<String, GraphCall>,
}

struct GraphCall {
    /// The call resource as GET returns it.
    resource: Map<String, Value>,
    callback: String,
    queue: Queue,
    /// Participants as GET .../participants returns them; the bot's own first.
    roster: Vec<Map<String, Value>>,
    /// Media operations still running (playPrompt, recordResponse, sendDtmfTones).
    running: Vec<media::RunningOp>,
    /// Last toneInfo sequenceId sent.
    tone_sequence: i64,
    /// Addressed through the legacy `/app/calls` collection at least once: its
    /// notifications then also name their resource by the legacy `resource` path.
    legacy: bool,
    /// Whether (and how) the bot hears of a participant's content sharing.
    sharing: Option<sharing::Sharing>,
    /// Audio routing groups (beta), in creation order.
    groups: Vec<Map<String, Value>>,
    /// Ids of the content-sharing sessions going on (a participant sharing a screen).
    sessions: Vec<String>,
}

impl GraphCall {
    fn state(&self) -> &str {
        self.resource
            .get("state")
            .and_then(Value::as_str)
            .unwrap_or("")
    }
}

/// Where one call's notifications go, captured under the state lock.
struct Sink {
    id: String,
    url: String,
    queue: Queue,
    /// Another live call (id, callback), for the deviations that cross calls.
    other: Option<(String, String)>,
    /// See [`GraphCall::legacy`].
    legacy: bool,
}

impl Sink {
    fn of(g: &GraphState, id: &str) -> Option<Sink> {
        let call = g.calls.get(id)?;
        let other = g
            .calls
            .iter()
            .find(|(k, _)| k.as_str() != id)
            .map(|(k, c)| (k.clone(), c.callback.clone()));
        Some(Sink {
            id: id.to_owned(),
            url: call.callback.clone(),
            queue: call.queue.clone(),
            other,
            legacy: call.legacy,
        })
    }

    /// A bot written against the 2018-2019 beta pages reads `resource`, the older name
    /// of `resourceUrl`. A call the bot addresses through `/app/calls` is that era's
    /// call: its entries name their resource by `resource` alone, as those pages print
    /// them; other calls get `resourceUrl` (and `resource` only where a current page shows
    /// both). The harness routes either name.
    fn name_legacy_resources(&self, batch: &mut Batch) {
        if !self.legacy {
            return;
        }
        for e in &mut batch.entries {
            if e.resource.is_none() {
                e.resource = Some(legacy_path(&e.resource_url));
            }
            e.legacy_only = true;
        }
    }

    /// `/communications/calls/{id}{suffix}`, the id percent-encoded as a path segment,
    /// naming a random call under `graph-wrong-resource-url`.
    fn resource_url(&self, state: &State, suffix: &str) -> String {
        let id = if state.has(Deviation::GraphWrongResourceUrl) {
            http::uuid_v4()
        } else {
            crate::template::encode_segment(&self.id)
        };
        format!("/communications/calls/{id}{suffix}")
    }

    /// A call-state entry (`#microsoft.graph.call` resourceData).
    fn call_entry(&self, state: &State, change: &'static str, mut data: J) -> Entry {
        if state.has(Deviation::GraphExtraResourceData) {
            data.set("routingHint", J::str("emea-west"));
        }
        Entry::new(change, self.resource_url(state, ""), data)
    }

    /// Queues entries of the create/delete sequences.
    fn send(&self, mut batch: Batch) {
        self.name_legacy_resources(&mut batch);
        self.queue.push(batch);
    }

    /// Queues entries of the other operations, where the crossing deviations apply.
    fn send_op(&self, state: &State, mut batch: Batch) {
        self.name_legacy_resources(&mut batch);
        if state.has(Deviation::GraphOtherCallback) {
            batch.url = match &self.other {
                Some((_, cb)) => cb.clone(),
                None => format!("{}-other", batch.url.trim_end_matches('/')),
            };
        }
        if state.has(Deviation::GraphOtherCallResourceUrl) {
            let other = self
                .other
                .as_ref()
                .map_or_else(http::uuid_v4, |o| o.0.clone());
            for e in &mut batch.entries {
                e.resource_url = e.resource_url.replacen(&self.id, &other, 1);
                e.resource = e.resource.take().map(|r| r.replacen(&self.id, &other, 1));
            }
        }
        self.queue.push(batch);
    }
}

/// `/communications/calls/...` → `/app/calls/...`.
pub(super) fn legacy_path(resource_url: &str) -> String {
    match resource_url.strip_prefix("/communications/") {
        Some(rest) => format!("/app/{rest}"),
        None => resource_url.to_owned(),
    }
}

/// What the path names, after the optional version prefix.
#[derive(Debug, PartialEq)]
pub(crate) struct Route {
    /// `/v1.0`, `/beta` or empty, kept so `Location` points back the same way.
    prefix: String,
    /// Named through `/app/calls`, the collection of the 2018-2019 beta pages (deprecated
    /// for `/communications/calls`, still documented beside it). That surface answers in
    /// that era's shapes: operations carry their timestamps, `record` and
    /// `subscribeToTone` answer 202 with a Location, notifications carry `resource`.
    legacy: bool,
    target: Target,
}

#[derive(Debug, PartialEq)]
enum Target {
    Collection,
    Item(String),
    /// `/{id}/{action}`, the action lower-cased without a `microsoft.graph.` qualifier.
    Action(String, String),
    Participants(String),
    Participant(String, String),
    ParticipantAction(String, String, String),
    /// `/{id}/audioRoutingGroups[/{group}]` (beta).
    AudioRoutingGroups(String, Option<String>),
    /// `/{id}/contentSharingSessions[/{session}]` (beta).
    ContentSharingSessions(String, Option<String>),
    Other,
}

/// Matches `[/v1.0|/beta](/communications/calls|/app/calls)[/...]`, case-insensitive; id
/// segments are percent-decoded.
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
    let legacy = segs[0].eq_ignore_ascii_case("app");
    if segs[2..].iter().any(|s| s.is_empty()) {
        return Some(Route {
            prefix,
            legacy,
            target: Target::Other,
        });
    }
    // Ids arrive percent-encoded (a call id may hold `/`); literals are matched as sent.
    let own = |s: &&str| crate::template::percent_decode(s).into_owned();
    let is_participants = |s: &str| s.eq_ignore_ascii_case("participants");
    let is_groups = |s: &str| s.eq_ignore_ascii_case("audioroutinggroups");
    let is_sessions = |s: &str| s.eq_ignore_ascii_case("contentsharingsessions");
    let target = match &segs[2..] {
        [] => Target::Collection,
        [id] => Target::Item(own(id)),
        [id, p] if is_participants(p) => Target::Participants(own(id)),
        [id, p, pid] if is_participants(p) => Target::Participant(own(id), own(pid)),
        [id, p, pid, a] if is_participants(p) => {
            Target::ParticipantAction(own(id), own(pid), action_name(a))
        }
        [id, g] if is_groups(g) => Target::AudioRoutingGroups(own(id), None),
        [id, g, gid] if is_groups(g) => Target::AudioRoutingGroups(own(id), Some(own(gid))),
        [id, c] if is_sessions(c) => Target::ContentSharingSessions(own(id), None),
        [id, c, sid] if is_sessions(c) => Target::ContentSharingSessions(own(id), Some(own(sid))),
        [id, a] => Target::Action(own(id), action_name(a)),
        _ => Target::Other,
    };
    Some(Route {
        prefix,
        legacy,
        target,
    })
}

impl Target {
    /// The call a target names, if any.
    fn call_id(&self) -> Option<&str> {
        match self {
            Target::Item(id)
            | Target::Action(id, _)
            | Target::Participants(id)
            | Target::Participant(id, _)
            | Target::ParticipantAction(id, _, _)
            | Target::AudioRoutingGroups(id, _)
            | Target::ContentSharingSessions(id, _) => Some(id),
            Target::Collection | Target::Other => None,
        }
    }
}

/// OData allows an action namespace-qualified (`microsoft.graph.sendDtmfTones`).
fn action_name(seg: &str) -> String {
    let lower = seg.to_ascii_lowercase();
    lower
        .strip_prefix("microsoft.graph.")
        .map(str::to_owned)
        .unwrap_or(lower)
}

pub(crate) async fn handle(state: &Arc<State>, route: Route, req: Request<Incoming>) -> Resp {
    let request_id = http::uuid_v4();
    let client_request_id = req
        .headers()
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 128)
        .map(str::to_owned);
    let host = http::request_host(req.headers()).unwrap_or_else(|| state.addr.to_string());
    let ctx = Ctx {
        request_id: request_id.clone(),
        origin: format!("http://{host}"),
        base: format!("http://{host}{}", route.prefix),
        legacy: route.legacy,
    };
    if route.legacy
        && let Some(id) = route.target.call_id()
        && let Some(call) = lock(&state.graph).calls.get_mut(id)
    {
        call.legacy = true;
    }
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
        dispatch(state, &ctx, route.target, req).await
    };
    let resp = http::with_header(resp, "request-id", &request_id);
    match client_request_id {
        Some(c) => http::with_header(resp, "client-request-id", &c),
        None => resp,
    }
}

async fn dispatch(state: &Arc<State>, ctx: &Ctx, target: Target, req: Request<Incoming>) -> Resp {
    let method = req.method().clone();
    let post = method == Method::POST;
    match target {
        Target::Collection if post => match read_json(ctx, req).await {
            Ok(body) => calls::create(state, ctx, &body),
            Err(r) => r,
        },
        Target::Collection => method_not_allowed(ctx, "POST"),
        Target::Item(id) if post && action_name(&id) == "logteleconferencedevicequality" => {
            match read_json(ctx, req).await {
                Ok(body) => calls::log_device_quality(ctx, &body),
                Err(r) => r,
            }
        }
        Target::Item(id) => match method {
            Method::GET => calls::get(state, ctx, &id),
            Method::DELETE => calls::delete(state, ctx, &id),
            _ => method_not_allowed(ctx, "GET, DELETE"),
        },
        Target::Action(id, action) => {
            let Some(run) = action_handler(&action) else {
                return segment_not_found(ctx);
            };
            if !post {
                return method_not_allowed(ctx, "POST");
            }
            match read_json(ctx, req).await {
                Ok(body) => run(state, ctx, &id, &body),
                Err(r) => r,
            }
        }
        Target::Participants(id) if method == Method::GET => participants::list(state, ctx, &id),
        Target::Participants(_) => method_not_allowed(ctx, "GET"),
        Target::Participant(id, pid) if post && pid.eq_ignore_ascii_case("invite") => {
            match read_json(ctx, req).await {
                Ok(body) => participants::invite(state, ctx, &id, &body),
                Err(r) => r,
            }
        }
        Target::Participant(id, pid) if post && action_name(&pid) == "configuremixer" => {
            match read_json(ctx, req).await {
                Ok(body) => media::configure_mixer(state, ctx, &id, &body),
                Err(r) => r,
            }
        }
        Target::Participant(id, pid) => match method {
            Method::GET => participants::get(state, ctx, &id, &pid),
            Method::DELETE => participants::delete(state, ctx, &id, &pid),
            _ => method_not_allowed(ctx, "GET, DELETE"),
        },
        Target::ParticipantAction(id, pid, action) if action == "mute" => {
            if !post {
                return method_not_allowed(ctx, "POST");
            }
            match read_json(ctx, req).await {
                Ok(body) => participants::mute_participant(state, ctx, &id, &pid, &body),
                Err(r) => r,
            }
        }
        Target::ParticipantAction(id, pid, action)
            if action == "startholdmusic" || action == "stopholdmusic" =>
        {
            if !post {
                return method_not_allowed(ctx, "POST");
            }
            match read_json(ctx, req).await {
                Ok(body) if action == "startholdmusic" => {
                    media::start_hold_music(state, ctx, &id, &pid, &body)
                }
                Ok(body) => media::stop_hold_music(state, ctx, &id, &pid, &body),
                Err(r) => r,
            }
        }
        Target::AudioRoutingGroups(id, None) => match method {
            Method::GET => groups::list(state, ctx, &id),
            Method::POST => match read_json(ctx, req).await {
                Ok(body) => groups::create(state, ctx, &id, &body),
                Err(r) => r,
            },
            _ => method_not_allowed(ctx, "GET, POST"),
        },
        Target::AudioRoutingGroups(id, Some(gid)) => match method {
            Method::GET => groups::get(state, ctx, &id, &gid),
            Method::DELETE => groups::delete(state, ctx, &id, &gid),
            Method::PATCH => match read_json(ctx, req).await {
                Ok(body) => groups::update(state, ctx, &id, &gid, &body),
                Err(r) => r,
            },
            _ => method_not_allowed(ctx, "GET, PATCH, DELETE"),
        },
        Target::ContentSharingSessions(id, sid) => match (method, sid) {
            (Method::GET, None) => groups::list_sessions(state, ctx, &id),
            (Method::GET, Some(sid)) => groups::get_session(state, ctx, &id, &sid),
            _ => method_not_allowed(ctx, "GET"),
        },
        Target::ParticipantAction(..) | Target::Other => segment_not_found(ctx),
    }
}

/// An action on a call: `(state, ctx, call id, request body) -> response`.
type ActionFn = fn(&Arc<State>, &Ctx, &str, &Map<String, Value>) -> Resp;

fn action_handler(action: &str) -> Option<ActionFn> {
    Some(match action {
        "answer" => actions::answer,
        "reject" => actions::reject,
        "redirect" => actions::redirect,
        "transfer" => transfer::transfer,
        "keepalive" => actions::keep_alive,
        "changescreensharingrole" => actions::change_screen_sharing_role,
        "updaterecordingstatus" => actions::update_recording_status,
        "mute" => participants::mute_call,
        "unmute" => participants::unmute_call,
        "playprompt" => media::play_prompt,
        "recordresponse" => media::record_response,
        "record" => media::record,
        "cancelmediaprocessing" => media::cancel_media_processing,
        "subscribetotone" => media::subscribe_to_tone,
        "senddtmftones" => media::send_dtmf_tones,
        "addlargegalleryview" => media::add_large_gallery_view,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let r = |p: &str| route(p).map(|r| (r.prefix, r.target));
        let own = |s: &str| s.to_owned();
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
            Some(("/BETA".into(), Target::Item(own("abc"))))
        );
        assert_eq!(
            r("/communications/calls/abc/Answer"),
            Some((String::new(), Target::Action(own("abc"), own("answer"))))
        );
        assert_eq!(
            r("/communications/calls/abc/microsoft.graph.sendDtmfTones"),
            Some((
                String::new(),
                Target::Action(own("abc"), own("senddtmftones"))
            ))
        );
        assert_eq!(
            r("/communications/calls/abc/participants"),
            Some((String::new(), Target::Participants(own("abc"))))
        );
        assert_eq!(
            r("/communications/calls/abc/participants/invite"),
            Some((
                String::new(),
                Target::Participant(own("abc"), own("invite"))
            ))
        );
        assert_eq!(
            r("/communications/calls/abc/participants/p/mute"),
            Some((
                String::new(),
                Target::ParticipantAction(own("abc"), own("p"), own("mute"))
            ))
        );
        assert_eq!(
            r("/beta/communications/calls/abc/audioRoutingGroups/oneToOne"),
            Some((
                "/beta".into(),
                Target::AudioRoutingGroups(own("abc"), Some(own("oneToOne")))
            ))
        );
        assert_eq!(
            r("/communications/calls/abc/contentSharingSessions"),
            Some((
                String::new(),
                Target::ContentSharingSessions(own("abc"), None)
            ))
        );
        assert_eq!(
            r("/communications/calls/abc/participants/p/startHoldMusic"),
            Some((
                String::new(),
                Target::ParticipantAction(own("abc"), own("p"), own("startholdmusic"))
            ))
        );
        assert_eq!(
            r("/communications/calls/abc/operations/x"),
            Some((String::new(), Target::Other))
        );
        assert_eq!(
            r("/communications/calls//answer"),
            Some((String::new(), Target::Other))
        );
        assert_eq!(r("/communications"), None);
        assert_eq!(r("/v2/communications/calls"), None);
        assert_eq!(r("/"), None);
        assert_eq!(r(""), None);
    }

    #[test]
    fn every_documented_action_has_a_handler() {
        for a in [
            "answer",
            "reject",
            "redirect",
            "transfer",
            "keepalive",
            "changescreensharingrole",
            "updaterecordingstatus",
            "mute",
            "unmute",
            "playprompt",
            "recordresponse",
            "record",
            "cancelmediaprocessing",
            "subscribetotone",
            "senddtmftones",
            "addlargegalleryview",
        ] {
            assert!(action_handler(a).is_some(), "{a}");
        }
        assert!(action_handler("explode").is_none());
    }
}
