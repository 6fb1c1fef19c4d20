//! Microsoft Graph calls: JSON requests, and commsNotifications POSTed to the callback.

pub mod rules;

use super::{Notifications, Protocol, RuleContext};
use crate::listener::Received;
use crate::request::Trigger;
use crate::results::Check;
use std::collections::BTreeMap;

pub struct Graph;

/// The trigger that makes a target offer a call to the case's callback.
pub const INCOMING_CALL: &str = "incoming-call";
/// The trigger of a participant's screen share: the sub-resource collection it creates.
pub const CONTENT_SHARING: &str = "contentsharingsessions";

impl Protocol for Graph {
    fn name(&self) -> &'static str {
        "graph"
    }
    fn title(&self) -> &'static str {
        "Microsoft Graph calls (communications/calls)"
    }
    fn token_env(&self) -> Option<&'static str> {
        Some("CALLCONFORM_GRAPH_TOKEN")
    }
    fn response_checks(&self, subject: &str, body: &serde_json::Value) -> Vec<Check> {
        rules::operation_result_check(subject, "/", body)
            .into_iter()
            .collect()
    }
    fn embedded_headers(&self, token: &str) -> Vec<(String, String)> {
        vec![("Authorization".into(), format!("Bearer {token}"))]
    }
    /// The reference target offers an incoming call, and makes a participant share a
    /// screen, on its control endpoints.
    fn embedded_triggers(&self, base: &str) -> BTreeMap<String, Trigger> {
        let offer = Trigger::Http {
            method: "POST".into(),
            url: format!("{}/_callconform/incoming-call", base.trim_end_matches('/')),
            body: Some(
                "{\"callbackUri\": \"{{callback_url}}\", \"example\": {{trigger_example}}}".into(),
            ),
        };
        // A participant shares a screen on the case's call.
        let share = Trigger::Http {
            method: "POST".into(),
            url: format!("{}/_callconform/share-screen", base.trim_end_matches('/')),
            body: Some("{\"call\": \"{{call_id}}\"}".into()),
        };
        BTreeMap::from([
            (INCOMING_CALL.to_owned(), offer),
            (CONTENT_SHARING.to_owned(), share),
        ])
    }
    fn notifications(&self) -> Option<&dyn Notifications> {
        Some(self)
    }
}

impl Notifications for Graph {
    fn routing_var(&self) -> &'static str {
        "call_id"
    }
    fn checks(&self, subject: &str, received: &Received, rules: &RuleContext<'_>) -> Vec<Check> {
        rules::notification_checks(subject, received, rules)
    }
}
