//! Deliberate breakages of documented behaviour.
//!
//! Each variant makes the reference target break (or, for the equivalent-form ones, merely
//! vary) exactly one documented behaviour, so the harness can be checked against targets
//! that it must fail and targets that it must still pass. UM response deviations touch only
//! the GetCallInfo and Disconnect responses; PlayOnPhone stays intact because it is set-up,
//! except for the two that are about the CallId it hands out.
//! The SOAPAction and endpoint-path ones change how every UM request is routed.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Deviation {
    // UM, equivalent forms: a conformant harness must pass these.
    UmOtherPrefixes,
    UmCompactWhitespace,
    UmAttributesReordered,
    UmNoXsiXsd,
    UmOtherXmlDeclaration,
    // UM, real deviations: a conformant harness must fail these.
    UmHttpsNamespace,
    UmMissingEventCause,
    UmWrongCallState,
    UmChildrenSwapped,
    UmExtraElement,
    UmFaultInstead,
    UmFaultWith200,
    UmSuccessWith500,
    UmWrongContentType,
    UmForgetDisconnected,
    UmPlayOnPhoneNoCallId,
    // UM, a CallId holding XML markup characters: a harness that escapes what it splices
    // must pass.
    UmHostileCallId,
    // UM, stricter or elsewhere: a conformant harness must pass these with its defaults
    // (or, for the path, with the endpoint URL given).
    UmRequireSoapAction,
    UmExchange2007PathOnly,
    // Graph, real deviations: a conformant harness must fail these.
    Graph200InsteadOf204,
    GraphNoTerminating,
    GraphSwappedNotifications,
    GraphTerminatedTwice,
    GraphWrongResourceUrl,
    GraphWrongMessage,
    GraphUndocumentedResultInfo,
    GraphResultInfoStrings,
    GraphNoAuthorization,
    GraphLateNotifications,
    GraphTerminatedPastDeadline,
    GraphWrongChangeType,
    GraphNotificationTextPlain,
    GraphNotificationDoubleEncoded,
    // Graph, equivalent forms: a conformant harness must pass these.
    GraphEstablishedFirst,
    GraphKeysReordered,
    GraphExtraResourceData,
    GraphHostileCallId,
    // Graph call-control operations beyond create/delete, real deviations (they leave
    // create and delete intact, which other cases use as set-up).
    GraphOperationWrongStatus,
    GraphOperationNoLocation,
    GraphOperationResultInfoUndocumented,
    GraphNoRosterUpdate,
    GraphTransferMixedOutcomes,
    GraphIncomingWrongState,
    GraphUndocumentedCallState,
    GraphOtherCallback,
    GraphOtherCallResourceUrl,
}

/// Which protocol family a deviation belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    Um,
    Graph,
}

use Deviation::*;

const ALL: &[Deviation] = &[
    UmOtherPrefixes,
    UmCompactWhitespace,
    UmAttributesReordered,
    UmNoXsiXsd,
    UmOtherXmlDeclaration,
    UmHttpsNamespace,
    UmMissingEventCause,
    UmWrongCallState,
    UmChildrenSwapped,
    UmExtraElement,
    UmFaultInstead,
    UmFaultWith200,
    UmSuccessWith500,
    UmWrongContentType,
    UmForgetDisconnected,
    UmPlayOnPhoneNoCallId,
    UmHostileCallId,
    UmRequireSoapAction,
    UmExchange2007PathOnly,
    Graph200InsteadOf204,
    GraphNoTerminating,
    GraphSwappedNotifications,
    GraphTerminatedTwice,
    GraphWrongResourceUrl,
    GraphWrongMessage,
    GraphUndocumentedResultInfo,
    GraphResultInfoStrings,
    GraphNoAuthorization,
    GraphLateNotifications,
    GraphTerminatedPastDeadline,
    GraphWrongChangeType,
    GraphNotificationTextPlain,
    GraphNotificationDoubleEncoded,
    GraphEstablishedFirst,
    GraphKeysReordered,
    GraphExtraResourceData,
    GraphHostileCallId,
    GraphOperationWrongStatus,
    GraphOperationNoLocation,
    GraphOperationResultInfoUndocumented,
    GraphNoRosterUpdate,
    GraphTransferMixedOutcomes,
    GraphIncomingWrongState,
    GraphUndocumentedCallState,
    GraphOtherCallback,
    GraphOtherCallResourceUrl,
];

impl Deviation {
    /// Every deviation, in a stable order (UM first, then Graph).
    pub fn all() -> &'static [Deviation] {
        ALL
    }

    /// The kebab-case name used on the command line (`--deviate a,b`).
    pub fn name(self) -> &'static str {
        match self {
            UmOtherPrefixes => "um-other-prefixes",
            UmCompactWhitespace => "um-compact-whitespace",
            UmAttributesReordered => "um-attributes-reordered",
            UmNoXsiXsd => "um-no-xsi-xsd",
            UmOtherXmlDeclaration => "um-other-xml-declaration",
            UmHttpsNamespace => "um-https-namespace",
            UmMissingEventCause => "um-missing-event-cause",
            UmWrongCallState => "um-wrong-call-state",
            UmChildrenSwapped => "um-children-swapped",
            UmExtraElement => "um-extra-element",
            UmFaultInstead => "um-fault-instead",
            UmFaultWith200 => "um-fault-with-200",
            UmSuccessWith500 => "um-success-with-500",
            UmWrongContentType => "um-wrong-content-type",
            UmForgetDisconnected => "um-forget-disconnected",
            UmPlayOnPhoneNoCallId => "um-play-on-phone-no-call-id",
            UmHostileCallId => "um-hostile-call-id",
            UmRequireSoapAction => "um-require-soap-action",
            UmExchange2007PathOnly => "um-exchange-2007-path-only",
            Graph200InsteadOf204 => "graph-200-instead-of-204",
            GraphNoTerminating => "graph-no-terminating",
            GraphSwappedNotifications => "graph-swapped-notifications",
            GraphTerminatedTwice => "graph-terminated-twice",
            GraphWrongResourceUrl => "graph-wrong-resource-url",
            GraphWrongMessage => "graph-wrong-message",
            GraphUndocumentedResultInfo => "graph-undocumented-result-info",
            GraphResultInfoStrings => "graph-result-info-strings",
            GraphNoAuthorization => "graph-no-authorization",
            GraphLateNotifications => "graph-late-notifications",
            GraphTerminatedPastDeadline => "graph-terminated-past-deadline",
            GraphWrongChangeType => "graph-wrong-change-type",
            GraphNotificationTextPlain => "graph-notification-text-plain",
            GraphNotificationDoubleEncoded => "graph-notification-double-encoded",
            GraphEstablishedFirst => "graph-established-first",
            GraphKeysReordered => "graph-keys-reordered",
            GraphExtraResourceData => "graph-extra-resource-data",
            GraphHostileCallId => "graph-hostile-call-id",
            GraphOperationWrongStatus => "graph-operation-wrong-status",
            GraphOperationNoLocation => "graph-operation-no-location",
            GraphOperationResultInfoUndocumented => "graph-operation-result-info-undocumented",
            GraphNoRosterUpdate => "graph-no-roster-update",
            GraphTransferMixedOutcomes => "graph-transfer-mixed-outcomes",
            GraphIncomingWrongState => "graph-incoming-wrong-state",
            GraphUndocumentedCallState => "graph-undocumented-call-state",
            GraphOtherCallback => "graph-other-callback",
            GraphOtherCallResourceUrl => "graph-other-call-resource-url",
        }
    }

    /// One line saying what the target does differently.
    pub fn about(self) -> &'static str {
        match self {
            UmOtherPrefixes => {
                "GetCallInfo/Disconnect responses use `env:` for SOAP and an `m:` prefix for messages (equivalent)"
            }
            UmCompactWhitespace => {
                "GetCallInfo/Disconnect responses on one line without indentation (equivalent)"
            }
            UmAttributesReordered => {
                "namespace declarations in another order, messages namespace declared on the Envelope (equivalent)"
            }
            UmNoXsiXsd => "no xmlns:xsi / xmlns:xsd declarations on the Envelope (equivalent)",
            UmOtherXmlDeclaration => {
                "XML declaration `<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>` (equivalent)"
            }
            UmHttpsNamespace => "responses use the https:// messages namespace",
            UmMissingEventCause => "GetCallInfo response lacks EventCause",
            UmWrongCallState => "GetCallInfo reports CallState Disconnected for a live call",
            UmChildrenSwapped => "GetCallInfo response has EventCause before CallState",
            UmExtraElement => "responses carry an undocumented extra child element",
            UmFaultInstead => {
                "GetCallInfo/Disconnect answer an InvalidCallIdException fault (HTTP 500)"
            }
            UmFaultWith200 => {
                "GetCallInfo/Disconnect answer the InvalidCallIdException fault with HTTP 200"
            }
            UmSuccessWith500 => "GetCallInfo/Disconnect answer the correct body with HTTP 500",
            UmWrongContentType => "GetCallInfo/Disconnect answer with Content-Type text/plain",
            UmForgetDisconnected => {
                "a disconnected call is forgotten: GetCallInfo on it faults instead of answering Disconnected"
            }
            UmPlayOnPhoneNoCallId => {
                "PlayOnPhone answers an empty PlayOnPhoneResponse: no CallId to capture"
            }
            UmHostileCallId => {
                "PlayOnPhone hands out CallIds ending in `&<>\"'` (escaped in the response; equivalent)"
            }
            UmRequireSoapAction => {
                "like ASMX, every request needs SOAPAction \"<messages ns>/<Operation>\" (HTTP 500 fault without it)"
            }
            UmExchange2007PathOnly => {
                "UM only at /UnifiedMessaging/Service.asmx; /EWS/UM2007Legacy.asmx answers 404"
            }
            Graph200InsteadOf204 => "DELETE answers 200 with a small JSON body instead of 204",
            GraphNoTerminating => "no `terminating` notification after DELETE",
            GraphSwappedNotifications => "`terminated` is sent before `terminating`",
            GraphTerminatedTwice => "`terminated` is sent twice",
            GraphWrongResourceUrl => "notifications name another call id in resourceUrl",
            GraphWrongMessage => {
                "resultInfo message is \"Call ended.\" instead of the documented text"
            }
            GraphUndocumentedResultInfo => "resultInfo code 999 / subcode 1",
            GraphResultInfoStrings => {
                "resultInfo code/subcode as strings \"200\"/\"5001\" (as the docs print)"
            }
            GraphNoAuthorization => "notifications carry no Authorization header",
            GraphLateNotifications => {
                "terminating/terminated sent only after the configured late delay"
            }
            GraphTerminatedPastDeadline => {
                "`terminating` on time, `terminated` only after the configured late delay"
            }
            GraphWrongChangeType => "`terminated` is sent with changeType `updated`",
            GraphNotificationTextPlain => {
                "notifications are POSTed with Content-Type text/plain (the body is JSON)"
            }
            GraphNotificationDoubleEncoded => {
                "each notification's `value` also holds the entry double-encoded, as a JSON string"
            }
            GraphEstablishedFirst => {
                "after create, `established` is sent before `establishing` (allowed)"
            }
            GraphKeysReordered => {
                "notification JSON keys in a different order than documented (equivalent)"
            }
            GraphExtraResourceData => {
                "an undocumented `callChainId` in resourceData (reported; fails only under --strict)"
            }
            GraphHostileCallId => {
                "call ids hold `/`, `?` and a space (percent-encoded in Location and resourceUrl; equivalent)"
            }
            GraphOperationWrongStatus => {
                "operation-ended notifications (playPrompt, record, DTMF, invite) say status `running`"
            }
            GraphOperationNoLocation => {
                "operation responses (playPrompt, mute, invite, ...) carry no Location header"
            }
            GraphOperationResultInfoUndocumented => {
                "operation and transfer resultInfo code 299 / subcode 9999 (in no documented table)"
            }
            GraphNoRosterUpdate => {
                "no roster update after invite, mute, unmute or changeScreenSharingRole"
            }
            GraphTransferMixedOutcomes => {
                "transfer sends the failed outcome (`established`, 500/7000) and then the completed one"
            }
            GraphIncomingWrongState => "the incoming-call notification says state `established`",
            GraphUndocumentedCallState => {
                "after answer the call reaches state `connected` (not a Graph callState) instead of `established`"
            }
            GraphOtherCallback => {
                "notifications of the operations beyond create/delete go to another call's callback"
            }
            GraphOtherCallResourceUrl => {
                "notifications of the operations beyond create/delete name another live call in resourceUrl"
            }
        }
    }

    /// Looks a deviation up by its kebab-case name (case-insensitive, surrounding space ignored).
    pub fn parse(s: &str) -> Result<Deviation, String> {
        let want = s.trim();
        ALL.iter()
            .copied()
            .find(|d| d.name().eq_ignore_ascii_case(want))
            .ok_or_else(|| format!("unknown deviation `{want}`"))
    }

    /// Parses a comma-separated list (`a,b`); empty items are skipped, duplicates dropped.
    pub fn parse_list(s: &str) -> Result<Vec<Deviation>, String> {
        let mut out = Vec::new();
        for item in s.split(',').filter(|i| !i.trim().is_empty()) {
            let d = Deviation::parse(item)?;
            if !out.contains(&d) {
                out.push(d);
            }
        }
        Ok(out)
    }

    /// Which protocol family the deviation affects.
    pub fn family(self) -> Family {
        if self.name().starts_with("um-") {
            Family::Um
        } else {
            Family::Graph
        }
    }

    /// True when a conformant harness must still PASS against a target with this deviation
    /// (the target only varies in a way the documentation allows or that is equivalent).
    pub fn expect_pass(self) -> bool {
        matches!(
            self,
            UmOtherPrefixes
                | UmCompactWhitespace
                | UmAttributesReordered
                | UmNoXsiXsd
                | UmOtherXmlDeclaration
                | UmRequireSoapAction
                | UmHostileCallId
                | GraphEstablishedFirst
                | GraphKeysReordered
                | GraphExtraResourceData
                | GraphHostileCallId
        )
    }
}

impl fmt::Display for Deviation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Deviation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Deviation::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for &d in Deviation::all() {
            assert!(seen.insert(d.name()), "duplicate name {}", d.name());
            assert_eq!(Deviation::parse(d.name()), Ok(d));
            assert!(!d.about().is_empty());
            let upper = d.name().to_ascii_uppercase();
            assert_eq!(Deviation::parse(&upper), Ok(d));
        }
        assert!(Deviation::parse("no-such-thing").is_err());
    }

    #[test]
    fn parse_list_skips_empty_and_duplicates() {
        let v = Deviation::parse_list("um-no-xsi-xsd, ,graph-no-terminating,um-no-xsi-xsd");
        assert_eq!(v, Ok(vec![UmNoXsiXsd, GraphNoTerminating]));
        assert!(Deviation::parse_list("um-no-xsi-xsd,bogus").is_err());
        assert_eq!(Deviation::parse_list(""), Ok(vec![]));
    }

    #[test]
    fn families() {
        assert_eq!(UmFaultInstead.family(), Family::Um);
        assert_eq!(GraphKeysReordered.family(), Family::Graph);
        assert!(GraphExtraResourceData.expect_pass());
        assert!(!GraphResultInfoStrings.expect_pass());
    }
}
