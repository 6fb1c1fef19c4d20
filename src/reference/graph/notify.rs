//! Notification delivery: one ordered queue per call, commsNotifications bodies, batching.
//!
//! Every call has a queue drained by one task, so a call's notifications reach its callback
//! in the order the actions produced them (create's before delete's, an operation's
//! completion before a later roster update). With `Config.batch_notifications` the task
//! sends everything queued for the call within a short window in one POST with several
//! `value` entries, as Graph does with queued notifications; otherwise one entry per POST.
//! The `graph-batch-*` deviations batch too, and then lose or reverse entries of a batch.

use std::sync::Arc;
use std::time::Duration;

use hyper::header::CONTENT_TYPE;
use tokio::sync::mpsc;

use super::JSON_CT;
use super::json::J;
use crate::reference::{Deviation, State};

/// Per-POST limit for notification deliveries (the client also has it as its timeout).
const NOTIFY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a batching target waits after a call's first queued notification for the rest
/// an action queues (all of them are queued before the action answers, so a few ms would
/// do; this is generous on a loaded machine and still far below any notification timeout).
const BATCH_WINDOW: Duration = Duration::from_millis(20);
/// Batches a call may have waiting; beyond this new ones are dropped (and logged).
const QUEUE_DEPTH: usize = 256;

/// `extra_roots`: PEM certificates trusted for https callbacks besides the system's.
pub(crate) fn notification_client(extra_roots: &[Vec<u8>]) -> reqwest::Result<reqwest::Client> {
    let mut roots = Vec::new();
    for pem in extra_roots {
        roots.extend(reqwest::Certificate::from_pem_bundle(pem)?);
    }
    reqwest::Client::builder()
        .tls_certs_merge(roots)
        .redirect(reqwest::redirect::Policy::none())
        .retry(reqwest::retry::never())
        .timeout(NOTIFY_TIMEOUT)
        .connect_timeout(NOTIFY_TIMEOUT)
        .no_proxy()
        .user_agent("callconform-reference")
        .build()
}

/// One commsNotification.
pub(super) struct Entry {
    pub(super) change_type: &'static str,
    pub(super) resource_url: String,
    /// The legacy `resource` (`/app/calls/...`) some documented notifications also carry.
    pub(super) resource: Option<String>,
    /// Named by `resource` alone, as the 2018-2019 pages print it (no `resourceUrl`).
    pub(super) legacy_only: bool,
    /// `None` for the notifications printed without resourceData (content sharing).
    pub(super) data: Option<J>,
    /// The entry-level `callbackUri` the create-call pages' notifications show.
    pub(super) callback_uri: Option<String>,
}

impl Entry {
    pub(super) fn new(change_type: &'static str, resource_url: String, data: J) -> Entry {
        Entry {
            change_type,
            resource_url,
            resource: None,
            legacy_only: false,
            callback_uri: None,
            data: Some(data),
        }
    }

    /// A notification that names its resource by URL only, with no resourceData.
    pub(super) fn bare(change_type: &'static str, resource_url: String) -> Entry {
        Entry {
            change_type,
            resource_url,
            resource: None,
            legacy_only: false,
            callback_uri: None,
            data: None,
        }
    }

    fn into_j(self) -> J {
        let mut pairs = vec![
            ("@odata.type", J::str("#microsoft.graph.commsNotification")),
            ("changeType", J::str(self.change_type)),
        ];
        if let Some(r) = self.resource {
            pairs.push(("resource", J::Str(r)));
        }
        if !self.legacy_only {
            pairs.push(("resourceUrl", J::Str(self.resource_url)));
        }
        if let Some(c) = self.callback_uri {
            pairs.push(("callbackUri", J::Str(c)));
        }
        if let Some(data) = self.data {
            pairs.push(("resourceData", data));
        }
        J::obj(pairs)
    }
}

/// Runs just before a batch is sent (e.g. the resource reaches `established` before the bot
/// hears of it, so a GET made after the notification never sees a stale state).
pub(super) type Hook = Box<dyn FnOnce(&State) + Send>;

/// Entries for one callback, sent after `delay`.
pub(super) struct Batch {
    pub(super) url: String,
    pub(super) entries: Vec<Entry>,
    pub(super) delay: Duration,
    pub(super) before: Option<Hook>,
}

impl Batch {
    pub(super) fn new(url: &str, entries: Vec<Entry>) -> Batch {
        Batch {
            url: url.to_owned(),
            entries,
            delay: Duration::ZERO,
            before: None,
        }
    }
}

/// The sending side of a call's notification queue.
#[derive(Clone)]
pub(super) struct Queue(mpsc::Sender<Batch>);

impl Queue {
    /// Starts the call's delivery task; it ends when the target stops or every `Queue`
    /// clone is gone and the queue is drained.
    pub(super) fn start(state: &Arc<State>) -> Queue {
        let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
        let st = state.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = drain(&st, rx) => {}
                _ = st.stopped() => {}
            }
        });
        Queue(tx)
    }

    pub(super) fn push(&self, batch: Batch) {
        if batch.entries.is_empty() && batch.before.is_none() {
            return;
        }
        if self.0.try_send(batch).is_err() {
            eprintln!("callconform reference: notification queue full; notification dropped");
        }
    }
}

async fn drain(state: &State, mut rx: mpsc::Receiver<Batch>) {
    let mut pending: Option<Batch> = None;
    loop {
        let batch = match pending.take() {
            Some(b) => b,
            None => match rx.recv().await {
                Some(b) => b,
                None => return,
            },
        };
        if !batch.delay.is_zero() {
            tokio::time::sleep(batch.delay).await;
        }
        if let Some(hook) = batch.before {
            hook(state);
        }
        let url = batch.url;
        let mut entries = batch.entries;
        if batching(state) {
            // Everything queued for the same callback meanwhile goes in the same POST.
            tokio::time::sleep(BATCH_WINDOW).await;
            while let Ok(next) = rx.try_recv() {
                if next.url != url || !next.delay.is_zero() {
                    pending = Some(next);
                    break;
                }
                if let Some(hook) = next.before {
                    hook(state);
                }
                entries.extend(next.entries);
            }
            if entries.len() > 1 {
                if state.has(Deviation::GraphBatchDropsEntry) {
                    entries.pop();
                }
                if state.has(Deviation::GraphBatchReorders) {
                    entries.reverse();
                }
            }
            if !entries.is_empty() {
                deliver(state, &url, body(state, entries)).await;
            }
        } else {
            for e in entries {
                deliver(state, &url, body(state, vec![e])).await;
            }
        }
    }
}

/// Whether a call's queued notifications go out together: on request, or because a
/// deviation needs batches to break.
fn batching(state: &State) -> bool {
    state.config.batch_notifications
        || state.has(Deviation::GraphBatchDropsEntry)
        || state.has(Deviation::GraphBatchReorders)
}

/// A commsNotifications body, keys in documented order (reversed under
/// `graph-keys-reordered`).
fn body(state: &State, entries: Vec<Entry>) -> String {
    let reverse = state.has(Deviation::GraphKeysReordered);
    let mut value: Vec<J> = entries.into_iter().map(Entry::into_j).collect();
    if state.has(Deviation::GraphNotificationDoubleEncoded) {
        // Each entry again, serialised twice: a JSON string where an object belongs.
        let strings: Vec<J> = value
            .iter()
            .map(|e| {
                let mut s = String::new();
                e.write(reverse, &mut s);
                J::Str(s)
            })
            .collect();
        value.extend(strings);
    }
    let doc = J::obj(vec![
        ("@odata.type", J::str("#microsoft.graph.commsNotifications")),
        ("value", J::Arr(value)),
    ]);
    let mut out = String::new();
    doc.write(reverse, &mut out);
    out
}

/// POSTs one body; failures are logged briefly (never the token or the callback path,
/// which carries the harness's token) and dropped.
async fn deliver(state: &State, url: &str, body: String) {
    let Ok(_permit) = state.deliveries.acquire().await else {
        return;
    };
    let mut rb = state.notifier.post(url).header(
        CONTENT_TYPE,
        if state.has(Deviation::GraphNotificationTextPlain) {
            "text/plain; charset=utf-8"
        } else {
            JSON_CT
        },
    );
    // A created call's first notifications are what a case's set-up waits for.
    let establishing = body.contains("\"state\":\"establish");
    let unauthorized = state.has(Deviation::GraphNoAuthorization)
        || (establishing && state.has(Deviation::GraphSetupNoAuthorization));
    if !unauthorized {
        rb = rb.bearer_auth(&state.config.notify_token);
    }
    match rb.body(body).send().await {
        Ok(r) if r.status().is_success() => {}
        Ok(r) => eprintln!(
            "callconform reference: notification to {} answered {}",
            loggable(url),
            r.status()
        ),
        Err(e) => eprintln!(
            "callconform reference: notification to {} failed: {}",
            loggable(url),
            e.without_url()
        ),
    }
}

/// The callback's origin only: user-info, path, query and fragment may carry secrets
/// (the harness puts its callback token in the path).
pub(super) fn loggable(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => format!("{}/…", u.origin().ascii_serialization()),
        Err(_) => "<invalid url>".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_redaction() {
        assert_eq!(
            loggable("https://u:p@h/callbacks/secret?token=1#f"),
            "https://h/…"
        );
        assert_eq!(loggable("http://127.0.0.1:9/x"), "http://127.0.0.1:9/…");
        assert_eq!(loggable("::"), "<invalid url>");
    }

    #[test]
    fn entry_keys_in_documented_order() {
        let mut e = Entry::new(
            "deleted",
            "/communications/calls/x/operations/y".into(),
            J::Null,
        );
        e.resource = Some("/app/calls/x/operations/y".into());
        let mut s = String::new();
        e.into_j().write(false, &mut s);
        assert_eq!(
            s,
            r##"{"@odata.type":"#microsoft.graph.commsNotification","changeType":"deleted","resource":"/app/calls/x/operations/y","resourceUrl":"/communications/calls/x/operations/y","resourceData":null}"##
        );
    }
}
