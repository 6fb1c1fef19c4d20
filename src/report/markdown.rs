//! A conformance matrix for people (PR comments, job summaries): one row per documented
//! operation, then the failure text of every failing case under its own anchor.

use super::{
    CaseResult, CaseStatus, Outcome, RunSummary, Totals, failing_check_names, prepare, redact,
};
use crate::results::Judgement;
use std::collections::{BTreeMap, BTreeSet};

fn symbol(s: CaseStatus) -> &'static str {
    match s {
        CaseStatus::Pass => "✅",
        CaseStatus::PassWithNotes => "✅⚠️",
        CaseStatus::Ignored => "⏭",
        CaseStatus::ExpectedFail => "⚠️",
        CaseStatus::Unreachable => "🔌",
        CaseStatus::Fail | CaseStatus::UnexpectedPass | CaseStatus::Error => "❌",
    }
}

fn label(s: CaseStatus) -> &'static str {
    match s {
        CaseStatus::Pass => "✅ pass",
        CaseStatus::PassWithNotes => "✅ pass with notes",
        CaseStatus::Ignored => "⏭ ignored",
        CaseStatus::ExpectedFail => "⚠️ expected fail",
        CaseStatus::Unreachable => "🔌 unreachable",
        CaseStatus::Fail => "❌ fail",
        CaseStatus::UnexpectedPass => "❌ unexpected pass",
        CaseStatus::Error => "❌ cannot run",
    }
}

/// How much a status weighs when cases share a row: the row shows the worst.
fn severity(s: CaseStatus) -> u8 {
    match s {
        CaseStatus::Ignored => 0,
        CaseStatus::Pass => 1,
        CaseStatus::PassWithNotes => 2,
        CaseStatus::ExpectedFail => 3,
        CaseStatus::Unreachable => 4,
        CaseStatus::Fail => 5,
        CaseStatus::UnexpectedPass => 6,
        CaseStatus::Error => 7,
    }
}

/// Text safe inside a table cell or list item: no row or column breaks, no raw HTML.
/// Backticks stay, so `names` still render as code.
fn cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' | '\r' => out.push(' '),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '|' => out.push_str("\\|"),
            c => out.push(c),
        }
    }
    out
}

/// A fence longer than any backtick run in `text`, so the text cannot close it.
fn fence_for(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    "`".repeat((longest + 1).max(3))
}

/// `um::get-call-info` → `case-um-get-call-info`: stable ids for the detail anchors.
fn slug(name: &str) -> String {
    let mut out = String::from("case-");
    let mut dash = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
            dash = false;
        } else if !dash {
            out.push('-');
            dash = true;
        }
    }
    out.trim_end_matches('-').to_owned()
}

fn format_duration(d: std::time::Duration) -> String {
    let s = d.as_secs_f64();
    if s < 1.0 {
        format!("{:.0} ms", s * 1000.0)
    } else {
        format!("{s:.1} s")
    }
}

/// A case with its judgement and the status the report shows for it.
type Judged<'r> = (&'r CaseResult, Judgement, CaseStatus);

/// Renders the Markdown report.
pub fn render(results: &[CaseResult], summary: &RunSummary) -> String {
    let (results, summary) = prepare(results, summary);
    let judged: Vec<Judged<'_>> = results
        .iter()
        .map(|r| {
            let j = summary.judgement(r);
            let s = CaseStatus::of(r, &j);
            (r, j, s)
        })
        .collect();
    let anchors = anchors(&judged);
    let mut out = String::from("# Conformance report\n\n");
    header(&mut out, &results, &summary);
    matrix(&mut out, &judged, &anchors);
    notes_section(&mut out, &summary);
    if !anchors.is_empty() {
        out.push_str("\n## Details\n");
        for (r, j, s) in &judged {
            if let Some(a) = anchors.get(r.name.as_str()) {
                details(&mut out, r, j, *s, a);
            }
        }
    }
    redact(&out, &summary.secrets)
}

/// Anchors for failing cases and cases with notes, unique even if two names slug alike.
fn anchors<'r>(judged: &[Judged<'r>]) -> BTreeMap<&'r str, String> {
    let mut anchors: BTreeMap<&str, String> = BTreeMap::new();
    let mut used = BTreeSet::new();
    for (r, _, s) in judged {
        if s.is_failure() || *s == CaseStatus::PassWithNotes {
            let base = slug(&r.name);
            let mut a = base.clone();
            let mut n = 2;
            while !used.insert(a.clone()) {
                a = format!("{base}-{n}");
                n += 1;
            }
            anchors.insert(&r.name, a);
        }
    }
    anchors
}

/// The verdict with the totals, then what was run against, when and for how long.
fn header(out: &mut String, results: &[CaseResult], summary: &RunSummary) {
    let totals = Totals::of(results, summary);
    let verdict = if summary.fails_run(results) {
        "❌ nonconformant"
    } else {
        "✅ conformant"
    };
    out.push_str(&format!("**{verdict}** — {}\n\n", cell(&totals.line())));
    if !summary.target.is_empty() {
        out.push_str(&format!("- {}\n", cell(&summary.target)));
    }
    if !summary.targets.is_empty() {
        let t: Vec<String> = summary
            .targets
            .iter()
            .map(|(f, u)| format!("{f}: `{}`", u.replace('`', "")))
            .collect();
        out.push_str(&format!("- Targets: {}\n", t.join(", ")));
    }
    if let Some(s) = &summary.started {
        out.push_str(&format!("- Started: {}\n", cell(s)));
    }
    out.push_str(&format!(
        "- Duration: {}\n",
        format_duration(summary.duration)
    ));
    if let Some(f) = &summary.expectations_file {
        out.push_str(&format!(
            "- Known failures from: `{}`\n",
            f.replace('`', "")
        ));
    }
    out.push('\n');
}

/// The matrix: one row per (family, operation), showing the worst status of its cases.
fn matrix(out: &mut String, judged: &[Judged<'_>], anchors: &BTreeMap<&str, String>) {
    let mut rows: BTreeMap<(&str, &str), Vec<usize>> = BTreeMap::new();
    for (i, (r, _, _)) in judged.iter().enumerate() {
        rows.entry((r.family.as_str(), r.operation.as_str()))
            .or_default()
            .push(i);
    }
    out.push_str("| Family | Operation | Cases | Result | Failing checks | Notes |\n");
    out.push_str("|---|---|---|---|---|---|\n");
    for ((family, operation), idx) in &rows {
        let row: Vec<&Judged<'_>> = idx.iter().map(|&i| &judged[i]).collect();
        let worst = row
            .iter()
            .map(|(_, _, s)| *s)
            .max_by_key(|s| severity(*s))
            .unwrap_or(CaseStatus::Pass);
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            cell(family),
            cell(operation),
            row_cases(&row, worst, anchors).join(", "),
            label(worst),
            row_failing_checks(&row, worst).join(", "),
            row_notes_marker(&row, anchors)
        ));
    }
}

/// A row's cases, each linked to its details when it has some; when the statuses are
/// mixed, each carries its own symbol.
fn row_cases(
    row: &[&Judged<'_>],
    worst: CaseStatus,
    anchors: &BTreeMap<&str, String>,
) -> Vec<String> {
    let mixed = row.iter().any(|(_, _, s)| *s != worst);
    row.iter()
        .map(|(r, _, s)| {
            let short = r.name.split_once("::").map_or(r.name.as_str(), |(_, n)| n);
            let mut c = match anchors.get(r.name.as_str()) {
                Some(a) => format!("[{}](#{a})", cell(short)),
                None => cell(short),
            };
            if mixed {
                c.push(' ');
                c.push_str(symbol(*s));
            }
            c
        })
        .collect()
}

/// What went wrong in a row, each once: the failing checks, or the reason a case did not
/// run (an ignored case's reason only when the whole row is ignored).
fn row_failing_checks(row: &[&Judged<'_>], worst: CaseStatus) -> Vec<String> {
    let mut notes: Vec<String> = Vec::new();
    for (r, _, s) in row {
        let add: Vec<String> = match s {
            CaseStatus::Fail => {
                let names = failing_check_names(r);
                if names.is_empty() {
                    vec!["step error".to_owned()]
                } else {
                    names.iter().map(|n| n.to_string()).collect()
                }
            }
            CaseStatus::ExpectedFail => failing_check_names(r)
                .iter()
                .map(|n| format!("{n} (expected)"))
                .collect(),
            CaseStatus::UnexpectedPass => vec!["unexpectedly passed".to_owned()],
            CaseStatus::Unreachable => vec!["unreachable".to_owned()],
            CaseStatus::Error => vec!["cannot run".to_owned()],
            CaseStatus::Ignored => match &r.outcome {
                Outcome::Ignored(why) if worst == CaseStatus::Ignored => vec![why.clone()],
                _ => vec![],
            },
            CaseStatus::Pass | CaseStatus::PassWithNotes => vec![],
        };
        for a in add {
            if !notes.contains(&a) {
                notes.push(a);
            }
        }
    }
    notes.iter().map(|n| cell(n)).collect()
}

/// ⚠️ and the count of notes shown, linking to the first noted case's details.
fn row_notes_marker(row: &[&Judged<'_>], anchors: &BTreeMap<&str, String>) -> String {
    let mut noted = 0;
    let mut first_noted = None;
    for (r, j, _) in row {
        let n = r.notes_shown(j).count();
        if n > 0 && first_noted.is_none() {
            first_noted = anchors.get(r.name.as_str());
        }
        noted += n;
    }
    match (noted, first_noted) {
        (0, _) => String::new(),
        (n, Some(a)) => format!("[⚠️ {n}](#{a})"),
        (n, None) => format!("⚠️ {n}"),
    }
}

/// Notes about the run itself: the webhook listener's, and warnings.
fn notes_section(out: &mut String, summary: &RunSummary) {
    if summary.listener_notes.is_empty() && summary.warnings.is_empty() {
        return;
    }
    out.push_str("\n## Notes\n\n");
    for n in &summary.listener_notes {
        out.push_str(&format!("- webhook listener: {}\n", cell(n)));
    }
    for w in &summary.warnings {
        out.push_str(&format!("- {}\n", cell(w)));
    }
}

/// One case's details under its anchor: headline, notes, and its failure text fenced so
/// the text cannot break out of the block.
fn details(out: &mut String, r: &CaseResult, j: &Judgement, s: CaseStatus, a: &str) {
    out.push_str(&format!(
        "\n<a id=\"{a}\" name=\"{a}\"></a>\n### {} {}\n\n",
        symbol(s),
        cell(&r.name)
    ));
    out.push_str(&format!(
        "`{}` — {}\n",
        r.file.replace('`', ""),
        cell(&super::headline(r, j))
    ));
    if let Judgement::UnexpectedPass { note, .. } = j {
        out.push_str(&format!("\n{}\n", cell(note)));
    }
    let notes: Vec<String> = r
        .notes_shown(j)
        .map(|(c, n)| format!("- ⚠️ `{}` on {}: {}\n", c.name(), cell(&c.subject), cell(n)))
        .collect();
    if !notes.is_empty() {
        out.push_str("\nNotes:\n\n");
        out.extend(notes);
    }
    let text = super::failure_text(r);
    if !text.trim().is_empty() {
        let f = fence_for(&text);
        out.push_str(&format!("\n{f}text\n{}", text));
        if !text.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&f);
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures;

    fn table_rows(md: &str) -> Vec<&str> {
        md.lines()
            .filter(|l| l.starts_with("| ") && !l.starts_with("| Family"))
            .collect()
    }

    #[test]
    fn one_row_per_operation() {
        let (results, summary) = fixtures::results();
        let md = render(&results, &summary);
        let rows = table_rows(&md);
        // 8 cases, 7 (family, operation) pairs: the two GetCallInfo cases share a row, as
        // do graph::delete-call and graph::broken.
        assert_eq!(rows.len(), 6, "{md}");
        let gci = rows
            .iter()
            .find(|r| r.contains("| GetCallInfo |"))
            .expect("GetCallInfo row");
        assert!(
            gci.contains("[get-call-info](#case-um-get-call-info) ❌"),
            "{gci}"
        );
        assert!(gci.contains("❌ unexpected pass"), "{gci}");
        assert!(
            gci.contains("status, snapshot, unexpectedly passed"),
            "{gci}"
        );
        let ok = rows
            .iter()
            .find(|r| r.contains("PlayOnPhone"))
            .expect("row");
        assert!(ok.contains("✅ pass"), "{ok}");
        let disc = rows.iter().find(|r| r.contains("Disconnect")).expect("row");
        assert!(disc.contains("⚠️ expected fail") && disc.contains("snapshot (expected)"));
        let ign = rows.iter().find(|r| r.contains("reject")).expect("row");
        assert!(
            ign.contains("⏭ ignored") && ign.contains("no Graph target"),
            "{ign}"
        );
        let del = rows.iter().find(|r| r.contains("| delete |")).expect("row");
        assert!(
            del.contains("❌ cannot run") && del.contains("unreachable"),
            "{del}"
        );
    }

    #[test]
    fn matrix_links_resolve_to_detail_anchors() {
        let (results, summary) = fixtures::results();
        let md = render(&results, &summary);
        for link in md.split("](#").skip(1) {
            let id = link.split(')').next().unwrap_or("");
            assert!(md.contains(&format!("<a id=\"{id}\"")), "dangling #{id}");
        }
        assert!(md.contains("check `snapshot` failed on Step1:"));
        assert!(md.starts_with("# Conformance report\n\n**❌ nonconformant**"));
    }

    #[test]
    fn cells_and_fences_cannot_break_the_layout() {
        assert_eq!(cell("a|b\nc<d>"), "a\\|b c&lt;d&gt;");
        assert_eq!(fence_for("no ticks"), "```");
        assert_eq!(fence_for("a ```` b"), "`````");
        assert_eq!(slug("um::Get Call"), "case-um-get-call");
    }

    #[test]
    fn notes_get_a_marker_and_are_listed_in_the_details() {
        let (results, summary) = fixtures::results_with_notes();
        let md = render(&results, &summary);
        assert!(md.contains("| Notes |"), "{md}");
        let rows = table_rows(&md);
        let del = rows.iter().find(|r| r.contains("| delete |")).expect("row");
        assert!(del.contains("✅ pass with notes"), "{del}");
        assert!(
            del.ends_with("| [⚠️ 2](#case-graph-delete-call) |"),
            "{del}"
        );
        let gci = rows
            .iter()
            .find(|r| r.contains("GetCallInfo"))
            .expect("row");
        assert!(gci.contains("✅ pass |") && !gci.contains('⚠'), "{gci}");
        assert!(md.contains("<a id=\"case-graph-delete-call\""), "{md}");
        assert!(
            md.contains("- ⚠️ `snapshot` on Step1 › terminated: /value/0/resourceData/resultInfo: resultInfo 200/7000"),
            "{md}"
        );
        assert!(
            !md.contains("Alerted"),
            "a silenced note is not shown:\n{md}"
        );
        assert!(md.starts_with("# Conformance report\n\n**✅ conformant**"));
    }
}
