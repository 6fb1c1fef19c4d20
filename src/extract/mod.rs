//! `callconform extract PATH... [--out DIR] [--check]`: turns Microsoft docs pages (any
//! locale) into case files, their snapshots and the Graph end-reason table, or (with
//! `--check`) says where the committed corpus no longer matches the pages.
//!
//! Pipeline: [`markdown`] scans a page → [`pair`] groups its blocks into examples →
//! [`build`] applies the family rules → locale copies merge into one case → [`emit`]
//! writes TOML that `case::parse_case` reads back equal → `snapshot::expected_files`
//! renders the snapshots. Nothing a page documents is dropped without a diagnostic.

pub mod build;
pub mod emit;
pub mod end_reasons;
pub mod http;
pub mod markdown;
pub mod pair;

pub use end_reasons::{EndReason, is_documented, load_end_reasons};

use crate::case::{Case, CaseFile, Family};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

/// What `callconform extract` was asked to do.
#[derive(Debug, Clone)]
pub struct ExtractOptions {
    /// Pages or folders of pages (`.md`, `.markdown`, `.txt`, searched recursively).
    pub paths: Vec<PathBuf>,
    /// The project root holding `cases/` and `snapshots/`.
    pub out: PathBuf,
    /// Compare with what is committed and write nothing.
    pub check: bool,
}

/// Something on a page that did not become (part of) a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    pub line: usize,
    pub reason: String,
}

impl Diagnostic {
    pub fn new(file: &str, line: usize, reason: String) -> Diagnostic {
        Diagnostic {
            file: file.to_string(),
            line,
            reason,
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.reason)
    }
}

/// A way the committed corpus differs from what the pages produce (`--check`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    Missing(PathBuf),
    /// With a short unified diff, committed → extracted.
    Changed(PathBuf, String),
    /// A committed case or snapshot the pages no longer produce.
    Extra(PathBuf),
}

impl Difference {
    pub fn path(&self) -> &Path {
        match self {
            Difference::Missing(p) | Difference::Changed(p, _) | Difference::Extra(p) => p,
        }
    }
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Difference::Missing(p) => write!(f, "missing: {} (the pages produce it)", p.display()),
            Difference::Changed(p, diff) => write!(f, "changed: {}\n{diff}", p.display()),
            Difference::Extra(p) => {
                write!(f, "extra: {} (the pages no longer produce it)", p.display())
            }
        }
    }
}

/// The outcome of a run. Paths are relative to `ExtractOptions::out`.
#[derive(Debug, Clone, Default)]
pub struct ExtractReport {
    pub diagnostics: Vec<Diagnostic>,
    /// Files written (created or changed); empty with `--check`.
    pub written: Vec<PathBuf>,
    /// Files that already had the extracted content.
    pub unchanged: Vec<PathBuf>,
    /// With `--check`: every difference from the committed corpus.
    pub differences: Vec<Difference>,
    /// Without `--check`: committed cases and snapshots these pages do not produce. They
    /// are left alone (the run may have been given only some pages); `--check` fails on them.
    pub stale: Vec<PathBuf>,
}

impl ExtractReport {
    /// True when every example became a case and (with `--check`) nothing differs.
    pub fn ok(&self) -> bool {
        self.diagnostics.is_empty() && self.differences.is_empty()
    }
}

impl fmt::Display for ExtractReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.diagnostics {
            writeln!(f, "{d}")?;
        }
        for p in &self.written {
            writeln!(f, "wrote {}", p.display())?;
        }
        for p in &self.stale {
            writeln!(
                f,
                "stale: {} (not produced by these pages; delete it if the docs dropped it)",
                p.display()
            )?;
        }
        for d in &self.differences {
            writeln!(f, "{d}")?;
        }
        write!(
            f,
            "{} written, {} unchanged, {} difference(s), {} diagnostic(s)",
            self.written.len(),
            self.unchanged.len(),
            self.differences.len(),
            self.diagnostics.len()
        )
    }
}

/// Pages larger than this are not docs pages.
const MAX_PAGE: u64 = 8 * 1024 * 1024;

/// One input page: where it is, its name relative to the PATH it was found under
/// (what provenance records), and how diagnostics name it.
struct Input {
    path: PathBuf,
    rel: String,
    display: String,
}

/// A candidate and the page line it came from.
struct Found {
    candidate: build::Candidate,
    display: String,
    line: usize,
}

/// A case after its locale copies were merged.
struct Merged {
    family: Family,
    names: Vec<String>,
    file: CaseFile,
    /// Where to point diagnostics about the whole case.
    display: String,
    line: usize,
}

/// Runs `extract`. `Err` only for unusable arguments or an unreadable errata table; page
/// problems are diagnostics in the report.
pub fn run(opts: &ExtractOptions) -> Result<ExtractReport, String> {
    let inputs = collect_inputs(&opts.paths)?;
    let cases_root = opts.out.join("cases");
    let errata =
        crate::errata::Errata::load(&cases_root.join("errata.toml")).map_err(|e| e.to_string())?;
    let mut report = ExtractReport::default();

    // Pages → candidates, in input order.
    let mut groups: Vec<Vec<Found>> = Vec::new();
    let mut group_of: BTreeMap<String, usize> = BTreeMap::new();
    let mut reasons: Vec<EndReason> = Vec::new();
    for input in &inputs {
        let mut diags = Vec::new();
        let Some(text) = read_page(input, &mut diags) else {
            report.diagnostics.extend(diags);
            continue;
        };
        let page = markdown::parse(&text, &input.display, &mut diags);
        let examples = pair::pair(&page, &input.display, &mut diags);
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for ex in &examples {
            let line = page.blocks[ex.request].line;
            match build::build(&page, &input.rel, ex) {
                Ok(mut c) => {
                    // The n-th example with this identity on the page.
                    let n = seen.entry(c.key.clone()).or_default();
                    *n += 1;
                    c.key = format!("{}|{n}", c.key);
                    let g = *group_of.entry(c.key.clone()).or_insert_with(|| {
                        groups.push(Vec::new());
                        groups.len() - 1
                    });
                    groups[g].push(Found {
                        candidate: c,
                        display: input.display.clone(),
                        line,
                    });
                }
                Err(reason) => diags.push(Diagnostic::new(
                    &input.display,
                    line,
                    format!("{reason}; not extracted"),
                )),
            }
        }
        for r in end_reasons::from_tables(&page.tables, &input.rel, &input.display, &mut diags) {
            if !reasons
                .iter()
                .any(|x| x.code == r.code && x.subcodes == r.subcodes)
            {
                reasons.push(r);
            }
        }
        diags.sort_by_key(|d| d.line);
        report.diagnostics.extend(diags);
    }

    let merged = merge(groups, &mut report.diagnostics);
    let named = settle_names(merged);

    // Cases and snapshots → the files the corpus should hold.
    let mut expected: BTreeMap<PathBuf, String> = BTreeMap::new();
    let mut unknown_snapshots: BTreeSet<PathBuf> = BTreeSet::new();
    for (name, mut m) in named {
        build::name_snapshots(&mut m.file, m.family, &name);
        let rel = PathBuf::from("cases")
            .join(m.family.as_str())
            .join(format!("{name}.toml"));
        let path = opts.out.join(&rel);
        let text = emit::case_file(&m.file);
        match crate::case::parse_case(&path, &text) {
            Ok(back) if back == m.file => {}
            Ok(_) => {
                report.diagnostics.push(Diagnostic::new(
                    &m.display,
                    m.line,
                    format!(
                        "internal: {} does not read back as written; not extracted",
                        rel.display()
                    ),
                ));
                continue;
            }
            Err(e) => {
                report.diagnostics.push(Diagnostic::new(
                    &m.display,
                    m.line,
                    format!("the case is not valid ({}); not extracted", e.message),
                ));
                continue;
            }
        }
        let case = Case {
            family: m.family,
            name: name.clone(),
            path,
            file: m.file,
        };
        for (snap, result) in crate::snapshot::expected_files(&case, &errata, &cases_root) {
            let rel = PathBuf::from("snapshots").join(format!("{snap}.snap"));
            match result {
                Ok(text) => {
                    expected.insert(rel, text);
                }
                Err(e) => {
                    report.diagnostics.push(Diagnostic::new(
                        &m.display,
                        m.line,
                        format!("snapshot `{snap}` cannot be rendered: {e}"),
                    ));
                    unknown_snapshots.insert(rel);
                }
            }
        }
        expected.insert(rel, text);
    }
    if !reasons.is_empty() {
        let text = end_reasons::render(&reasons);
        end_reasons::round_trips(&text, &reasons).map_err(|e| format!("internal: {e}"))?;
        expected.insert(
            PathBuf::from("cases/graph").join(end_reasons::FILE_NAME),
            text,
        );
    }

    sync(opts, &expected, &unknown_snapshots, &mut report)?;
    Ok(report)
}

/// Writes (or with `--check` compares) the expected files, and lists committed files the
/// pages no longer produce. A snapshot that could not be rendered is neither compared
/// nor called extra: its diagnostic already says why.
fn sync(
    opts: &ExtractOptions,
    expected: &BTreeMap<PathBuf, String>,
    unknown: &BTreeSet<PathBuf>,
    report: &mut ExtractReport,
) -> Result<(), String> {
    let committed = committed_files(&opts.out);
    for (rel, text) in expected {
        let path = opts.out.join(rel);
        let old = std::fs::read_to_string(&path).ok();
        if old.as_deref() == Some(text.as_str()) {
            report.unchanged.push(rel.clone());
        } else if opts.check {
            report.differences.push(match old {
                None => Difference::Missing(rel.clone()),
                Some(old) => Difference::Changed(rel.clone(), short_diff(&old, text)),
            });
        } else {
            crate::snapshot::write_atomic(&path, text)
                .map_err(|e| format!("{}: cannot write: {e}", path.display()))?;
            report.written.push(rel.clone());
        }
    }
    for rel in committed {
        if expected.contains_key(&rel) || unknown.contains(&rel) {
            continue;
        }
        if opts.check {
            report.differences.push(Difference::Extra(rel));
        } else {
            report.stale.push(rel);
        }
    }
    Ok(())
}

/// The pages under the given paths, each folder's files sorted by relative path so the
/// output does not depend on directory order.
fn collect_inputs(paths: &[PathBuf]) -> Result<Vec<Input>, String> {
    if paths.is_empty() {
        return Err("give at least one page or folder of pages".into());
    }
    let mut out: Vec<Input> = Vec::new();
    let mut seen = BTreeSet::new();
    for root in paths {
        let meta = std::fs::metadata(root).map_err(|e| format!("{}: {e}", root.display()))?;
        let mut found: Vec<(String, PathBuf)> = Vec::new();
        if meta.is_dir() {
            walk(root, root, &mut found).map_err(|e| format!("{}: {e}", root.display()))?;
            found.sort();
        } else {
            let name = root
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| root.display().to_string());
            found.push((name, root.clone()));
        }
        for (rel, path) in found {
            let key = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
            if seen.insert(key) {
                out.push(Input {
                    display: path.display().to_string(),
                    path,
                    rel,
                });
            }
        }
    }
    Ok(out)
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(root, &path, out)?;
        } else if kind.is_file()
            && path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                matches!(e.to_ascii_lowercase().as_str(), "md" | "markdown" | "txt")
            })
        {
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            out.push((rel, path));
        }
    }
    Ok(())
}

fn read_page(input: &Input, diags: &mut Vec<Diagnostic>) -> Option<String> {
    let fail = |diags: &mut Vec<Diagnostic>, reason: String| {
        diags.push(Diagnostic::new(&input.display, 1, reason));
        None
    };
    match std::fs::metadata(&input.path) {
        Ok(m) if m.len() > MAX_PAGE => {
            return fail(
                diags,
                format!(
                    "page is {} bytes, over the {MAX_PAGE} byte limit; not read",
                    m.len()
                ),
            );
        }
        Err(e) => return fail(diags, format!("cannot read: {e}")),
        Ok(_) => {}
    }
    match std::fs::read(&input.path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(s) => Some(s),
            Err(_) => fail(diags, "page is not UTF-8; not read".into()),
        },
        Err(e) => fail(diags, format!("cannot read: {e}")),
    }
}

/// Locale copies of one example become one case listing every source. A copy whose
/// example differs (an outdated translation) is diagnosed, and the version most copies
/// agree on is kept (the first one on a tie).
fn merge(groups: Vec<Vec<Found>>, diags: &mut Vec<Diagnostic>) -> Vec<Merged> {
    let mut out = Vec::new();
    for members in groups {
        let content = |c: &build::Candidate| {
            let mut f = c.file.clone();
            f.provenance.sources.clear();
            f
        };
        let mut variants: Vec<(CaseFile, Vec<usize>)> = Vec::new();
        for (i, m) in members.iter().enumerate() {
            let f = content(&m.candidate);
            match variants.iter_mut().find(|(v, _)| *v == f) {
                Some((_, idx)) => idx.push(i),
                None => variants.push((f, vec![i])),
            }
        }
        let best = (0..variants.len())
            .rev()
            .max_by_key(|&v| variants[v].1.len())
            .unwrap_or(0);
        let Some((mut file, keep)) = variants.get(best).cloned() else {
            continue;
        };
        let Found {
            candidate: first,
            display,
            line,
        } = &members[keep[0]];
        for (v, (_, idx)) in variants.iter().enumerate() {
            if v == best {
                continue;
            }
            for &i in idx {
                diags.push(Diagnostic::new(
                    &members[i].display,
                    members[i].line,
                    format!(
                        "example `{}` differs from its copy in {}:{}, which more copies agree with; \
                         this copy is not extracted",
                        first.file.provenance.example, display, line
                    ),
                ));
            }
        }
        file.provenance.sources = keep
            .iter()
            .flat_map(|&i| members[i].candidate.file.provenance.sources.clone())
            .collect();
        out.push(Merged {
            family: first.family,
            names: first.names.clone(),
            file,
            display: display.clone(),
            line: *line,
        });
    }
    out
}

/// Gives every case a distinct name within its family: each takes its first choice, and
/// cases that collide move on to their next choice (`delete-call` → `delete-call-1` →
/// `delete-call-1-beta`), then get a number.
fn settle_names(cases: Vec<Merged>) -> Vec<(String, Merged)> {
    let mut level = vec![0usize; cases.len()];
    let choice = |i: usize, level: &[usize]| {
        let names = &cases[i].names;
        names[level[i].min(names.len() - 1)].clone()
    };
    loop {
        let mut count: BTreeMap<(Family, String), usize> = BTreeMap::new();
        for (i, c) in cases.iter().enumerate() {
            *count.entry((c.family, choice(i, &level))).or_default() += 1;
        }
        let mut moved = false;
        for (i, c) in cases.iter().enumerate() {
            if count[&(c.family, choice(i, &level))] > 1 && level[i] + 1 < c.names.len() {
                level[i] += 1;
                moved = true;
            }
        }
        if !moved {
            break;
        }
    }
    let mut taken: BTreeSet<(Family, String)> = BTreeSet::new();
    let mut out = Vec::new();
    for (i, m) in cases.iter().enumerate() {
        let base = choice(i, &level);
        let mut name = base.clone();
        let mut k = 2;
        while !taken.insert((m.family, name.clone())) {
            name = format!("{base}-{k}");
            k += 1;
        }
        out.push(name);
    }
    out.into_iter().zip(cases).collect()
}

/// The files `extract` owns under `out`: case files (not `_family.toml` or other `_`
/// files, which are hand-written), the end-reason table, and snapshots.
fn committed_files(out: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for family in Family::all() {
        let rel_dir = PathBuf::from("cases").join(family.as_str());
        let Ok(rd) = std::fs::read_dir(out.join(&rel_dir)) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let ours = name.ends_with(".toml")
                && (!name.starts_with('_')
                    || (family == Family::GRAPH && name == end_reasons::FILE_NAME));
            if ours && e.path().is_file() {
                files.push(rel_dir.join(name));
            }
        }
    }
    if let Ok(rd) = std::fs::read_dir(out.join("snapshots")) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".snap") && e.path().is_file() {
                files.push(PathBuf::from("snapshots").join(name));
            }
        }
    }
    files.sort();
    files
}

/// A unified diff of at most 40 lines, committed (`-`) → extracted (`+`).
fn short_diff(old: &str, new: &str) -> String {
    let diff = similar::TextDiff::from_lines(old, new);
    let text = diff
        .unified_diff()
        .context_radius(2)
        .header("committed", "extracted")
        .to_string();
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() <= 40 {
        return text;
    }
    let mut s = lines[..40].join("\n");
    s.push_str(&format!("\n… ({} more diff lines)\n", lines.len() - 40));
    s
}
