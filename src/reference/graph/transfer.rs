//! Transfer: the call goes to another participant, and the bot hears how it went.
//!
//! Two generations of page document the notifications. The v1.0 page reports the transfer
//! as call states (`transferring`, `transferAccepted`, then `terminated` with a resultInfo
//! or, for a consultative transfer, a terminationReason). The 2018 beta page, written for
//! the `/app/calls` surface, reports it as a `commsOperation` the call runs: `updated` and
//! `running` with resultInfo `subCode` "transferring", `deleted` and `completed` with
//! "transferAccepted", then the call `deleted` and `terminated` with terminationReason
//! `AppTransferred`, every resourceData carrying its `@odata.id` and `@odata.etag`. A call
//! the bot reaches through `/app/calls` answers in the second shape.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::calls::{call_type, set_state};
use super::json::J;
use super::media::completed_status;
use super::notify::{Batch, Entry, Hook};
use super::{Ctx, Sink, accepted, legacy_path, not_found};
use crate::reference::http::{self, Resp};
use crate::reference::{Deviation, State, lock};

pub(super) fn transfer(state: &Arc<State>, ctx: &Ctx, id: &str, body: &Map<String, Value>) -> Resp {
    let Some(target) = body.get("transferTarget").and_then(Value::as_object) else {
        return ctx.bad_request("transferTarget is required: an invitationParticipantInfo.");
    };
    let consultative = target.get("replacesCallId").is_some_and(|v| !v.is_null());
    let sink = {
        let g = lock(&state.graph);
        let Some(call) = g.calls.get(id) else {
            return not_found(ctx);
        };
        if call.state() != "established" {
            return ctx.bad_request(&format!(
                "transfer needs an established call; this call is `{}`.",
                call.state()
            ));
        }
        Sink::of(&g, id)
    };
    let Some(sink) = sink else {
        return not_found(ctx);
    };
    let end = if ctx.legacy {
        let client_context = body.get("clientContext").cloned().unwrap_or(Value::Null);
        send_operation_progress(state, &sink, id, &client_context);
        legacy_terminated(state, &sink)
    } else {
        send_state_progress(state, &sink, id);
        terminated(state, &sink, consultative)
    };
    if state.has(Deviation::GraphTransferMixedOutcomes) {
        sink.send_op(
            state,
            Batch::new(&sink.url, vec![transfer_failed(state, &sink)]),
        );
    }
    let mut done = Batch::new(&sink.url, vec![end]);
    let gone = id.to_owned();
    done.before = Some(Box::new(move |st: &State| {
        lock(&st.graph).calls.remove(&gone);
    }));
    sink.send_op(state, done);
    accepted()
}

/// The v1.0 page's progress: two call states.
fn send_state_progress(state: &State, sink: &Sink, id: &str) {
    for to in ["transferring", "transferAccepted"] {
        let data = J::obj(vec![call_type(), ("state", J::str(to))]);
        let mut b = Batch::new(&sink.url, vec![sink.call_entry(state, "updated", data)]);
        b.before = Some(set_state(id, to));
        sink.send_op(state, b);
    }
}

/// The v1.0 end. Examples 2 and 4 (consultative) end with terminationReason, the others
/// with resultInfo 200/7015, the Delete call page's "call ended as the transfer completed
/// successfully" (the transfer page prints code 0, a pair in no documented table).
fn terminated(state: &State, sink: &Sink, consultative: bool) -> Entry {
    let end = if consultative {
        ("terminationReason", J::str("AppTransferred"))
    } else {
        (
            "resultInfo",
            super::calls::result_info(state, 200, 7015, "GracefulTransferCompleted"),
        )
    };
    let data = J::obj(vec![call_type(), ("state", J::str("terminated")), end]);
    sink.call_entry(state, "deleted", data)
}

/// The 2018 page's progress: one commsOperation, running then completed. The call still
/// passes through the same states, so a GET in between reads them.
fn send_operation_progress(state: &State, sink: &Sink, id: &str, client_context: &Value) {
    let url = sink.resource_url(state, &format!("/operations/{}", http::uuid_v4()));
    let steps: [(&'static str, &str, &'static str, Hook); 2] = [
        (
            "updated",
            "running",
            "transferring",
            set_state(id, "transferring"),
        ),
        (
            "deleted",
            completed_status(state),
            "transferAccepted",
            set_state(id, "transferAccepted"),
        ),
    ];
    for (change, status, sub_code, hook) in steps {
        let data = J::obj(vec![
            ("@odata.type", J::str("#microsoft.graph.commsOperation")),
            ("@odata.id", J::Str(legacy_path(&url))),
            ("@odata.etag", J::str("W/\"54451\"")),
            ("clientContext", J::from_value(client_context)),
            ("resultInfo", legacy_result_info(state, sub_code)),
            ("status", J::str(status)),
        ]);
        let mut b = Batch::new(&sink.url, vec![Entry::new(change, url.clone(), data)]);
        b.before = Some(hook);
        sink.send_op(state, b);
    }
}

/// The 2018 page's operation resultInfo: code 200 and a `subCode` naming the step, a
/// member that era had instead of the Int32 `subcode`. The code follows the resultInfo
/// deviations (a string, or a code in no table) as every other resultInfo does.
fn legacy_result_info(state: &State, sub_code: &str) -> J {
    let code = if state.has(Deviation::GraphOperationCompletedWithFailure) {
        500
    } else {
        200
    };
    let code = if state.has(Deviation::GraphResultInfoStrings) {
        J::Str(code.to_string())
    } else {
        J::Num(code)
    };
    J::obj(vec![("code", code), ("subCode", J::str(sub_code))])
}

/// The 2018 page's end: the call, named by its `/app/calls` path, transferred away.
fn legacy_terminated(state: &State, sink: &Sink) -> Entry {
    let data = J::obj(vec![
        call_type(),
        (
            "@odata.id",
            J::Str(legacy_path(&sink.resource_url(state, ""))),
        ),
        ("@odata.etag", J::str("W/\"5445\"")),
        ("state", J::str("terminated")),
        ("terminationReason", J::str("AppTransferred")),
    ]);
    sink.call_entry(state, "deleted", data)
}

/// The documented alternative outcome: the target did not accept, the call stays up.
fn transfer_failed(state: &State, sink: &Sink) -> Entry {
    let data = J::obj(vec![
        call_type(),
        ("state", J::str("established")),
        (
            "resultInfo",
            super::calls::result_info(state, 500, 7000, "The transfer target did not accept."),
        ),
    ]);
    sink.call_entry(state, "updated", data)
}
