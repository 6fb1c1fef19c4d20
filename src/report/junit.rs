//! JUnit XML for CI test tabs: one `<testsuite>` per family, one `<testcase>` per case.
//! Expectations are applied, so a known failure shows green with a note and a listed case
//! that passes shows red.

use super::{CaseResult, CaseStatus, Outcome, RunSummary, headline, prepare, redact};
use crate::results::Judgement;
use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};
use std::collections::BTreeMap;

/// Renders the report. Never fails: should serialization fail, a minimal document naming
/// the error is returned instead, so CI still gets a parseable file.
pub fn render(results: &[CaseResult], summary: &RunSummary) -> String {
    let (results, summary) = prepare(results, summary);
    let mut report = Report::new("callconform");
    report.set_time(summary.duration);

    let mut families: BTreeMap<&str, Vec<&CaseResult>> = BTreeMap::new();
    for r in &results {
        families.entry(r.family.as_str()).or_default().push(r);
    }
    let notes_family = if families.contains_key("graph") {
        Some("graph")
    } else {
        families.keys().next().copied()
    };
    for (family, cases) in &families {
        let mut suite = TestSuite::new(*family);
        match summary.targets.get(*family) {
            Some(url) => suite.add_property(Property::new("target", url.as_str())),
            None if !summary.target.is_empty() => {
                suite.add_property(Property::new("target", summary.target.as_str()))
            }
            None => &mut suite,
        };
        if let Some(t) = &summary.started {
            suite.add_property(Property::new("started", t.as_str()));
        }
        if let Some(f) = &summary.expectations_file {
            suite.add_property(Property::new("expectations", f.as_str()));
        }
        suite.set_time(cases.iter().map(|c| c.duration).sum());
        for r in cases {
            suite.add_test_case(test_case(r, &summary));
        }
        if Some(*family) == notes_family {
            let mut err = String::new();
            for n in &summary.listener_notes {
                err.push_str(&format!("listener: {n}\n"));
            }
            for w in &summary.warnings {
                err.push_str(&format!("warning: {w}\n"));
            }
            if !err.is_empty() {
                suite.set_system_err(err);
            }
        }
        report.add_test_suite(suite);
    }
    let xml = match report.to_string() {
        Ok(x) => x,
        Err(e) => format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"callconform\" tests=\"0\" failures=\"0\" errors=\"1\">\n<!-- cannot serialize the JUnit report: {} -->\n</testsuites>\n",
            e.to_string().replace("--", "- -")
        ),
    };
    redact(&xml, &summary.secrets)
}

fn test_case(r: &CaseResult, summary: &RunSummary) -> TestCase {
    let j = summary.judgement(r);
    let status = match CaseStatus::of(r, &j) {
        CaseStatus::Pass | CaseStatus::PassWithNotes | CaseStatus::ExpectedFail => {
            TestCaseStatus::success()
        }
        CaseStatus::Ignored => {
            let mut s = TestCaseStatus::skipped();
            if let Outcome::Ignored(why) = &r.outcome {
                s.set_message(why.as_str());
            }
            s
        }
        CaseStatus::UnexpectedPass => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(headline(r, &j)).set_type("unexpected-pass");
            if let Judgement::UnexpectedPass { note, .. } = &j {
                s.set_description(note.as_str());
            }
            s
        }
        CaseStatus::Fail => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(headline(r, &j))
                .set_type("check-failure")
                .set_description(super::failure_text(r));
            s
        }
        kind @ (CaseStatus::Unreachable | CaseStatus::Error) => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
            s.set_message(headline(r, &j))
                .set_type(if kind == CaseStatus::Unreachable {
                    "unreachable"
                } else {
                    "cannot-run"
                })
                .set_description(super::failure_text(r));
            s
        }
    };
    let mut tc = TestCase::new(r.name.as_str(), status);
    tc.set_classname(r.family.as_str()).set_time(r.duration);
    tc.add_property(Property::new("file", r.file.as_str()));
    tc.add_property(Property::new("operation", r.operation.as_str()));

    let mut out = String::new();
    if let Judgement::ExpectedFail { reason } = &j {
        out.push_str(&format!(
            "expected failure (listed in {}): {reason}\n\n",
            summary
                .expectations_file
                .as_deref()
                .unwrap_or("the expectations")
        ));
        out.push_str(&super::failure_text(r));
    }
    for (c, n) in r.notes_shown(&j) {
        out.push_str(&format!("note: {} on {}: {n}\n", c.name(), c.subject));
    }
    for w in r.warnings() {
        out.push_str(&format!(
            "warning: {} on {}: {}\n",
            w.name(),
            w.subject,
            w.detail
        ));
    }
    for s in &r.steps {
        for i in &s.ignored {
            out.push_str(&format!("ignored: step `{}`: {i}\n", s.name));
        }
    }
    for s in &r.steps {
        for w in &s.written {
            out.push_str(&format!("snapshot written: {w}\n"));
        }
    }
    if !out.is_empty() {
        tc.set_system_out(out);
    }
    tc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures;
    use quick_xml::events::Event;

    /// (element name, attributes) of every start/empty element, via quick-xml.
    fn elements(xml: &str) -> Vec<(String, BTreeMap<String, String>)> {
        let mut reader = quick_xml::Reader::from_str(xml);
        let mut out = Vec::new();
        loop {
            match reader.read_event() {
                Ok(Event::Start(e)) | Ok(Event::Empty(e)) => {
                    let name = e.name().as_ref().to_owned();
                    let mut attrs = BTreeMap::new();
                    for a in e.attributes() {
                        let a = a.expect("well-formed attribute");
                        let v = a
                            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .expect("attribute value");
                        attrs.insert(a.key.as_ref().to_owned(), v.into_owned());
                    }
                    out.push((name, attrs));
                }
                Ok(Event::Eof) => break,
                Ok(_) => {}
                Err(e) => panic!("not XML: {e}\n{xml}"),
            }
        }
        out
    }

    fn attr<'a>(el: &'a (String, BTreeMap<String, String>), k: &str) -> &'a str {
        el.1.get(k).map(String::as_str).unwrap_or("")
    }

    #[test]
    fn parses_as_xml_with_the_right_counts() {
        let (results, summary) = fixtures::results();
        let xml = render(&results, &summary);
        let els = elements(&xml);
        let root = &els[0];
        assert_eq!(root.0, "testsuites");
        assert_eq!(attr(root, "tests"), "8");
        // get-call-info fails; get-call-info-2 unexpectedly passed.
        assert_eq!(attr(root, "failures"), "2");
        assert_eq!(attr(root, "errors"), "2");
        assert_eq!(attr(root, "skipped"), "1");

        let suites: Vec<_> = els.iter().filter(|e| e.0 == "testsuite").collect();
        assert_eq!(suites.len(), 2);
        let graph = suites
            .iter()
            .find(|s| attr(s, "name") == "graph")
            .expect("graph");
        assert_eq!(
            (
                attr(graph, "tests"),
                attr(graph, "failures"),
                attr(graph, "errors"),
                attr(graph, "skipped")
            ),
            ("4", "0", "2", "1")
        );
        let um = suites.iter().find(|s| attr(s, "name") == "um").expect("um");
        assert_eq!((attr(um, "tests"), attr(um, "failures")), ("4", "2"));

        let cases: Vec<_> = els.iter().filter(|e| e.0 == "testcase").collect();
        assert_eq!(cases.len(), 8);
        assert!(
            cases
                .iter()
                .any(|c| attr(c, "name") == "um::get-call-info" && attr(c, "classname") == "um")
        );

        let failures: Vec<_> = els.iter().filter(|e| e.0 == "failure").collect();
        assert!(
            failures
                .iter()
                .any(|f| attr(f, "message") == "failed checks: status, snapshot")
        );
        assert!(failures.iter().any(|f| attr(f, "message")
            == "unexpectedly passed (listed in expectations as failing: TICKET-14)"));
        let skipped = els.iter().find(|e| e.0 == "skipped").expect("skipped");
        assert_eq!(attr(skipped, "message"), "no Graph target");
        let errors: Vec<_> = els.iter().filter(|e| e.0 == "error").collect();
        assert!(
            errors
                .iter()
                .any(|e| attr(e, "message").starts_with("target unreachable"))
        );
    }

    #[test]
    fn failure_text_and_expected_failure_notes_are_in_the_body() {
        let (results, summary) = fixtures::results();
        let xml = render(&results, &summary);
        // The failure text (diff and the request) is the <failure> text node.
        assert!(xml.contains("check `snapshot` failed on Step1:"), "{xml}");
        assert!(xml.contains("request:"), "{xml}");
        assert!(xml.contains("expected failure (listed in known.toml): TICKET-13"));
        assert!(xml.contains("warning: undocumented-fields on Step1"));
        // quick-junit's own reader agrees on the counts.
        let back = Report::deserialize_from_str(&xml).expect("quick-junit parses it");
        assert_eq!(
            (back.tests, back.failures, back.errors, back.skipped),
            (8, 2, 2, 1)
        );
    }

    #[test]
    fn notes_go_to_system_out_of_a_passing_testcase() {
        let (results, summary) = fixtures::results_with_notes();
        let xml = render(&results, &summary);
        let back = Report::deserialize_from_str(&xml).expect("quick-junit parses it");
        assert_eq!(
            (back.tests, back.failures, back.errors),
            (results.len(), 0, 0)
        );
        let cases: Vec<&TestCase> = back
            .test_suites
            .iter()
            .flat_map(|s| s.test_cases.iter())
            .collect();
        let out = |name: &str| {
            cases
                .iter()
                .find(|c| c.name.as_str() == name)
                .and_then(|c| c.system_out.as_ref())
                .map(|o| o.to_string())
                .unwrap_or_default()
        };
        let del = out("graph::delete-call");
        assert!(
            del.contains(&format!(
                "note: snapshot on Step1 › terminated: {}",
                fixtures::NOTE_7000
            )),
            "{del}"
        );
        assert_eq!(del.lines().filter(|l| l.starts_with("note: ")).count(), 2);
        assert!(!out("um::get-call-info").contains("note:"), "silenced");
    }
}
