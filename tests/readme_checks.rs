//! The README's table of checks and the code's `CheckId` list cannot drift apart.

use callconform::results::CheckId;

#[test]
fn readme_lists_exactly_the_check_ids() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md is readable");
    let begin = readme
        .find("<!-- checks:begin -->")
        .expect("checks:begin marker");
    let end = readme
        .find("<!-- checks:end -->")
        .expect("checks:end marker");
    let listed: Vec<&str> = readme[begin..end]
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once('`').map(|(name, _)| name))
        .collect();
    let code: Vec<&str> = CheckId::ALL.iter().map(|c| c.name()).collect();
    assert_eq!(
        listed, code,
        "README checks table vs CheckId::ALL (same order)"
    );
}

#[test]
fn readme_coverage_table_is_the_corpus() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md is readable");
    let begin = readme
        .find("<!-- coverage:begin -->")
        .expect("coverage:begin marker");
    let end = readme
        .find("<!-- coverage:end -->")
        .expect("coverage:end marker");
    let shown = readme[begin + "<!-- coverage:begin -->".len()..end].trim();
    let corpus =
        callconform::corpus::Corpus::load(&root.join("cases")).expect("the committed cases load");
    let table = callconform::coverage::table(&corpus);
    assert_eq!(
        shown,
        table.trim(),
        "README coverage table is stale: paste `callconform coverage` between the markers"
    );
}
