//! Sub-resources of a call on the beta pages: audioRoutingGroups (create, get, list,
//! update, delete; the call holds them by id) and contentSharingSessions (get and list of
//! the sessions the call holds: a participant's screen share, see [`super::sharing`],
//! adds one while it lasts).

use hyper::StatusCode;
use serde_json::{Map, Value, json};

use super::{Ctx, JSON_CT, not_found};
use crate::reference::http::{self, Resp};
use crate::reference::{State, lock};

/// Audio routing groups a call keeps at most.
const MAX_GROUPS: usize = 64;
const ROUTING_MODES: &[&str] = &["oneToOne", "multicast"];

fn group_not_found(ctx: &Ctx) -> Resp {
    ctx.error(
        StatusCode::NOT_FOUND,
        "ItemNotFound",
        "The audio routing group does not exist in this call.",
    )
}

fn ids(v: Option<&Value>) -> Option<Vec<Value>> {
    let a = v?.as_array()?;
    a.iter().all(Value::is_string).then(|| a.clone())
}

/// The group a create or update body describes, or the reason it is refused.
fn group_of(body: &Map<String, Value>, id: String) -> Result<Map<String, Value>, &'static str> {
    let mode = body
        .get("routingMode")
        .and_then(Value::as_str)
        .filter(|m| ROUTING_MODES.contains(m))
        .ok_or("routingMode is required: oneToOne or multicast.")?;
    let sources = ids(body.get("sources")).ok_or("sources is required: participant ids.")?;
    let receivers = ids(body.get("receivers")).ok_or("receivers is required: participant ids.")?;
    if mode == "oneToOne" && sources.len() != 1 {
        return Err("a oneToOne group has exactly one source.");
    }
    let mut g = Map::new();
    g.insert("id".into(), json!(id));
    g.insert("routingMode".into(), json!(mode));
    g.insert("sources".into(), Value::Array(sources));
    g.insert("receivers".into(), Value::Array(receivers));
    Ok(g)
}

fn ok(body: Value) -> Resp {
    http::response(StatusCode::OK, Some(JSON_CT), body.to_string())
}

pub(super) fn create(state: &State, ctx: &Ctx, id: &str, body: &Map<String, Value>) -> Resp {
    let gid = body
        .get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map_or_else(http::uuid_v4, str::to_owned);
    let group = match group_of(body, gid.clone()) {
        Ok(g) => g,
        Err(m) => return ctx.bad_request(m),
    };
    let mut g = lock(&state.graph);
    let Some(call) = g.calls.get_mut(id) else {
        return not_found(ctx);
    };
    if call.groups.iter().any(|g| g["id"] == gid.as_str()) {
        return ctx.error(
            StatusCode::CONFLICT,
            "Conflict",
            "An audio routing group with this id exists in this call.",
        );
    }
    if call.groups.len() >= MAX_GROUPS {
        return ctx.bad_request("Too many audio routing groups in this call.");
    }
    call.groups.push(group.clone());
    ok(Value::Object(group))
}

pub(super) fn list(state: &State, ctx: &Ctx, id: &str) -> Resp {
    let Some(groups) = lock(&state.graph).calls.get(id).map(|c| c.groups.clone()) else {
        return not_found(ctx);
    };
    ok(json!({
        "@odata.context": format!("{}/$metadata#communications/calls('{id}')/audioRoutingGroups", ctx.base),
        "value": groups,
    }))
}

pub(super) fn get(state: &State, ctx: &Ctx, id: &str, gid: &str) -> Resp {
    let found = {
        let g = lock(&state.graph);
        let Some(call) = g.calls.get(id) else {
            return not_found(ctx);
        };
        call.groups.iter().find(|g| g["id"] == gid).cloned()
    };
    match found {
        Some(g) => ok(Value::Object(g)),
        None => group_not_found(ctx),
    }
}

pub(super) fn update(
    state: &State,
    ctx: &Ctx,
    id: &str,
    gid: &str,
    body: &Map<String, Value>,
) -> Resp {
    if body
        .get("id")
        .and_then(Value::as_str)
        .is_some_and(|b| b != gid)
    {
        return ctx.bad_request("id cannot be changed.");
    }
    let mut g = lock(&state.graph);
    let Some(call) = g.calls.get_mut(id) else {
        return not_found(ctx);
    };
    let Some(group) = call.groups.iter_mut().find(|g| g["id"] == gid) else {
        return group_not_found(ctx);
    };
    // PATCH: the members sent replace those held.
    let mut merged = group.clone();
    for k in ["routingMode", "sources", "receivers"] {
        if let Some(v) = body.get(k) {
            merged.insert(k.into(), v.clone());
        }
    }
    match group_of(&merged, gid.to_owned()) {
        Ok(new) => {
            *group = new.clone();
            ok(Value::Object(new))
        }
        Err(m) => ctx.bad_request(m),
    }
}

pub(super) fn delete(state: &State, ctx: &Ctx, id: &str, gid: &str) -> Resp {
    let mut g = lock(&state.graph);
    let Some(call) = g.calls.get_mut(id) else {
        return not_found(ctx);
    };
    let before = call.groups.len();
    call.groups.retain(|g| g["id"] != gid);
    if call.groups.len() == before {
        return group_not_found(ctx);
    }
    http::response(StatusCode::NO_CONTENT, None, "")
}

fn session(sid: &str) -> Value {
    json!({"@odata.type": "#microsoft.graph.contentSharingSession", "id": sid})
}

pub(super) fn list_sessions(state: &State, ctx: &Ctx, id: &str) -> Resp {
    let Some(sessions) = lock(&state.graph).calls.get(id).map(|c| c.sessions.clone()) else {
        return not_found(ctx);
    };
    let value: Vec<Value> = sessions.iter().map(|s| session(s)).collect();
    ok(json!({
        "value": value,
        "@odata.context": format!("{}/$metadata#communications/calls('{id}')/contentSharingSessions", ctx.base),
    }))
}

pub(super) fn get_session(state: &State, ctx: &Ctx, id: &str, sid: &str) -> Resp {
    let found = {
        let g = lock(&state.graph);
        let Some(call) = g.calls.get(id) else {
            return not_found(ctx);
        };
        call.sessions.iter().any(|s| s.eq_ignore_ascii_case(sid))
    };
    if !found {
        return ctx.error(
            StatusCode::NOT_FOUND,
            "ItemNotFound",
            "The content sharing session does not exist in this call.",
        );
    }
    ok(session(sid))
}
