//! The reference target's control endpoint for incoming calls (not part of the Graph
//! surface): `POST /_callconform/incoming-call` with `{"callbackUri": "<url>"}` creates a
//! call in state `incoming`, answers `201 {"id": "<call id>"}` and POSTs the documented
//! `incoming` notification (changeType `created`, resourceUrl `/communications/calls/<id>`,
//! a `#microsoft.graph.call` with `state`/`direction` `incoming`, source and targets) to
//! the callback with the notification bearer token. The call then waits for answer, reject
//! or redirect. The callback is subject to the same host policy as create; no Graph token
//! is required (the endpoint only makes the target talk to a callback it would accept).

use std::collections::HashMap;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use serde_json::{Map, Value, json};

use super::callback::Refusal;
use super::calls::{call_type, checked_callback, register};
use super::json::J;
use super::notify::Batch;
use super::participants::{
    BOT_APP_ID, BOT_APP_INSTANCE_ID, DEFAULT_LANGUAGE, DEFAULT_REGION, TENANT_ID,
};
use super::{Ctx, JSON_CT, method_not_allowed, read_json};
use crate::reference::http::{self, Resp};
use crate::reference::{Deviation, State};

/// The control endpoint's path.
pub(crate) const PATH: &str = "/_callconform/incoming-call";

/// A control endpoint's request: a POST of a JSON object, answered in Graph's form.
pub(super) async fn control_request(
    state: &Arc<State>,
    req: Request<Incoming>,
) -> Result<(Ctx, Map<String, Value>), Resp> {
    let host = http::request_host(req.headers()).unwrap_or_else(|| state.addr.to_string());
    let ctx = Ctx {
        request_id: http::uuid_v4(),
        origin: format!("http://{host}"),
        base: format!("http://{host}"),
        legacy: false,
    };
    if req.method() != Method::POST {
        return Err(method_not_allowed(&ctx, "POST"));
    }
    let body = read_json(&ctx, req).await?;
    Ok((ctx, body))
}

pub(crate) async fn handle(state: &Arc<State>, req: Request<Incoming>) -> Resp {
    let (ctx, body) = match control_request(state, req).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let callback = match checked_callback(state, &body, true) {
        Ok(Some(c)) => c,
        Ok(None) => return ctx.bad_request(&Refusal::Invalid.message()),
        Err(r) => return ctx.bad_request(&r.message()),
    };
    let id = http::uuid_v4();
    let chain_id = http::uuid_v4();
    let mut resource = incoming_resource(&id, &chain_id, &callback);
    shape_after_example(&mut resource, body.get("example"));
    let sink = match register(state, &ctx, &id, resource.clone(), callback) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let shown_state = if state.has(Deviation::GraphIncomingWrongState) {
        "established"
    } else {
        "incoming"
    };
    // What the example's call shows beyond the usual (policy-recording metadata, a
    // meeting): the offered call carries it too.
    let extra: Vec<(String, J)> = example_data(body.get("example"))
        .into_iter()
        .flat_map(|d| d.iter())
        .filter(|(k, _)| !SHOWN.contains(&k.as_str()) && !KEPT.contains(&k.as_str()))
        .filter_map(|(k, _)| resource.get(k).map(|v| (k.clone(), J::from_value(v))))
        .collect();
    // With an example, the notification shows what the example shows; without, the
    // properties every incoming notification of the pages shows.
    let example_keys: Option<Vec<String>> =
        example_data(body.get("example")).map(|d| d.keys().cloned().collect());
    let show = |k: &str| {
        example_keys
            .as_ref()
            .is_none_or(|ks| ks.iter().any(|x| x == k))
    };
    let mut pairs = vec![call_type()];
    if show("@odata.id") {
        pairs.push(("@odata.id", J::Str(sink.resource_url(state, ""))));
    }
    if show("@odata.etag") {
        pairs.push(("@odata.etag", J::str("W/\"5445\"")));
    }
    pairs.push(("state", J::str(shown_state)));
    for k in SHOWN {
        if show(k)
            && let Some(v) = resource.get(k)
        {
            pairs.push((k, J::from_value(v)));
        }
    }
    let mut data = J::obj(pairs);
    if let J::Obj(fields) = &mut data {
        fields.extend(
            extra
                .into_iter()
                .map(|(k, v)| (std::borrow::Cow::Owned(k), v)),
        );
    }
    let mut entry = sink.call_entry(state, "created", data);
    // Pages from before `resourceUrl` also name the call by its legacy `resource` path.
    let legacy = body
        .get("example")
        .and_then(|e| e.pointer("/value/0/resource"))
        .is_some();
    if legacy {
        entry.resource = Some(super::legacy_path(&entry.resource_url));
    }
    sink.send_op(state, Batch::new(&sink.url, vec![entry]));
    http::response(
        StatusCode::CREATED,
        Some(JSON_CT),
        json!({ "id": id }).to_string(),
    )
}

/// The call properties every `incoming` notification shows.
const SHOWN: [&str; 10] = [
    "direction",
    "callbackUri",
    "source",
    "targets",
    "requestedModalities",
    "tenantId",
    "myParticipantId",
    "callChainId",
    "incomingContext",
    "id",
];

/// The resourceData of the example notification the harness passed (`example`), if any.
fn example_data(example: Option<&Value>) -> Option<&Map<String, Value>> {
    example?
        .get("value")?
        .get(0)?
        .get("resourceData")?
        .as_object()
}

/// Properties the target decides itself, whatever the example shows: ids, state, where it
/// calls back, and the notification's own bookkeeping.
const KEPT: [&str; 9] = [
    "@odata.type",
    "@odata.id",
    "@odata.etag",
    "id",
    "state",
    "callbackUri",
    "callChainId",
    "myParticipantId",
    "direction",
];

/// Offers the call the case's page describes: who calls, whom, with which modalities and
/// context, taken from the documented `incoming` notification the harness passes; the
/// target keeps its own ids, state and callback.
fn shape_after_example(resource: &mut Map<String, Value>, example: Option<&Value>) {
    let Some(data) = example_data(example) else {
        return;
    };
    // The example's ids name things of the documented call; the offered call has its
    // own. A literal the example shows in two places (its `myParticipantId` as the
    // target's participant id) stays one id of this call.
    let mut ids: HashMap<String, String> = HashMap::new();
    for k in ["id", "myParticipantId", "callChainId"] {
        if let (Some(Value::String(doc)), Some(Value::String(own))) = (data.get(k), resource.get(k))
        {
            ids.insert(doc.clone(), own.clone());
        }
    }
    if let (Some(Value::String(doc)), Some(Value::String(own))) = (
        data.get("source").and_then(|s| s.get("id")),
        resource.get("source").and_then(|s| s.get("id")),
    ) {
        ids.insert(doc.clone(), own.clone());
    }
    for (k, v) in data {
        if !KEPT.contains(&k.as_str()) && !v.is_null() {
            let mut v = v.clone();
            renew_ids(&mut v, &mut ids);
            resource.insert(k.clone(), v);
        }
    }
}

/// Replaces every participant id (`id` and `…Id` members, the tenant's excepted) by this
/// call's own, the same documented literal always by the same new id.
fn renew_ids(v: &mut Value, ids: &mut HashMap<String, String>) {
    match v {
        Value::Array(items) => items.iter_mut().for_each(|i| renew_ids(i, ids)),
        Value::Object(fields) => {
            for (k, v) in fields.iter_mut() {
                let id_key = k == "id" || (k.ends_with("Id") && k != "tenantId");
                match v {
                    Value::String(s) if id_key && !s.is_empty() => {
                        *s = ids.entry(s.clone()).or_insert_with(http::uuid_v4).clone();
                    }
                    _ => renew_ids(v, ids),
                }
            }
        }
        _ => {}
    }
}

/// An incoming peer-to-peer audio call from a user of the bot's tenant, reaching the bot
/// through its application instance (the resource account a phone number or a policy
/// routes to), shaped like the answer, reject and redirect pages' `incoming`
/// notifications: the source's participant id and identity provider, the tenant, and the
/// bot's own participant (`myParticipantId`) as the target's participant id.
fn incoming_resource(id: &str, chain_id: &str, callback: &str) -> Map<String, Value> {
    let source_id = http::uuid_v4();
    let my_participant_id = http::uuid_v4();
    let source = json!({
        "@odata.type": "#microsoft.graph.participantInfo",
        "id": source_id,
        "identity": {
            "@odata.type": "#microsoft.graph.identitySet",
            "user": {
                "@odata.type": "#microsoft.graph.identity",
                "displayName": "Test User",
                "id": http::uuid_v4(),
                "identityProvider": "AAD",
                "tenantId": TENANT_ID
            }
        },
        "endpointType": "default",
        "region": DEFAULT_REGION,
        "languageId": DEFAULT_LANGUAGE
    });
    let targets = json!([{
        "@odata.type": "#microsoft.graph.invitationParticipantInfo",
        "identity": {
            "@odata.type": "#microsoft.graph.identitySet",
            "application": {
                "@odata.type": "#microsoft.graph.identity",
                "displayName": super::calls::BOT_DISPLAY_NAME,
                "id": BOT_APP_ID
            },
            "applicationInstance": {
                "@odata.type": "#microsoft.graph.identity",
                "displayName": "callconform reference bot instance",
                "id": BOT_APP_INSTANCE_ID,
                "identityProvider": "AAD",
                "tenantId": TENANT_ID
            }
        },
        "endpointType": "default",
        "id": my_participant_id,
        "region": DEFAULT_REGION,
        "languageId": DEFAULT_LANGUAGE
    }]);
    let mut m = Map::new();
    m.insert("@odata.type".into(), json!("#microsoft.graph.call"));
    m.insert("id".into(), json!(id));
    m.insert("state".into(), json!("incoming"));
    m.insert("direction".into(), json!("incoming"));
    m.insert("callbackUri".into(), json!(callback));
    m.insert("source".into(), source);
    m.insert("targets".into(), targets);
    m.insert("requestedModalities".into(), json!(["audio"]));
    m.insert("tenantId".into(), json!(TENANT_ID));
    m.insert("myParticipantId".into(), json!(my_participant_id));
    m.insert("callChainId".into(), json!(chain_id));
    m.insert(
        "incomingContext".into(),
        json!({
            "@odata.type": "#microsoft.graph.incomingContext",
            "sourceParticipantId": source_id,
            "observedParticipantId": source_id
        }),
    );
    m.insert("activeModalities".into(), json!([]));
    m.insert("resultInfo".into(), Value::Null);
    m.insert("answeredBy".into(), Value::Null);
    m
}
