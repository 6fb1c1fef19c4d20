//! The coverage table: each documented operation, the page it comes from, its cases and
//! what they check. Generated from the corpus (`callconform coverage`), so the README's
//! table is a rendering of the cases, not a list kept by hand.

use crate::case::Case;
use crate::corpus::Corpus;
use std::collections::BTreeMap;

/// One row: an operation of one family.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Row {
    pages: Vec<String>,
    cases: Vec<String>,
    notifications: usize,
    alternatives: usize,
    triggers: usize,
}

/// The operation a case documents: the page's api_name, else its request line.
fn operation(case: &Case) -> String {
    if let Some(api) = &case.file.provenance.api_name {
        return api.clone();
    }
    case.file
        .steps
        .iter()
        .find(|s| !s.is_trigger())
        .map(|s| format!("{} {}", s.method, s.path.replace("{{call_id}}", "{id}")))
        .unwrap_or_else(|| case.file.provenance.example.clone())
}

/// The Markdown table, one row per (family, operation), in family then operation order.
pub fn table(corpus: &Corpus) -> String {
    let mut rows: BTreeMap<(String, String), Row> = BTreeMap::new();
    for case in &corpus.cases {
        let row = rows
            .entry((case.family.to_string(), operation(case)))
            .or_default();
        for s in &case.file.provenance.sources {
            let page = s.file.rsplit('/').next().unwrap_or(&s.file).to_owned();
            if !row.pages.contains(&page) {
                row.pages.push(page);
            }
        }
        row.cases.push(case.trial_name());
        for step in &case.file.steps {
            row.notifications += step.notifications.len();
            row.alternatives += step.alternatives.len();
            row.triggers += usize::from(step.is_trigger());
        }
    }
    let mut out = String::from(
        "| family | operation | pages | cases | notifications checked | alternative outcomes | incoming-call triggers |\n|---|---|---|---|---|---|---|\n",
    );
    for ((family, op), r) in &rows {
        let cases: Vec<String> = r.cases.iter().map(|c| format!("`{c}`")).collect();
        out.push_str(&format!(
            "| {family} | `{}` | {} | {} | {} | {} | {} |\n",
            op.replace('|', "\\|"),
            r.pages.join(", "),
            cases.join(" "),
            r.notifications,
            r.alternatives,
            r.triggers
        ));
    }
    out.push_str(&format!(
        "\n{} operations, {} cases.\n",
        rows.len(),
        corpus.cases.len()
    ));
    out
}
