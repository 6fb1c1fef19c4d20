//! Microsoft Graph calls: JSON requests, and commsNotifications POSTed to the callback.

use super::{Notifications, Protocol, RuleContext};
use crate::listener::Received;
use crate::results::Check;

pub struct Graph;

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
    fn embedded_headers(&self, token: &str) -> Vec<(String, String)> {
        vec![("Authorization".into(), format!("Bearer {token}"))]
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
        crate::protocol::notification_checks(subject, received, rules)
    }
}
