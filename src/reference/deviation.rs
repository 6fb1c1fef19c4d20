//! Deliberate breakages of documented behaviour: the catalogue that proves every check can
//! fail and every equivalent form passes.
//!
//! Each deviation makes the reference target break (or, for the equivalent-form ones,
//! merely vary) exactly one documented behaviour, and declares here, in one place, the
//! verdict a conformant harness must give against it: pass, pass with a warning, or fail
//! with which checks. `tests/deviations.rs` runs the corpus against each one and holds the
//! harness to that verdict; adding a deviation is one line below plus its behaviour in the
//! handler.

use crate::family::Family;
use crate::results::CheckId;
use std::fmt;

/// The verdict the harness must give against a deviation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// An equivalent form: every case of the family passes.
    Pass,
    /// Every case passes, and this check is reported as a warning.
    Warns(CheckId),
    /// Every case passes, and this check passes with a note (another documented value,
    /// other free text); under `--exact-values` it fails.
    Notes(CheckId),
    /// Some case of the family fails the first check (the deviation's own), and each
    /// failing case fails one of these checks (the others follow from it in some cases:
    /// a wrong call id, then a 404 on the next step).
    Fails(&'static [CheckId]),
    /// No committed case exercises the behaviour: the family's cases must still pass, and
    /// `tests/reference_target.rs` shows the target's behaviour changes.
    Uncovered,
}

use CheckId::*;

/// Declares the catalogue once: variant, command-line name, verdict, description.
macro_rules! deviations {
    ($($variant:ident = $name:literal, $verdict:expr, $about:literal;)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Deviation {
            $($variant,)*
        }

        const ALL: &[Deviation] = &[$(Deviation::$variant,)*];

        impl Deviation {
            /// The kebab-case name used on the command line (`--deviate a,b`).
            pub fn name(self) -> &'static str {
                match self {
                    $(Deviation::$variant => $name,)*
                }
            }

            /// What the target does differently, for `--list-deviations`.
            pub fn about(self) -> &'static str {
                match self {
                    $(Deviation::$variant => $about,)*
                }
            }

            /// The verdict a conformant harness must give against it.
            pub fn verdict(self) -> Verdict {
                match self {
                    $(Deviation::$variant => $verdict,)*
                }
            }
        }
    };
}

deviations! {
    UmOtherPrefixes = "um-other-prefixes", Pass,
        "GetCallInfo/Disconnect responses use `env:` for SOAP and an `m:` prefix for messages (equivalent)";
    UmCompactWhitespace = "um-compact-whitespace", Pass,
        "GetCallInfo/Disconnect responses on one line without indentation (equivalent)";
    UmAttributesReordered = "um-attributes-reordered", Pass,
        "namespace declarations in another order, messages namespace declared on the Envelope (equivalent)";
    UmNoXsiXsd = "um-no-xsi-xsd", Pass,
        "no xmlns:xsi / xmlns:xsd declarations on the Envelope (equivalent)";
    UmOtherXmlDeclaration = "um-other-xml-declaration", Pass,
        "XML declaration `<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>` (equivalent)";
    UmHttpsNamespace = "um-https-namespace", Fails(&[Snapshot]),
        "responses use the https:// messages namespace";
    UmMissingEventCause = "um-missing-event-cause", Fails(&[Snapshot]),
        "GetCallInfo response lacks EventCause";
    UmWrongCallState = "um-wrong-call-state", Fails(&[StateProgress]),
        "GetCallInfo reports CallState Disconnected for a live call";
    UmChildrenSwapped = "um-children-swapped", Fails(&[Snapshot]),
        "GetCallInfo response has EventCause before CallState";
    UmExtraElement = "um-extra-element", Fails(&[Snapshot]),
        "responses carry an undocumented extra child element";
    UmFaultInstead = "um-fault-instead", Fails(&[Status]),
        "GetCallInfo/Disconnect answer an InvalidCallIdException fault (HTTP 500)";
    UmFaultWith200 = "um-fault-with-200", Fails(&[Snapshot]),
        "GetCallInfo/Disconnect answer the InvalidCallIdException fault with HTTP 200";
    UmSuccessWith500 = "um-success-with-500", Fails(&[Status]),
        "GetCallInfo/Disconnect answer the correct body with HTTP 500";
    UmWrongContentType = "um-wrong-content-type", Fails(&[ContentType]),
        "GetCallInfo/Disconnect answer with Content-Type text/plain";
    UmForgetDisconnected = "um-forget-disconnected", Pass,
        "a disconnected call is forgotten: GetCallInfo on it faults instead of answering Disconnected";
    UmPlayOnPhoneNoCallId = "um-play-on-phone-no-call-id", Fails(&[Capture, Snapshot]),
        "PlayOnPhone answers an empty PlayOnPhoneResponse: no CallId to capture";
    UmHostileCallId = "um-hostile-call-id", Pass,
        "PlayOnPhone hands out CallIds ending in `&<>\"'` (escaped in the response; equivalent)";
    UmRequireSoapAction = "um-require-soap-action", Pass,
        "like ASMX, every request needs SOAPAction \"<messages ns>/<Operation>\" (HTTP 500 fault without it)";
    UmExchange2007PathOnly = "um-exchange-2007-path-only", Fails(&[Status]),
        "UM only at /UnifiedMessaging/Service.asmx; /EWS/UM2007Legacy.asmx answers 404";
    UmRingsFirst = "um-rings-first", Pass,
        "a PlayOnPhone call rings before it connects: Connecting, Alerted after 0.5 s, Connected after 1.5 s";
    UmNeverConnects = "um-never-connects", Fails(&[StateProgress]),
        "a PlayOnPhone call rings forever: Connecting, then Alerted, never Connected";
    UmUndocumentedCallState = "um-undocumented-call-state", Fails(&[Snapshot]),
        "GetCallInfo answers CallState `connected` (wrong case: not a documented value)";
    UmActivityIdHeader = "um-activity-id-header", Warns(UndocumentedFields),
        "GetCallInfo and Disconnect answers carry WCF's ActivityId SOAP header entry (optional: reported, fails only under --strict)";
    UmMustUnderstandHeader = "um-must-understand-header", Fails(&[Snapshot]),
        "GetCallInfo and Disconnect answers carry an undocumented SOAP header entry with mustUnderstand=\"1\"";
    UmMailboxOwnValues = "um-mailbox-own-values", Notes(Snapshot),
        "GetUMProperties answers the mailbox's own PlayOnPhoneDialString, TelephoneAccessNumbers and TelephoneAccessFolderEmail (other strings than the example's, of the type the element pages give: a note)";
    UmNonBooleanOofStatus = "um-non-boolean-oof-status", Fails(&[Snapshot]),
        "GetUMProperties answers OofStatus `Off`, not an xs:boolean";
    Graph200InsteadOf204 = "graph-200-instead-of-204", Fails(&[EmptyBody, Status]),
        "DELETE answers 200 with a small JSON body instead of 204";
    GraphRosterUpdateWhileTerminating = "graph-roster-update-while-terminating", Warns(UndocumentedFields),
        "DELETE sends a roster update of the call between `terminating` and `terminated` (a sub-resource update no page shows: reported)";
    GraphRosterUpdateAfterTerminated = "graph-roster-update-after-terminated", Fails(&[NothingAfterLast]),
        "DELETE sends a roster update of the call after `terminated`";
    GraphNoTerminating = "graph-no-terminating", Fails(&[NotificationDeadline]),
        "no `terminating` notification after DELETE";
    GraphSwappedNotifications = "graph-swapped-notifications", Fails(&[NotificationOrder]),
        "`terminated` is sent before `terminating`";
    GraphTerminatedTwice = "graph-terminated-twice", Fails(&[NothingAfterLast]),
        "`terminated` is sent twice";
    GraphWrongResourceUrl = "graph-wrong-resource-url", Fails(&[ResourceUrlNamesCall, Status]),
        "notifications name another call id in resourceUrl";
    GraphWrongMessage = "graph-wrong-message", Notes(Snapshot),
        "resultInfo message is \"Call ended.\" instead of the documented text (free text: a note)";
    GraphOtherEndReason = "graph-other-end-reason", Notes(Snapshot),
        "`terminated` carries resultInfo 200/7000 'The conversation has ended by bot.', another row of the documented table (a note)";
    GraphUndocumentedResultInfo = "graph-undocumented-result-info", Fails(&[ResultInfoDocumented]),
        "resultInfo code 999 / subcode 1";
    GraphResultInfoStrings = "graph-result-info-strings", Fails(&[ResultInfoType, Snapshot]),
        "resultInfo code/subcode as strings \"200\"/\"5001\" (as the docs print)";
    // result-info-type judges only the members present; a missing `subcode` is structure,
    // which the snapshot judges against the page (and a call's end reason without it is no
    // documented pair).
    GraphResultInfoNoSubcode = "graph-result-info-no-subcode", Fails(&[Snapshot, ResultInfoDocumented]),
        "resultInfo leaves out subcode (code and message only)";
    GraphNoAuthorization = "graph-no-authorization", Fails(&[NotificationAuthorization]),
        "notifications carry no Authorization header";
    GraphSetupNoAuthorization = "graph-setup-no-authorization", Fails(&[NotificationAuthorization]),
        "a created call's establishing/established notifications (what set-ups wait for) carry no Authorization header";
    GraphLateNotifications = "graph-late-notifications", Fails(&[NotificationDeadline]),
        "terminating/terminated sent only after the configured late delay";
    GraphBatchDropsEntry = "graph-batch-drops-entry", Fails(&[NotificationDeadline]),
        "a call's queued notifications go in one POST, and the last entry of each batch is lost";
    GraphBatchReorders = "graph-batch-reorders", Fails(&[NotificationOrder]),
        "a call's queued notifications go in one POST, their entries in reverse order";
    GraphTerminatedPastDeadline = "graph-terminated-past-deadline", Fails(&[NotificationDeadline]),
        "`terminating` on time, `terminated` only after the configured late delay";
    GraphWrongChangeType = "graph-wrong-change-type", Fails(&[ChangeTypeMatchesState]),
        "`terminated` is sent with changeType `updated`";
    GraphNotificationTextPlain = "graph-notification-text-plain", Fails(&[NotificationContentType]),
        "notifications are POSTed with Content-Type text/plain (the body is JSON)";
    GraphNotificationDoubleEncoded = "graph-notification-double-encoded", Fails(&[NotificationJson, NothingAfterLast]),
        "each notification's `value` also holds the entry double-encoded, as a JSON string";
    GraphEstablishedFirst = "graph-established-first", Pass,
        "after create, `established` is sent before `establishing` (allowed)";
    GraphKeysReordered = "graph-keys-reordered", Pass,
        "notification JSON keys in a different order than documented (equivalent)";
    GraphExtraResourceData = "graph-extra-resource-data", Warns(UndocumentedFields),
        "an undocumented `routingHint` (declared nowhere) in resourceData (reported; fails only under --strict)";
    GraphHostileCallId = "graph-hostile-call-id", Pass,
        "call ids hold `/`, `?` and a space (percent-encoded in Location and resourceUrl; equivalent)";
    GraphOperationWrongStatus = "graph-operation-wrong-status", Fails(&[NotificationDeadline, NothingAfterLast]),
        "operation-ended notifications (playPrompt, record, DTMF, invite) say status `running`";
    GraphOperationNoLocation = "graph-operation-no-location", Uncovered,
        "operation responses (playPrompt, mute, invite, ...) carry no Location header";
    GraphOperationCompletedWithFailure = "graph-operation-completed-with-failure", Fails(&[OperationResult]),
        "ended operations (playPrompt, record, DTMF, tones, invite, the 2018 transfer) say `completed` with resultInfo 500/9999 \"Prompt playback failed.\"";
    GraphOperationOtherSuccess = "graph-operation-other-success", Notes(Snapshot),
        "ended operations report success with another pair than the example's (200/5)";
    GraphOperationOtherClientContext = "graph-operation-other-client-context", Fails(&[Relation]),
        "media operations' ending notifications echo another clientContext than the request sent";
    GraphGetCallTypeErrors = "graph-get-call-type-errors", Fails(&[Snapshot, Relation]),
        "a call's GET answer keeps its structure but holds values of the wrong type: identities of no declared member, toneInfo 42, resultInfo \"garbage\", answeredBy [1, 2, 3], another call's id, an empty myParticipantId, a context of #users/$entity";
    GraphNoRosterUpdate = "graph-no-roster-update", Fails(&[NotificationDeadline]),
        "no roster update after invite, mute, unmute or changeScreenSharingRole";
    GraphTransferMixedOutcomes = "graph-transfer-mixed-outcomes", Fails(&[NothingAfterLast]),
        "transfer sends the failed outcome (`established`, 500/7000) and then the completed one";
    GraphIncomingWrongState = "graph-incoming-wrong-state", Fails(&[NotificationDeadline, Capture]),
        "the incoming-call notification says state `established`";
    GraphUndocumentedCallState = "graph-undocumented-call-state", Fails(&[NotificationDeadline]),
        "after answer the call reaches state `connected` (not a Graph callState) instead of `established`";
    GraphOtherCallback = "graph-other-callback", Fails(&[NotificationCallback, NotificationDeadline, NothingAfterLast, ResourceUrlNamesCall, Capture, Status, EmptyBody, Snapshot]),
        "notifications of the operations beyond create/delete go to another call's callback";
    GraphRosterFewerParticipants = "graph-roster-fewer-participants", Notes(Snapshot),
        "list participants leaves out the last participant (the bot stays): another roster, a note";
    GraphRosterExtraParticipant = "graph-roster-extra-participant", Pass,
        "list participants also lists a muted phone participant (a truncated example shows some members)";
    GraphRosterMalformedMember = "graph-roster-malformed-member", Fails(&[Snapshot]),
        "list participants answers members whose `isMuted` is the string \"false\"";
    GraphOtherCallResourceUrl = "graph-other-call-resource-url", Fails(&[NotificationCallback, NotificationDeadline, Status]),
        "notifications of the operations beyond create/delete name another live call in resourceUrl";
}

use Verdict::{Fails, Notes, Pass, Uncovered, Warns};

impl Deviation {
    /// Every deviation, in a stable order (UM first, then Graph).
    pub fn all() -> &'static [Deviation] {
        ALL
    }

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

    /// Which protocol family the deviation affects: the one its name starts with.
    pub fn family(self) -> Family {
        let prefix = self.name().split('-').next().unwrap_or("");
        Family::parse(prefix).unwrap_or(Family::GRAPH)
    }

    /// True when a conformant harness must still PASS against a target with this deviation
    /// (the target only varies in a way the documentation allows or that is equivalent).
    pub fn expect_pass(self) -> bool {
        matches!(self.verdict(), Pass | Warns(_) | Notes(_))
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
            assert!(d.name().starts_with(&format!("{}-", d.family())));
        }
        assert!(Deviation::parse("no-such-thing").is_err());
    }

    #[test]
    fn parse_list_skips_empty_and_duplicates() {
        assert_eq!(
            Deviation::parse_list("um-no-xsi-xsd,,um-no-xsi-xsd"),
            Ok(vec![Deviation::UmNoXsiXsd])
        );
        assert!(Deviation::parse_list("nope").is_err());
    }

    #[test]
    fn a_failing_verdict_names_its_checks() {
        for &d in Deviation::all() {
            if let Fails(checks) = d.verdict() {
                assert!(!checks.is_empty(), "{d} fails no check");
            }
            let _ = Uncovered;
        }
    }
}
