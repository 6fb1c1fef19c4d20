//! The protocol seam. Everything specific to one API family lives behind [`Protocol`]:
//! its name (the `cases/<family>/` directory and the trial-name prefix), how a target is
//! named on the command line and in the environment, which headers its requests carry,
//! and whether it sends notifications and by which rules they are judged.
//!
//! The families are registered in one list, [`BUILT_IN`]. Adding a family is one module
//! implementing [`Protocol`] plus one line there (or one [`register`] call for a family
//! defined outside the crate, as the toy family in `tests/toy_family.rs` is).

mod graph;
pub mod um;

pub use graph::Graph;
pub use um::{SoapAction, Um};

use crate::listener::Received;
use crate::request::{Target, Trigger};
use crate::results::Check;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::RwLock;

/// The built-in families, in the order reports list them.
pub static BUILT_IN: &[&dyn Protocol] = &[&Um, &Graph];

/// What one API family contributes to the pipeline. Only `name` and `title` are required;
/// every other method has the behaviour of a plain request/response family.
pub trait Protocol: Sync + Send + 'static {
    /// Stable short name: `cases/<name>/`, `<name>::case` trials, `--family <name>`.
    fn name(&self) -> &'static str;
    /// What the family is, for messages and reports.
    fn title(&self) -> &'static str;
    /// The environment variable that names a target base URL (`CALLCONFORM_UM`).
    fn target_env(&self) -> String {
        format!("CALLCONFORM_{}", self.name().to_ascii_uppercase())
    }
    /// The environment variable holding a bearer token for requests, if the family uses one.
    fn token_env(&self) -> Option<&'static str> {
        None
    }
    /// Turns a URL given for this family (flag, environment, profile) into the base URL
    /// case paths are relative to, plus variables it implies (UM: an `.asmx` endpoint URL).
    /// `given` is the endpoint the user named separately ([`Protocol::endpoint_var`]).
    fn target_from_url(&self, url: &str, _given: Option<&str>) -> Result<TargetUrl, String> {
        Ok(TargetUrl {
            base_url: url.trim_end_matches('/').to_owned(),
            vars: Vec::new(),
        })
    }
    /// The case variable naming the service endpoint path, when the family has one
    /// (UM: `um_endpoint`, settable with `--um-endpoint`).
    fn endpoint_var(&self) -> Option<&'static str> {
        None
    }
    /// Protocol headers a request of this family carries unless the case sets them
    /// (UM: SOAPAction); `target.options` holds the family's profile settings.
    fn request_headers(&self, _body: Option<&str>, _target: &Target) -> Vec<(String, String)> {
        Vec::new()
    }
    /// A hint appended to a failed status check (UM: how to name the endpoint after a 404).
    fn status_hint(&self, _expected: u16, _got: u16, _url: &str) -> Option<String> {
        None
    }
    /// Headers the embedded reference target expects (its accepted bearer token).
    fn embedded_headers(&self, _token: &str) -> Vec<(String, String)> {
        Vec::new()
    }
    /// How the embedded reference target (at `base`) is made to cause trigger events.
    fn embedded_triggers(&self, _base: &str) -> BTreeMap<String, Trigger> {
        BTreeMap::new()
    }
    /// How the family's notifications are routed and judged; `None` when it sends none.
    fn notifications(&self) -> Option<&dyn Notifications> {
        None
    }
    /// The family's named rules on a documented JSON response body, beyond its snapshot
    /// (Graph: an operation's outcome agrees with its status).
    fn response_checks(&self, _subject: &str, _body: &serde_json::Value) -> Vec<Check> {
        Vec::new()
    }
}

/// A family that POSTs notifications to a callback (Graph's commsNotifications).
pub trait Notifications: Sync {
    /// The case variable whose value routes a notification to its case (`call_id`).
    fn routing_var(&self) -> &'static str;
    /// The named rules every received notification must satisfy, beyond its snapshot.
    fn checks(&self, subject: &str, received: &Received, rules: &RuleContext<'_>) -> Vec<Check>;
}

/// What the notification rules need to know about the run and the case.
pub struct RuleContext<'a> {
    /// The routing variable's live value (the call the case acts on).
    pub routed_by: &'a str,
    /// The corpus's documented call-end reasons.
    pub reasons: &'a crate::contract::EndReasons,
    /// `--as-printed`: judge against the page as printed (no errata).
    pub as_printed: bool,
    /// When set, the bearer token notifications must carry.
    pub expected_token: Option<&'a str>,
}

/// A target URL as the family reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetUrl {
    pub base_url: String,
    /// Case variables the URL implies (`um_endpoint` for an endpoint URL).
    pub vars: Vec<(String, String)>,
}

/// A handle on a registered family: cheap to copy, compared and ordered by name.
#[derive(Clone, Copy)]
pub struct Family(&'static dyn Protocol);

static EXTRA: RwLock<Vec<&'static dyn Protocol>> = RwLock::new(Vec::new());

/// Registers a family defined outside the crate; a name already taken is refused.
pub fn register(p: &'static dyn Protocol) -> Result<(), String> {
    if Family::parse(p.name()).is_some() {
        return Err(format!(
            "a family named `{}` is already registered",
            p.name()
        ));
    }
    EXTRA.write().unwrap_or_else(|e| e.into_inner()).push(p);
    Ok(())
}

impl Family {
    pub const UM: Family = Family(&Um);
    pub const GRAPH: Family = Family(&Graph);

    /// Every registered family: the built-in ones, then any registered at run time.
    pub fn all() -> Vec<Family> {
        let extra = EXTRA.read().unwrap_or_else(|e| e.into_inner());
        BUILT_IN
            .iter()
            .chain(extra.iter())
            .map(|p| Family(*p))
            .collect()
    }

    pub fn parse(name: &str) -> Option<Family> {
        Family::all().into_iter().find(|f| f.as_str() == name)
    }

    /// The names, for messages ("expected um or graph").
    pub fn names() -> String {
        let names: Vec<&str> = Family::all().iter().map(|f| f.as_str()).collect();
        names.join(", ")
    }

    pub fn as_str(self) -> &'static str {
        self.0.name()
    }

    pub fn protocol(self) -> &'static dyn Protocol {
        self.0
    }
}

impl PartialEq for Family {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}
impl Eq for Family {}
impl PartialOrd for Family {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Family {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}
impl std::hash::Hash for Family {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}
impl fmt::Debug for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Family({})", self.as_str())
    }
}
impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
impl serde::Serialize for Family {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}
impl<'de> serde::Deserialize<'de> for Family {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Family::parse(&name).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown family `{name}` (expected one of: {})",
                Family::names()
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_families_parse_by_name_and_order_by_name() {
        assert_eq!(Family::parse("um"), Some(Family::UM));
        assert_eq!(Family::parse("graph"), Some(Family::GRAPH));
        assert_eq!(Family::parse("soap"), None);
        assert!(Family::GRAPH < Family::UM);
        assert!(register(&Um).is_err(), "a taken name is refused");
    }
}
