//! A SOAP answer judged against its documented example on the canonical text
//! ([`crate::canon::xml::render`] form: one node per line, indented by depth). The tree
//! (names, namespaces, nesting, child order, attributes) must be the same line for line;
//! only element text is judged by the contract's field classes. The expected side is
//! prepared once per snapshot; the actual side is the canonical text the response
//! already produces, so judging adds no parse.

use super::{Findings, JudgeOptions, verdicts};
use crate::contract::{Contract, FieldClass};
use crate::results::Check;

/// One line of a prepared canonical form.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    start: usize,
    end: usize,
    /// For a text line: the local names from the document element to its element.
    text_of: Option<Vec<String>>,
}

/// A documented SOAP body in canonical form, split and located once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedXml {
    text: String,
    lines: Vec<Line>,
}

/// How deep a canonical line is (two spaces per level) and what follows the indent.
fn split_indent(line: &str) -> (usize, &str) {
    let body = line.trim_start_matches(' ');
    ((line.len() - body.len()) / 2, body)
}

/// `{ns}local` → `local`.
fn local(clark: &str) -> &str {
    match (clark.starts_with('{'), clark.rfind('}')) {
        (true, Some(end)) => &clark[end + 1..],
        _ => clark,
    }
}

impl PreparedXml {
    /// Prepares a canonical rendering (a snapshot, or the documented body canonicalised).
    pub fn new(canonical: &str) -> PreparedXml {
        let text = canonical.trim_end().to_owned();
        let mut lines = Vec::new();
        let mut stack: Vec<String> = Vec::new();
        let mut start = 0;
        for raw in text.split('\n') {
            let (depth, body) = split_indent(raw);
            let text_of = if body.starts_with('"') {
                Some(stack[..depth.min(stack.len())].to_vec())
            } else {
                if !body.starts_with('@') {
                    stack.truncate(depth);
                    stack.push(local(body).to_owned());
                }
                None
            };
            lines.push(Line {
                start,
                end: start + raw.len(),
                text_of,
            });
            start += raw.len() + 1;
        }
        PreparedXml { text, lines }
    }

    /// The canonical text, for diffs and `compare::exact`.
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// The SOAP 1.1 envelope namespace: its `Header` and `mustUnderstand` are judged apart.
const SOAP_ENV: &str = "{http://schemas.xmlsoap.org/soap/envelope/}";

/// The canonical lines of a body split at the SOAP Header: the entries of the Header
/// (each an element and its subtree, by index range) and every other line (the
/// Envelope, the Body and below), in order.
struct Split {
    /// (entry's element line, lines `start..end`) per Header entry.
    entries: Vec<(usize, std::ops::Range<usize>)>,
    /// Indices of the lines outside the Header.
    rest: Vec<usize>,
}

fn split_header(lines: &[&str]) -> Split {
    let header = format!("{SOAP_ENV}Header");
    let mut entries = Vec::new();
    let mut rest = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let (depth, body) = split_indent(lines[i]);
        if depth == 1 && body == header {
            i += 1;
            // The Header's own attribute lines, then its entries at depth 2.
            while i < lines.len() && split_indent(lines[i]).0 >= 2 {
                let (d, b) = split_indent(lines[i]);
                if d == 2 && !b.starts_with('@') && !b.starts_with('"') {
                    let start = i;
                    i += 1;
                    while i < lines.len() && split_indent(lines[i]).0 > 2 {
                        i += 1;
                    }
                    entries.push((start, start..i));
                } else {
                    i += 1;
                }
            }
            continue;
        }
        rest.push(i);
        i += 1;
    }
    Split { entries, rest }
}

/// True when a Header entry's lines carry `mustUnderstand="1"` on the entry itself.
fn must_understand(lines: &[&str], range: &std::ops::Range<usize>) -> bool {
    let attr = format!("@{SOAP_ENV}mustUnderstand=");
    lines[range.clone()].iter().skip(1).any(|l| {
        let (d, b) = split_indent(l);
        d == 3
            && b.strip_prefix(attr.as_str())
                .is_some_and(|v| v == "\"1\"" || v == "\"true\"")
    })
}

/// Judges a canonical actual body against the prepared example: one `snapshot` check.
///
/// The Body (and the Envelope) are exact line for line. SOAP 1.1 section 4.2 makes a
/// Header entry an optional extension unless it says `mustUnderstand="1"`: a documented
/// entry is judged like the Body, an undocumented one is reported (`undocumented-fields`,
/// failing under `--strict`), and an undocumented one the client must understand fails.
pub fn judge_xml(
    subject: &str,
    label: &str,
    expected: &PreparedXml,
    actual_canonical: &str,
    contract: &Contract,
    opts: &JudgeOptions<'_>,
) -> Vec<Check> {
    let actual: Vec<&str> = actual_canonical.trim_end().split('\n').collect();
    let wanted: Vec<&str> = expected
        .lines
        .iter()
        .map(|l| &expected.text[l.start..l.end])
        .collect();
    let (es, acts) = (split_header(&wanted), split_header(&actual));
    let mut found = Findings::default();
    compare_lines(
        expected, &es.rest, &actual, &acts.rest, contract, &mut found,
    );
    let mut used = vec![false; acts.entries.len()];
    for (head, range) in &es.entries {
        let name = wanted[*head];
        let Some(k) =
            (0..acts.entries.len()).find(|&k| !used[k] && actual[acts.entries[k].0] == name)
        else {
            found.failures.push(format!(
                "the documented SOAP header entry `{}` is missing",
                name.trim()
            ));
            continue;
        };
        used[k] = true;
        let want: Vec<usize> = range.clone().collect();
        let got: Vec<usize> = acts.entries[k].1.clone().collect();
        compare_lines(expected, &want, &actual, &got, contract, &mut found);
    }
    for (k, (head, range)) in acts.entries.iter().enumerate() {
        if used[k] {
            continue;
        }
        let name = local(actual[*head].trim()).to_owned();
        if must_understand(&actual, range) {
            found.failures.push(format!(
                "/Envelope/Header/{name}: an undocumented SOAP header entry with mustUnderstand=\"1\" (a client that does not know it must fault, SOAP 1.1 section 4.2.3)"
            ));
        } else {
            found.extra.push(format!("/Envelope/Header/{name}"));
        }
    }
    verdicts(subject, found, opts, || {
        super::unified_diff(&expected.text, actual_canonical, label, "actual")
    })
}

/// The documented lines `want` (indices into the prepared example) against the actual
/// lines `got`: the same tree line for line, text judged by class.
fn compare_lines(
    expected: &PreparedXml,
    want: &[usize],
    actual: &[&str],
    got: &[usize],
    contract: &Contract,
    found: &mut Findings,
) {
    if want.len() != got.len() {
        found.failures.push(format!(
            "the element tree differs from the documented one ({} canonical lines, {} documented): names, namespaces, nesting and order are exact",
            got.len(),
            want.len()
        ));
        return;
    }
    for (&w, &g) in want.iter().zip(got) {
        let line = &expected.lines[w];
        let text = &expected.text[line.start..line.end];
        if text == actual[g] {
            continue;
        }
        judge_line(text, actual[g], line.text_of.as_deref(), contract, found);
    }
}

/// One differing line: element text is judged by class, anything else is structure.
fn judge_line(
    want: &str,
    got: &str,
    text_of: Option<&[String]>,
    contract: &Contract,
    found: &mut Findings,
) {
    let (wd, wbody) = split_indent(want);
    let (gd, gbody) = split_indent(got);
    let texts = match text_of {
        Some(path) if wd == gd && gbody.starts_with('"') => {
            match (
                serde_json::from_str::<String>(wbody),
                serde_json::from_str::<String>(gbody),
            ) {
                (Ok(w), Ok(g)) => Some((path, w, g)),
                _ => None,
            }
        }
        _ => None,
    };
    let Some((path, w, g)) = texts else {
        found.failures.push(format!(
            "the element tree differs from the documented one: expected `{}`, got `{}`",
            wbody.trim(),
            gbody.trim()
        ));
        return;
    };
    let shown = format!("/{}", path.join("/"));
    let rule = contract.rule(path);
    match (rule.map_or(FieldClass::Exact, |r| r.class), rule) {
        (FieldClass::Live, _) => {}
        (FieldClass::Text, _) => found.notes.push(format!(
            "{shown}: the text differs from the example: {g:?} (the example shows {w:?})"
        )),
        (FieldClass::Set, Some(r)) => {
            let name = r.set.as_deref().unwrap_or("");
            let Some(set) = contract.sets.get(name) else {
                found
                    .failures
                    .push(format!("{shown}: expected {w:?}, got {g:?}"));
                return;
            };
            let at = set
                .provenance
                .as_ref()
                .map_or(String::new(), |p| format!(", documented at {p}"));
            if set.contains(&g) {
                found.notes.push(format!(
                    "{shown}: {g:?} is another documented value of `{name}`{at}; the example shows {w:?}"
                ));
            } else {
                found.failures.push(format!(
                    "{shown}: {g:?} is not a documented value of `{name}` (one of: {}{at}); the example shows {w:?}",
                    set.values.join(", ")
                ));
            }
        }
        // Text the element pages type but do not enumerate (a mailbox's dial string):
        // the service's own value of that type, the example's a note. A named simple type
        // (`UMCallState`) says nothing the judge can check: an element of one that no set
        // judges (its page's list contradicted by an example) keeps the example's text.
        (FieldClass::Exact, None) => match path
            .last()
            .and_then(|n| contract.types.elements.get(n))
            .filter(|def| def.ty.starts_with("xs:"))
        {
            Some(def) if lexical(&def.ty, &g) => found.notes.push(format!(
                "{shown}: {g:?} is another `{}` value (typed at {}); the example shows {w:?}",
                def.ty, def.provenance
            )),
            Some(def) => found.failures.push(format!(
                "{shown}: {g:?} is not a `{}` value, as the element page types it ({}); the example shows {w:?}",
                def.ty, def.provenance
            )),
            None => found
                .failures
                .push(format!("{shown}: expected {w:?}, got {g:?}")),
        },
        _ => found
            .failures
            .push(format!("{shown}: expected {w:?}, got {g:?}")),
    }
}

/// Whether `text` is in the lexical space of an XML Schema type (booleans, integers,
/// numbers and base64; any other type takes any text).
fn lexical(ty: &str, text: &str) -> bool {
    let t = text.trim();
    let integer = |signs: &[char]| {
        let digits = t.strip_prefix(signs).unwrap_or(t);
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
    };
    match ty.trim_start_matches("xs:") {
        "boolean" => matches!(t, "true" | "false" | "1" | "0"),
        "int" | "integer" | "long" | "short" | "byte" | "negativeInteger"
        | "nonPositiveInteger" => integer(&['-', '+']),
        "unsignedInt" | "unsignedLong" | "unsignedShort" | "unsignedByte" | "positiveInteger"
        | "nonNegativeInteger" => integer(&['+']),
        "decimal" => {
            let d = t.strip_prefix(['-', '+']).unwrap_or(t);
            let (int, frac) = d.split_once('.').unwrap_or((d, ""));
            !(int.is_empty() && frac.is_empty())
                && int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
        }
        "double" | "float" => {
            matches!(t, "INF" | "-INF" | "+INF" | "NaN")
                || (t.bytes().any(|b| b.is_ascii_digit())
                    && t.bytes().all(|b| {
                        b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E')
                    })
                    && t.parse::<f64>().is_ok())
        }
        "base64Binary" => t
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canon::{Limits, xml::canonical_text};
    use crate::results::Verdict;

    const CONTRACT: &str = r#"
[sets."CallState"]
values = ["Idle", "Connecting", "Alerted", "Connected", "Disconnected", "Incoming", "Transferring", "Forwarding"]
provenance = { file = "um/elements/callstate-um-web-service.md", line = 53 }

[[field]]
path = "/Envelope/Body/GetCallInfoResponse/GetCallInfoResponse/CallState"
class = "set"
set = "CallState"

[[field]]
path = "/Envelope/Body/Fault/faultstring"
class = "text"

[[field]]
path = "/Envelope/Body/PlayOnPhoneResponse/PlayOnPhoneResponse"
class = "live"
"#;

    fn get_call_info(state: &str, extra: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
  <soap:Body>
    <GetCallInfoResponse xmlns="http://schemas.microsoft.com/exchange/services/2006/messages">
      <GetCallInfoResponse>
        <CallState>{state}</CallState>
        <EventCause>None</EventCause>{extra}
      </GetCallInfoResponse>
    </GetCallInfoResponse>
  </soap:Body>
</soap:Envelope>"#
        )
    }

    fn canon(xml: &str) -> String {
        canonical_text(xml.as_bytes(), &Limits::default(), &[]).expect("canonical")
    }

    fn judge(actual_xml: &str, opts: JudgeOptions) -> Check {
        let c = Contract::parse(CONTRACT).expect("contract");
        let expected = PreparedXml::new(&canon(&get_call_info("Connected", "")));
        let mut checks = judge_xml("s", "snap", &expected, &canon(actual_xml), &c, &opts);
        assert_eq!(checks.len(), 1);
        checks.remove(0)
    }

    #[test]
    fn the_example_passes_and_another_prefix_is_the_same_tree() {
        let c = judge(&get_call_info("Connected", ""), JudgeOptions::default());
        assert_eq!(c.verdict, Verdict::Pass);
        let other = get_call_info("Connected", "")
            .replace("soap:", "s:")
            .replace("xmlns:soap", "xmlns:s");
        assert_eq!(
            judge(&other, JudgeOptions::default()).verdict,
            Verdict::Pass
        );
    }

    #[test]
    fn another_documented_call_state_is_a_note() {
        let c = judge(&get_call_info("Alerted", ""), JudgeOptions::default());
        assert_eq!(c.verdict, Verdict::Note, "{c:?}");
        let n = &c.notes[0];
        assert!(
            n.contains("/Envelope/Body/GetCallInfoResponse/GetCallInfoResponse/CallState"),
            "{n}"
        );
        assert!(
            n.contains("\"Alerted\"") && n.contains("\"Connected\""),
            "{n}"
        );
        assert!(n.contains("callstate-um-web-service.md:53"), "{n}");
        let strict = JudgeOptions {
            exact_values: true,
            ..JudgeOptions::default()
        };
        let c = judge(&get_call_info("Alerted", ""), strict);
        assert_eq!(c.verdict, Verdict::Fail);
        assert!(c.detail.contains("--exact-values"), "{}", c.detail);
    }

    #[test]
    fn a_call_state_in_the_wrong_case_fails_naming_the_set() {
        let c = judge(&get_call_info("connected", ""), JudgeOptions::default());
        assert_eq!(c.verdict, Verdict::Fail);
        assert!(
            c.detail
                .contains("\"connected\" is not a documented value of `CallState`"),
            "{}",
            c.detail
        );
        assert!(
            c.detail.contains("Idle, Connecting, Alerted"),
            "{}",
            c.detail
        );
        assert!(
            c.detail.contains("callstate-um-web-service.md:53"),
            "{}",
            c.detail
        );
    }

    #[test]
    fn exact_text_and_structure_changes_fail() {
        let c = judge(
            &get_call_info("Connected", "").replace(">None<", ">UserBusy<"),
            JudgeOptions::default(),
        );
        assert_eq!(c.verdict, Verdict::Fail);
        assert!(
            c.detail
                .contains("EventCause: expected \"None\", got \"UserBusy\""),
            "{}",
            c.detail
        );
        // An added element.
        let c = judge(
            &get_call_info("Connected", "<Extra>1</Extra>"),
            JudgeOptions::default(),
        );
        assert_eq!(c.verdict, Verdict::Fail);
        assert!(c.detail.contains("element tree differs"), "{}", c.detail);
        // A renamed element, same number of lines.
        let c = judge(
            &get_call_info("Connected", "").replace("EventCause>", "EventReason>"),
            JudgeOptions::default(),
        );
        assert_eq!(c.verdict, Verdict::Fail);
        assert!(c.detail.contains("EventReason"), "{}", c.detail);
        // Another namespace.
        let c = judge(
            &get_call_info("Connected", "").replace("2006/messages", "2006/other"),
            JudgeOptions::default(),
        );
        assert_eq!(c.verdict, Verdict::Fail);
        // Children reordered.
        let swapped = get_call_info("Connected", "").replace(
            "<CallState>Connected</CallState>\n        <EventCause>None</EventCause>",
            "<EventCause>None</EventCause><CallState>Connected</CallState>",
        );
        assert_eq!(
            judge(&swapped, JudgeOptions::default()).verdict,
            Verdict::Fail
        );
        // A set field whose text became an element.
        let c = judge(&get_call_info("<Connected/>", ""), JudgeOptions::default());
        assert_eq!(c.verdict, Verdict::Fail);
    }

    #[test]
    fn a_typed_element_holds_any_value_of_its_type_with_a_note() {
        let xml = |dial: &str| {
            format!(
                r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetUMPropertiesResponse xmlns="http://schemas.microsoft.com/exchange/services/2006/messages"><GetUMPropertiesResponse><OofStatus>false</OofStatus><PlayOnPhoneDialString>{dial}</PlayOnPhoneDialString></GetUMPropertiesResponse></GetUMPropertiesResponse></soap:Body></soap:Envelope>"#
            )
        };
        let mut contract = Contract::default();
        contract.types = std::sync::Arc::new(
            crate::contract::TypeModel::parse(
                r#"
[elements."PlayOnPhoneDialString"]
type = "xs:string"
can_be_empty = false
provenance = { file = "um/elements/playonphonedialstring-um-web-service.md", line = 33 }

[elements."OofStatus"]
type = "xs:boolean"
provenance = { file = "um/elements/oofstatus-um-web-service.md", line = 33 }
"#,
            )
            .expect("model"),
        );
        let expected = PreparedXml::new(&canon(&xml("12345")));
        let judge_one = |actual: &str| {
            let checks = judge_xml(
                "s",
                "l",
                &expected,
                &canon(actual),
                &contract,
                &JudgeOptions::default(),
            );
            checks[0].clone()
        };
        let own = judge_one(&xml("+14255550100"));
        assert_eq!(own.verdict, Verdict::Note, "{own:?}");
        assert!(
            own.notes[0].contains("another `xs:string` value"),
            "{:?}",
            own.notes
        );
        let bool_wrong = xml("12345").replace("<OofStatus>false", "<OofStatus>maybe");
        let c = judge_one(&bool_wrong);
        assert_eq!(c.verdict, Verdict::Fail, "{c:?}");
        assert!(
            c.detail.contains("is not a `xs:boolean` value"),
            "{}",
            c.detail
        );
        // Without a type the example's text is exact, as before.
        let untyped = judge_xml(
            "s",
            "l",
            &expected,
            &canon(&xml("999")),
            &Contract::default(),
            &JudgeOptions::default(),
        );
        assert_eq!(untyped[0].verdict, Verdict::Fail);
    }

    #[test]
    fn lexical_spaces_of_the_schema_types() {
        assert!(lexical("xs:int", "-42") && !lexical("xs:int", "4.2"));
        assert!(lexical("xs:unsignedInt", "42") && !lexical("xs:unsignedInt", "-42"));
        assert!(lexical("xs:decimal", "-1.50") && !lexical("xs:decimal", "1e3"));
        assert!(lexical("xs:double", "1e3") && lexical("xs:double", "INF"));
        assert!(!lexical("xs:double", "inf") && !lexical("xs:double", "1,5"));
        assert!(lexical("xs:boolean", "0") && !lexical("xs:boolean", "True"));
        assert!(lexical("xs:string", "anything at all"));
    }

    #[test]
    fn a_named_simple_type_no_set_judges_keeps_the_example_exact() {
        let xml = |state: &str| get_call_info(state, "");
        let mut contract = Contract::default();
        contract.types = std::sync::Arc::new(
            crate::contract::TypeModel::parse(
                r#"
[elements."CallState"]
type = "UMCallState"
can_be_empty = false
provenance = { file = "um/elements/callstate-um-web-service.md", line = 32 }
"#,
            )
            .expect("model"),
        );
        let expected = PreparedXml::new(&canon(&xml("Connected")));
        let checks = judge_xml(
            "s",
            "l",
            &expected,
            &canon(&xml("Inactif")),
            &contract,
            &JudgeOptions::default(),
        );
        assert_eq!(checks[0].verdict, Verdict::Fail, "{checks:?}");
        assert!(
            checks[0]
                .detail
                .contains("CallState: expected \"Connected\", got \"Inactif\""),
            "{}",
            checks[0].detail
        );
        // With its set in the contract, the set judges it.
        let mut with_set = Contract::parse(CONTRACT).expect("contract");
        with_set.types = contract.types.clone();
        let checks = judge_xml(
            "s",
            "l",
            &expected,
            &canon(&xml("Alerted")),
            &with_set,
            &JudgeOptions::default(),
        );
        assert_eq!(checks[0].verdict, Verdict::Note, "{checks:?}");
        assert!(
            checks[0].notes[0].contains("another documented value of `CallState`"),
            "{:?}",
            checks[0].notes
        );
    }

    #[test]
    fn header_entries_the_documents_do_not_show_are_optional_unless_they_must_be_understood() {
        let with_header = |header: &str| {
            get_call_info("Connected", "").replace(
                "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\">",
                &format!(
                    "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Header>{header}</soap:Header>"
                ),
            )
        };
        let activity = r#"<ActivityId CorrelationId="5b1c" xmlns="http://schemas.microsoft.com/2004/09/ServiceModel/Diagnostics">7f3e</ActivityId>"#;
        let contract = Contract::parse(CONTRACT).expect("contract");
        let expected = PreparedXml::new(&canon(&get_call_info("Connected", "")));
        let judge_all = |xml: &str, strict: bool| {
            let opts = JudgeOptions {
                strict,
                ..JudgeOptions::default()
            };
            judge_xml("s", "l", &expected, &canon(xml), &contract, &opts)
        };
        let checks = judge_all(&with_header(activity), false);
        assert_eq!(checks[0].verdict, Verdict::Pass, "{checks:?}");
        assert_eq!(checks[1].verdict, Verdict::Warn, "{checks:?}");
        assert!(
            checks[1].detail.contains("/Envelope/Header/ActivityId"),
            "{}",
            checks[1].detail
        );
        assert_eq!(
            judge_all(&with_header(activity), true)[1].verdict,
            Verdict::Fail
        );
        let must = activity.replace("<ActivityId ", "<ActivityId soap:mustUnderstand=\"1\" ");
        let checks = judge_all(&with_header(&must), false);
        assert_eq!(checks[0].verdict, Verdict::Fail, "{checks:?}");
        assert!(
            checks[0].detail.contains("mustUnderstand"),
            "{}",
            checks[0].detail
        );
        // An empty Header is no entry at all; the Body stays exact beside a Header.
        assert_eq!(judge_all(&with_header(""), false)[0].verdict, Verdict::Pass);
        let body_changed = with_header(activity).replace("<EventCause>None", "<EventCause>Other");
        assert_eq!(judge_all(&body_changed, false)[0].verdict, Verdict::Fail);
        // A documented entry is judged like the Body: missing fails.
        let documented = PreparedXml::new(&canon(&with_header(activity)));
        let c = judge_xml(
            "s",
            "l",
            &documented,
            &canon(&get_call_info("Connected", "")),
            &contract,
            &JudgeOptions::default(),
        );
        assert_eq!(c[0].verdict, Verdict::Fail, "{c:?}");
        assert!(c[0].detail.contains("header entry"), "{}", c[0].detail);
    }

    #[test]
    fn live_and_text_elements() {
        let c = Contract::parse(CONTRACT).expect("contract");
        let doc = |id: &str| {
            canon(&format!(
                "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><PlayOnPhoneResponse xmlns=\"urn:m\"><PlayOnPhoneResponse>{id}</PlayOnPhoneResponse></PlayOnPhoneResponse></s:Body></s:Envelope>"
            ))
        };
        let expected = PreparedXml::new(&doc("MDlkZjll"));
        let checks = judge_xml(
            "s",
            "l",
            &expected,
            &doc("b3RoZXI="),
            &c,
            &JudgeOptions::default(),
        );
        assert_eq!(checks[0].verdict, Verdict::Pass);
        let fault = |s: &str| {
            canon(&format!(
                "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>{s}</faultstring></s:Fault></s:Body></s:Envelope>"
            ))
        };
        let expected = PreparedXml::new(&fault("The call is unknown."));
        let checks = judge_xml(
            "s",
            "l",
            &expected,
            &fault("Unknown call"),
            &c,
            &JudgeOptions::default(),
        );
        assert_eq!(checks[0].verdict, Verdict::Note, "{checks:?}");
    }
}
