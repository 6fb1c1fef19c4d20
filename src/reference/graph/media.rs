//! Media operations: playPrompt, recordResponse, sendDtmfTones (which run for a while and
//! then notify their completion), cancelMediaProcessing (which ends the running ones with
//! their documented cancellation notifications) and subscribeToTone (after which the
//! caller's key presses arrive as toneInfo on the call).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::calls::{call_type, result_info};
use super::json::J;
use super::notify::{Batch, Entry};
use super::{Ctx, Sink, not_found};
use crate::reference::http::{self, Resp};
use crate::reference::{Deviation, State, lock};

/// How long a prompt, recording or DTMF sequence "plays" before it completes: long enough
/// for a cancelMediaProcessing sent right after to find it running.
const MEDIA_DURATION: Duration = Duration::from_millis(400);

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum MediaKind {
    PlayPrompt,
    Record,
    /// `record`, the 2018 beta predecessor of recordResponse: it answers 202 with only a
    /// Location, and its completion names the recording `recordResourceLocation` /
    /// `recordResourceAccessToken` with a `completionReason`, as that page prints it.
    LegacyRecord,
    Dtmf,
    /// participant startHoldMusic / stopHoldMusic: 202 `running`, then completed.
    StartHoldMusic,
    StopHoldMusic,
    /// call addLargeGalleryView (beta): 202 `running` with a null resultInfo, then completed.
    LargeGallery,
    /// participants configureMixer (beta): 200 commsOperation `running`, then completed.
    Mixer,
}

/// A media operation that has answered `running` and not yet notified its end.
pub(super) struct RunningOp {
    id: String,
    kind: MediaKind,
    client_context: Value,
    /// Where a finished recording can be fetched (recordResponse only).
    recording: String,
}

/// How a running operation ended.
#[derive(Clone, Copy, PartialEq)]
enum End {
    Completed,
    Canceled,
}

/// `completed`, or `running` under `graph-operation-wrong-status`.
pub(super) fn completed_status(state: &State) -> &'static str {
    if state.has(Deviation::GraphOperationWrongStatus) {
        "running"
    } else {
        "completed"
    }
}

/// An operation's resultInfo: a failure under `graph-operation-completed-with-failure`,
/// another success under `graph-operation-other-success`.
pub(super) fn op_result_info(state: &State, code: i64, subcode: i64, message: &str) -> J {
    if state.has(Deviation::GraphOperationCompletedWithFailure) {
        return result_info(state, 500, 9999, "Prompt playback failed.");
    }
    if state.has(Deviation::GraphOperationOtherSuccess) {
        return result_info(state, 200, 5, message);
    }
    result_info(state, code, subcode, message)
}

pub(super) fn play_prompt(
    state: &Arc<State>,
    ctx: &Ctx,
    id: &str,
    body: &Map<String, Value>,
) -> Resp {
    if body
        .get("prompts")
        .and_then(Value::as_array)
        .is_none_or(|a| a.is_empty())
    {
        return ctx.bad_request("prompts is required: a non-empty collection of mediaPrompt.");
    }
    start(state, ctx, id, MediaKind::PlayPrompt, body)
}

pub(super) fn record_response(
    state: &Arc<State>,
    ctx: &Ctx,
    id: &str,
    body: &Map<String, Value>,
) -> Resp {
    if body.get("prompts").is_some_and(|p| !p.is_array()) {
        return ctx.bad_request("prompts must be a collection of mediaPrompt.");
    }
    start(state, ctx, id, MediaKind::Record, body)
}

/// The beta `record` action (see [`MediaKind::LegacyRecord`]).
pub(super) fn record(state: &Arc<State>, ctx: &Ctx, id: &str, body: &Map<String, Value>) -> Resp {
    if body.get("prompts").is_some_and(|p| !p.is_array()) {
        return ctx.bad_request("prompts must be a collection of mediaPrompt.");
    }
    start(state, ctx, id, MediaKind::LegacyRecord, body)
}

const DTMF_TONES: &[&str] = &[
    "tone0", "tone1", "tone2", "tone3", "tone4", "tone5", "tone6", "tone7", "tone8", "tone9",
    "star", "pound", "a", "b", "c", "d", "flash",
];

pub(super) fn send_dtmf_tones(
    state: &Arc<State>,
    ctx: &Ctx,
    id: &str,
    body: &Map<String, Value>,
) -> Resp {
    let ok = body
        .get("tones")
        .and_then(Value::as_array)
        .is_some_and(|a| {
            !a.is_empty()
                && a.iter()
                    .all(|t| t.as_str().is_some_and(|t| DTMF_TONES.contains(&t)))
        });
    if !ok {
        return ctx.bad_request(
            "tones is required: a non-empty collection of tone values (tone0..tone9, star, pound, a..d, flash).",
        );
    }
    start(state, ctx, id, MediaKind::Dtmf, body)
}

/// participant startHoldMusic: the participant is put on hold (music, or the
/// `customPrompt` given); 202 with a running startHoldMusicOperation.
pub(super) fn start_hold_music(
    state: &Arc<State>,
    ctx: &Ctx,
    id: &str,
    pid: &str,
    body: &Map<String, Value>,
) -> Resp {
    if body.get("customPrompt").is_some_and(|p| !p.is_object()) {
        return ctx.bad_request("customPrompt must be a mediaPrompt.");
    }
    on_participant(state, ctx, id, pid, MediaKind::StartHoldMusic, body)
}

/// participant stopHoldMusic: 202 with a running stopHoldMusicOperation.
pub(super) fn stop_hold_music(
    state: &Arc<State>,
    ctx: &Ctx,
    id: &str,
    pid: &str,
    body: &Map<String, Value>,
) -> Resp {
    on_participant(state, ctx, id, pid, MediaKind::StopHoldMusic, body)
}

/// An operation on one participant of the call: 404 for no such participant.
fn on_participant(
    state: &Arc<State>,
    ctx: &Ctx,
    id: &str,
    pid: &str,
    kind: MediaKind,
    body: &Map<String, Value>,
) -> Resp {
    let known = {
        let g = lock(&state.graph);
        let Some(call) = g.calls.get(id) else {
            return not_found(ctx);
        };
        call.roster.iter().any(|p| p["id"] == pid)
    };
    if !known {
        return ctx.error(
            hyper::StatusCode::NOT_FOUND,
            "ItemNotFound",
            "The participant does not exist in this call.",
        );
    }
    start(state, ctx, id, kind, body)
}

/// call addLargeGalleryView (beta).
pub(super) fn add_large_gallery_view(
    state: &Arc<State>,
    ctx: &Ctx,
    id: &str,
    body: &Map<String, Value>,
) -> Resp {
    start(state, ctx, id, MediaKind::LargeGallery, body)
}

/// participants configureMixer (beta): `participantMixerLevels` is required.
pub(super) fn configure_mixer(
    state: &Arc<State>,
    ctx: &Ctx,
    id: &str,
    body: &Map<String, Value>,
) -> Resp {
    if body
        .get("participantMixerLevels")
        .and_then(Value::as_array)
        .is_none_or(|a| a.is_empty())
    {
        return ctx.bad_request(
            "participantMixerLevels is required: a non-empty collection of participantMixerLevel.",
        );
    }
    start(state, ctx, id, MediaKind::Mixer, body)
}

/// Registers a running operation, answers it and schedules its completion.
fn start(
    state: &Arc<State>,
    ctx: &Ctx,
    id: &str,
    kind: MediaKind,
    body: &Map<String, Value>,
) -> Resp {
    let op_id = http::uuid_v4();
    let client_context = body.get("clientContext").cloned().unwrap_or(Value::Null);
    let op = RunningOp {
        id: op_id.clone(),
        kind,
        client_context: client_context.clone(),
        recording: format!("{}/_callconform/recordings/{}", ctx.origin, http::uuid_v4()),
    };
    {
        let mut g = lock(&state.graph);
        let Some(call) = g.calls.get_mut(id) else {
            return not_found(ctx);
        };
        call.running.push(op);
    }
    let st = state.clone();
    let call_id = id.to_owned();
    let running_id = op_id.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = tokio::time::sleep(MEDIA_DURATION) => finish(&st, &call_id, &running_id),
            _ = st.stopped() => {}
        }
    });
    let mut resp = Map::new();
    let (odata_type, with_nulls) = match kind {
        MediaKind::PlayPrompt => ("#microsoft.graph.playPromptOperation", false),
        MediaKind::Record => ("#microsoft.graph.recordOperation", true),
        MediaKind::LegacyRecord => return ctx.accepted_operation(state, id, &op_id),
        MediaKind::Dtmf => ("#microsoft.graph.sendDtmfTonesOperation", false),
        MediaKind::StartHoldMusic => ("#microsoft.graph.startHoldMusicOperation", false),
        MediaKind::StopHoldMusic => ("#microsoft.graph.stopHoldMusicOperation", false),
        MediaKind::LargeGallery => ("#microsoft.graph.addLargeGalleryViewOperation", false),
        MediaKind::Mixer => ("#microsoft.graph.commsOperation", false),
    };
    resp.insert("@odata.type".into(), json!(odata_type));
    resp.insert("id".into(), json!(op_id));
    resp.insert("status".into(), json!("running"));
    if with_nulls {
        resp.insert("resultInfo".into(), Value::Null);
        resp.insert("recordingLocation".into(), Value::Null);
    }
    if matches!(kind, MediaKind::LargeGallery | MediaKind::Mixer) {
        resp.insert("resultInfo".into(), Value::Null);
    }
    resp.insert("clientContext".into(), client_context);
    match kind {
        MediaKind::StartHoldMusic | MediaKind::StopHoldMusic | MediaKind::LargeGallery => {
            ctx.operation_with(state, id, &resp, hyper::StatusCode::ACCEPTED)
        }
        _ => ctx.operation(state, id, &resp),
    }
}

/// Notifies the operation's completion unless it was canceled (or its call ended) first.
fn finish(state: &State, call_id: &str, op_id: &str) {
    let (op, sink) = {
        let mut g = lock(&state.graph);
        let Some(call) = g.calls.get_mut(call_id) else {
            return;
        };
        let Some(pos) = call.running.iter().position(|o| o.id == op_id) else {
            return;
        };
        let op = call.running.remove(pos);
        let Some(sink) = Sink::of(&g, call_id) else {
            return;
        };
        (op, sink)
    };
    let entry = ended(state, &sink, &op, End::Completed);
    sink.send_op(state, Batch::new(&sink.url, vec![entry]));
}

/// The operation-ended notification (changeType `deleted`) as the pages print it.
fn ended(state: &State, sink: &Sink, op: &RunningOp, end: End) -> Entry {
    let url = sink.resource_url(state, &format!("/operations/{}", op.id));
    let canceled = end == End::Canceled;
    let status = if canceled {
        "failed"
    } else {
        completed_status(state)
    };
    let client_context = if state.has(Deviation::GraphOperationOtherClientContext) {
        J::Str(crate::reference::http::uuid_v4())
    } else {
        J::from_value(&op.client_context)
    };
    let cancel_info = || {
        op_result_info(
            state,
            400,
            8508,
            "Action failed, the operation was cancelled.",
        )
    };
    let data = match op.kind {
        MediaKind::PlayPrompt => {
            let mut pairs = vec![
                (
                    "@odata.type",
                    J::str("#microsoft.graph.playPromptOperation"),
                ),
                ("@odata.id", J::str(url.clone())),
                ("@odata.etag", J::str("W/\"54451\"")),
                (
                    "resultInfo",
                    if canceled {
                        cancel_info()
                    } else {
                        op_result_info(state, 200, 0, "Action completed successfully.")
                    },
                ),
                ("clientContext", client_context),
                ("status", J::str(status)),
            ];
            if canceled {
                pairs.push(("completionReason", J::str("mediaOperationCanceled")));
            }
            J::obj(pairs)
        }
        MediaKind::Record => {
            let (info, location, token) = if canceled {
                (cancel_info(), String::new(), String::new())
            } else {
                (
                    op_result_info(
                        state,
                        200,
                        8515,
                        "Action completed, max record duration reached.",
                    ),
                    op.recording.clone(),
                    http::uuid_v4().replace('-', ""),
                )
            };
            let mut pairs = vec![
                ("@odata.type", J::str("#microsoft.graph.recordOperation")),
                ("@odata.id", J::str(url.clone())),
                ("@odata.etag", J::str("W/\"54451\"")),
                ("id", J::str(op.id.clone())),
                ("clientContext", client_context),
                ("status", J::str(status)),
                ("resultInfo", info),
                ("recordingLocation", J::Str(location)),
                ("recordingAccessToken", J::Str(token)),
            ];
            if canceled {
                pairs.push(("completionReason", J::str("operationCanceled")));
            }
            J::obj(pairs)
        }
        MediaKind::LegacyRecord => {
            let (location, token) = if canceled {
                (String::new(), String::new())
            } else {
                (op.recording.clone(), http::uuid_v4().replace('-', ""))
            };
            J::obj(vec![
                ("@odata.type", J::str("#microsoft.graph.recordOperation")),
                ("@odata.id", J::str(url.clone())),
                ("@odata.etag", J::str("W/\"54451\"")),
                ("clientContext", client_context),
                ("status", J::str(status)),
                ("recordResourceLocation", J::Str(location)),
                ("recordResourceAccessToken", J::Str(token)),
                (
                    "completionReason",
                    J::str(if canceled {
                        "operationCanceled"
                    } else {
                        "stopToneDetected"
                    }),
                ),
            ])
        }
        MediaKind::Dtmf => J::obj(vec![
            (
                "@odata.type",
                J::str("#microsoft.graph.sendDtmfTonesOperation"),
            ),
            ("status", J::str(completed_status(state))),
            (
                "completionReason",
                J::str(if canceled {
                    "mediaOperationCanceled"
                } else {
                    "completedSuccessfully"
                }),
            ),
            ("clientContext", client_context),
            ("id", J::str(op.id.clone())),
        ]),
        MediaKind::StartHoldMusic | MediaKind::StopHoldMusic | MediaKind::Mixer => {
            let (ty, etag) = match op.kind {
                MediaKind::StartHoldMusic => {
                    ("#microsoft.graph.startHoldMusicOperation", "W/\"54451\"")
                }
                MediaKind::StopHoldMusic => {
                    ("#microsoft.graph.stopHoldMusicOperation", "W/\"54451\"")
                }
                _ => ("#microsoft.graph.commsOperation", "W/\"1\""),
            };
            J::obj(vec![
                ("@odata.type", J::str(ty)),
                ("@odata.id", J::str(url.clone())),
                ("@odata.etag", J::str(etag)),
                ("clientContext", client_context),
                ("status", J::str(status)),
            ])
        }
        MediaKind::LargeGallery => J::obj(vec![
            (
                "@odata.type",
                J::str("#microsoft.graph.addLargeGalleryViewOperation"),
            ),
            ("@odata.id", J::str(url.clone())),
            ("clientContext", client_context),
            ("status", J::str(status)),
        ]),
    };
    Entry::new("deleted", url, data)
}

pub(super) fn cancel_media_processing(
    state: &Arc<State>,
    ctx: &Ctx,
    id: &str,
    body: &Map<String, Value>,
) -> Resp {
    let (canceled, sink) = {
        let mut g = lock(&state.graph);
        let Some(call) = g.calls.get_mut(id) else {
            return not_found(ctx);
        };
        let canceled: Vec<RunningOp> = call.running.drain(..).collect();
        (canceled, Sink::of(&g, id))
    };
    if let Some(sink) = sink {
        for op in &canceled {
            let entry = ended(state, &sink, op, End::Canceled);
            sink.send_op(state, Batch::new(&sink.url, vec![entry]));
        }
    }
    let mut op = Map::new();
    op.insert(
        "@odata.type".into(),
        json!("#microsoft.graph.cancelMediaProcessingOperation"),
    );
    op.insert("status".into(), json!("completed"));
    op.insert(
        "clientContext".into(),
        body.get("clientContext").cloned().unwrap_or(Value::Null),
    );
    op.insert("id".into(), json!(http::uuid_v4()));
    ctx.operation(state, id, &op)
}

/// Answers the completed subscription, then notifies the caller's first key press
/// (`tone1`) as toneInfo on the call, as the page's example shows.
pub(super) fn subscribe_to_tone(
    state: &Arc<State>,
    ctx: &Ctx,
    id: &str,
    body: &Map<String, Value>,
) -> Resp {
    let (sink, call_state, sequence) = {
        let mut g = lock(&state.graph);
        let Some(call) = g.calls.get_mut(id) else {
            return not_found(ctx);
        };
        call.tone_sequence += 1;
        let seq = call.tone_sequence;
        let call_state = call.state().to_owned();
        (Sink::of(&g, id), call_state, seq)
    };
    let op_id = http::uuid_v4();
    let client_context = body.get("clientContext").cloned().unwrap_or(Value::Null);
    // The legacy surface answers 202 with a Location and reports the subscription as a
    // completed commsOperation; key presses come later, when someone presses one.
    if ctx.legacy {
        if let Some(sink) = sink {
            let url = sink.resource_url(state, &format!("/operations/{op_id}"));
            let data = J::obj(vec![
                ("@odata.type", J::str("#microsoft.graph.commsOperation")),
                ("@odata.id", J::str(url.clone())),
                ("@odata.etag", J::str("W/\"54451\"")),
                ("clientContext", J::from_value(&client_context)),
                ("status", J::str(completed_status(state))),
            ]);
            let entry = Entry::new("deleted", url, data);
            sink.send_op(state, Batch::new(&sink.url, vec![entry]));
        }
        return ctx.accepted_operation(state, id, &op_id);
    }
    if let Some(sink) = sink {
        let data = J::obj(vec![
            call_type(),
            ("state", J::Str(call_state)),
            (
                "toneInfo",
                J::obj(vec![
                    ("@odata.type", J::str("#microsoft.graph.toneInfo")),
                    ("sequenceId", J::Num(sequence)),
                    ("tone", J::str("tone1")),
                ]),
            ),
        ]);
        let entry = sink.call_entry(state, "updated", data);
        sink.send_op(state, Batch::new(&sink.url, vec![entry]));
    }
    let mut op = Map::new();
    op.insert(
        "@odata.type".into(),
        json!("#microsoft.graph.subscribeToToneOperation"),
    );
    op.insert("clientContext".into(), client_context);
    op.insert("id".into(), json!(op_id));
    op.insert("status".into(), json!("completed"));
    ctx.operation(state, id, &op)
}
