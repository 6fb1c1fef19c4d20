//! The reference target's control endpoint for a participant's screen share (not part of
//! the Graph surface): `POST /_callconform/share-screen` with `{"call": "<call id>"}` makes
//! the far end of that call share a screen once and stop. A bot that asked to hear of
//! content sharing gets the session's notifications, in the form its call's page shows;
//! one that did not hears nothing. The answer is `202` either way, `404` for no such call.
//! Another party's event, so the harness asks for it (trigger `contentsharingsessions`)
//! instead of the target sending it unasked.

use std::sync::Arc;

use hyper::Request;
use hyper::body::Incoming;

use super::json::J;
use super::notify::{Batch, Entry};
use super::request::accepted;
use super::{Sink, not_found};
use crate::reference::http;
use crate::reference::{State, lock};

/// The control endpoint's path.
pub(crate) const PATH: &str = "/_callconform/share-screen";

/// How a call's bot hears of content sharing, set when the call is placed or answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sharing {
    /// Create-call example 1: the session is created, updated and deleted, each entry
    /// naming the collection and listing the session.
    Listed,
    /// The answer page's app-hosted example: the session's own URL is created and deleted.
    PerSession,
}

pub(crate) async fn handle(state: &Arc<State>, req: Request<Incoming>) -> http::Resp {
    let (ctx, body) = match super::incoming::control_request(state, req).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let Some(id) = body.get("call").and_then(|v| v.as_str()) else {
        return ctx.bad_request("`call` (the call's id) is required.");
    };
    let (sink, sharing) = {
        let g = lock(&state.graph);
        let Some(call) = g.calls.get(id) else {
            return not_found(&ctx);
        };
        (Sink::of(&g, id), call.sharing)
    };
    // The session exists while the screen is shared: a GET or list of the call's
    // contentSharingSessions sent meanwhile finds it (`super::groups`).
    let session_id = http::uuid_v4();
    if let Some(call) = lock(&state.graph).calls.get_mut(id) {
        call.sessions.push(session_id.clone());
    }
    let (Some(sink), Some(sharing)) = (sink, sharing) else {
        end_session(state, id, &session_id);
        return accepted();
    };
    match sharing {
        Sharing::Listed => {
            let data = J::Arr(vec![J::obj(vec![
                (
                    "@odata.type",
                    J::str("#microsoft.graph.contentSharingSession"),
                ),
                (
                    "id",
                    J::Str(session_id.replace('-', "").to_ascii_uppercase()),
                ),
            ])]);
            for change in ["created", "updated", "deleted"] {
                let url = sink.resource_url(state, "/contentsharingsessions");
                let entry = Entry::new(change, url, data.clone());
                sink.send_op(state, Batch::new(&sink.url, vec![entry]));
            }
        }
        Sharing::PerSession => {
            let session =
                sink.resource_url(state, &format!("/contentsharingsessions/{session_id}"));
            for change in ["created", "deleted"] {
                let entry = Entry::bare(change, session.clone());
                sink.send_op(state, Batch::new(&sink.url, vec![entry]));
            }
        }
    }
    end_session(state, id, &session_id);
    accepted()
}

/// The share stopped: the session leaves the call's list.
fn end_session(state: &State, call_id: &str, session_id: &str) {
    if let Some(call) = lock(&state.graph).calls.get_mut(call_id) {
        call.sessions.retain(|s| s != session_id);
    }
}
