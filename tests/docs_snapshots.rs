//! A committed snapshot proves something only if it is the documented example: for every
//! case, each snapshot must equal the canonical form of the documented body it names.

use callconform::corpus::Corpus;
use callconform::snapshot;
use std::collections::BTreeSet;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_snapshot_is_the_canonical_form_of_its_documented_example() {
    let corpus = Corpus::load(&root().join("cases")).expect("the committed cases load");
    let mut checked = 0;
    for case in &corpus.cases {
        for doc in snapshot::documented(&case.file) {
            let expected = snapshot::canonical_documented(
                case.family,
                &case.file,
                &doc,
                &corpus.errata,
                false,
            )
            .unwrap_or_else(|e| panic!("{}: {e}", case.trial_name()));
            let path = snapshot::path(&root().join("snapshots"), doc.snapshot);
            let committed = snapshot::read(&path)
                .unwrap_or_else(|e| panic!("{e}"))
                .unwrap_or_else(|| panic!("{} is missing", path.display()));
            assert_eq!(
                committed,
                expected.trim_end(),
                "{} differs from the canonical form of the documented body of {} ({})",
                path.display(),
                case.trial_name(),
                doc.step
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 4,
        "expected at least 4 documented bodies, checked {checked}"
    );
}

#[test]
fn no_snapshot_is_orphaned() {
    let corpus = Corpus::load(&root().join("cases")).expect("the committed cases load");
    let referenced: BTreeSet<String> = corpus
        .cases
        .iter()
        .flat_map(|c| snapshot::documented(&c.file))
        .map(|d| format!("{}.snap", d.snapshot))
        .collect();
    for entry in std::fs::read_dir(root().join("snapshots")).expect("snapshots/ exists") {
        let name = entry
            .expect("readable entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if name.ends_with(".snap") {
            assert!(
                referenced.contains(&name),
                "snapshots/{name} is referenced by no case"
            );
        }
    }
}

#[test]
fn the_um_snapshots_use_the_corrected_namespace() {
    // The pages print https://; the erratum makes the snapshot the form Exchange accepts.
    let text = snapshot::read(&root().join("snapshots/um__get-call-info.snap"))
        .expect("readable")
        .expect("present");
    assert!(text.contains(
        "{http://schemas.microsoft.com/exchange/services/2006/messages}GetCallInfoResponse"
    ));
    assert!(!text.contains("https://"));
}

/// A documented body is a documented media type: every step judged on its body also
/// judges its Content-Type, where the page prints the header and where it only prints a
/// JSON or XML body.
#[test]
fn every_step_with_a_documented_body_checks_its_media_type() {
    use callconform::case::BodyKind;
    let corpus = Corpus::load(&root().join("cases")).expect("the committed cases load");
    let mut judged = 0;
    for case in &corpus.cases {
        for step in case.file.steps.iter().filter(|s| !s.is_trigger()) {
            if matches!(step.expect.body, BodyKind::Json | BodyKind::Xml) {
                assert!(
                    step.expect.content_type.is_some(),
                    "{} step `{}` judges a body but not its media type",
                    case.trial_name(),
                    step.name
                );
                judged += 1;
            }
        }
    }
    assert!(judged >= 30, "only {judged} steps with bodies");
}
