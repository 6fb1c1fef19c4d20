//! `callconform extract PATH... [--out DIR] [--check]`: turns Microsoft docs pages (any
//! locale) into case files, their snapshots and the Graph end-reason table, or (with
//! `--check`) says where the committed corpus no longer matches the pages.
//!
//! Pipeline: [`markdown`] scans a page → [`pair`] groups its blocks into examples →
//! [`build`] applies the family rules → locale copies merge into one case → [`emit`]
//! writes TOML that `case::parse_case` reads back equal → `snapshot::expected_files`
//! renders the snapshots. Nothing a page documents is dropped without a diagnostic.

pub mod build;
pub mod contract;
pub mod csdl;
pub mod emit;
pub mod end_reasons;
pub mod family;
pub mod http;
pub mod markdown;
pub mod model;
pub mod pair;
pub mod relations;
pub mod repair;
pub mod um_types;

pub use end_reasons::{EndReason, is_documented, load_end_reasons};

use crate::case::{BodyKind, CaseFile};
use crate::errata::{Errata, Part};
use crate::family::Family;
use model::CaseV2;
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
    /// Family files (`_family.toml`) this run wrote because the folder had none, and
    /// set-ups the cases need that an existing family file lacks.
    pub family_files: Vec<String>,
    pub stats: Stats,
}

/// What the pages held and what became of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub pages: usize,
    /// Requests paired with a response.
    pub examples: usize,
    pub cases: usize,
    /// Notifications kept as checks (results, alternatives and triggers).
    pub notifications: usize,
    /// Element syntax and `ignored` blocks, left out on purpose.
    pub syntax_or_ignored: usize,
    /// Blocks corrected by a generated JSON erratum.
    pub repaired_blocks: Vec<String>,
    /// Cases whose sources span API versions (`v1.0` and `beta`), merged into one.
    pub merged_versions: Vec<String>,
    /// Cases kept apart because their API versions print different examples.
    pub split_versions: Vec<String>,
    pub value_sets: usize,
    /// UM elements whose text an element page types (`cases/um/_types.toml`).
    pub element_types: usize,
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
        for m in &self.family_files {
            writeln!(f, "{m}")?;
        }
        for b in &self.stats.repaired_blocks {
            writeln!(
                f,
                "printed JSON is not JSON: {b} (corrected by an erratum in cases/errata.toml)"
            )?;
        }
        for c in &self.stats.merged_versions {
            writeln!(f, "one case for v1.0 and beta: {c}")?;
        }
        for c in &self.stats.split_versions {
            writeln!(f, "named apart by API version: {c}")?;
        }
        let st = &self.stats;
        writeln!(
            f,
            "{} page(s), {} example(s), {} case(s), {} notification(s) checked, {} value set(s), \
             {} element type(s), {} syntax/ignored block(s) left out, {} block(s) corrected by errata",
            st.pages,
            st.examples,
            st.cases,
            st.notifications,
            st.value_sets,
            st.element_types,
            st.syntax_or_ignored,
            st.repaired_blocks.len()
        )?;
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
    /// The response annotation's `@odata.type` (types the response for the contract).
    response_type: Option<String>,
}

/// A case after its locale and version copies were merged.
struct Merged {
    family: Family,
    names: Vec<String>,
    file: CaseV2,
    response_type: Option<String>,
    /// Where to point diagnostics about the whole case.
    display: String,
    line: usize,
}

/// Runs `extract`. `Err` only for unusable arguments or an unreadable errata table; page
/// problems are diagnostics in the report.
pub fn run(opts: &ExtractOptions) -> Result<ExtractReport, String> {
    let (metadata_inputs, inputs): (Vec<Input>, Vec<Input>) = collect_inputs(&opts.paths)?
        .into_iter()
        .partition(|i| csdl::is_metadata(&i.rel));
    let errata_path = opts.out.join("cases").join("errata.toml");
    let existing_errata = std::fs::read_to_string(&errata_path).ok();
    let hand = family::hand_written(existing_errata.as_deref());
    let hand_errata =
        Errata::parse(&hand).map_err(|e| format!("{}: {e}", errata_path.display()))?;
    let mut report = ExtractReport::default();
    let metadata = read_metadata(&metadata_inputs, &mut report);

    let mut harvest = Harvest::default();
    for input in &inputs {
        harvest.page(input, &mut report);
    }
    let Harvest {
        groups,
        reasons,
        mut sets,
        elements,
        ..
    } = harvest;
    for set in &mut sets {
        set.added = hand_errata.added_values(set.family, &set.name);
    }
    report.stats.value_sets = sets.len();
    report.stats.element_types = elements.len();

    let mut named = settle_names(merge(groups, &hand_errata, &mut report));
    for (name, m) in &mut named {
        build::name_snapshots(&mut m.file, m.family, name);
    }
    // Printed JSON that is not JSON → generated errata.
    let generated = json_errata(&named, &mut report);
    let errata_text = family::errata_file(&hand, &generated);
    let errata =
        Errata::parse(&errata_text).map_err(|e| format!("internal: generated errata: {e}"))?;

    others_cause(&mut named);
    let mut files = ExpectedFiles::default();
    let kept = files.cases(opts, named, &sets, &errata, metadata.as_ref(), &mut report);
    if let Some(md) = &metadata {
        files.types(&kept, md);
    }
    files.um_types(&elements)?;
    let reason_source = files.end_reasons(&reasons)?;
    for family in Family::all() {
        let family_cases = FamilyCases::of(family, &kept);
        if family_cases.cases.is_empty() {
            continue;
        }
        let reason_source = (family == Family::GRAPH)
            .then(|| reason_source.clone())
            .flatten();
        files.contract(&family_cases, &mut sets, reason_source);
        for set in sets
            .iter()
            .filter(|s| s.family == family && s.contradicted.is_some())
        {
            report.diagnostics.push(Diagnostic::new(
                &set.file,
                set.line,
                format!(
                    "the values listed for `{}` ({}) lack `{}`, which an example shows: not the wire's enumeration (a translated list?); no value set taken from it",
                    set.name,
                    set.values.join(", "),
                    set.contradicted.as_deref().unwrap_or("")
                ),
            ));
        }
        family_file(opts, &family_cases, &mut report)?;
    }
    files
        .files
        .insert(PathBuf::from("cases/errata.toml"), errata_text);

    sync(opts, &files.files, &files.unknown_snapshots, &mut report)?;
    Ok(report)
}

/// What the pages yield, in input order: candidates grouped by identity (the locale and
/// version copies of one example share a group, to be merged into one case), and the
/// end reasons, value sets and UM element types found beside them, each once.
#[derive(Default)]
struct Harvest {
    groups: Vec<Vec<Found>>,
    group_of: BTreeMap<String, usize>,
    reasons: Vec<EndReason>,
    sets: Vec<contract::ValueSet>,
    /// UM element local name → the type of its text, from the first page that types it.
    elements: BTreeMap<String, crate::contract::types::ElementDef>,
}

impl Harvest {
    /// Scans one page; its diagnostics join the report in line order.
    fn page(&mut self, input: &Input, report: &mut ExtractReport) {
        let mut diags = Vec::new();
        let Some(text) = read_page(input, &mut diags) else {
            report.diagnostics.extend(diags);
            return;
        };
        report.stats.pages += 1;
        let page = markdown::parse(&text, &input.display, &mut diags);
        let (examples, skipped) = pair::pair(&page, &input.display, &mut diags);
        report.stats.syntax_or_ignored += skipped.syntax_or_ignored;
        self.lone_triggers(&page, input, &skipped.lone_triggers, &mut diags);
        report.stats.examples += examples.len();
        self.examples(&page, input, &examples, &mut diags);
        self.tables(&page, input, &mut diags);
        self.element_type(&page, input, &mut diags);
        diags.sort_by_key(|d| d.line);
        report.diagnostics.extend(diags);
    }

    /// Adds a candidate to the group of its identity, opening the group on first sight.
    fn add(&mut self, found: Found) {
        let g = *self
            .group_of
            .entry(found.candidate.key.clone())
            .or_insert_with(|| {
                self.groups.push(Vec::new());
                self.groups.len() - 1
            });
        self.groups[g].push(found);
    }

    /// Incoming-call notifications no request follows: each a case of its own.
    fn lone_triggers(
        &mut self,
        page: &markdown::Page,
        input: &Input,
        lone: &[pair::Notification],
        diags: &mut Vec<Diagnostic>,
    ) {
        for n in lone {
            let line = page.blocks[n.block].line;
            match build::lone_trigger(page, &input.rel, n) {
                Ok(candidate) => self.add(Found {
                    candidate,
                    display: input.display.clone(),
                    line,
                    response_type: None,
                }),
                Err(e) => diags.push(Diagnostic::new(
                    &input.display,
                    line,
                    format!(
                        "incoming-call notification with no request after it: {e}; not extracted"
                    ),
                )),
            }
        }
    }

    /// Request/response examples; the n-th example with one identity on a page keys as
    /// `identity|n`, so it merges with the n-th of its locale copies.
    fn examples(
        &mut self,
        page: &markdown::Page,
        input: &Input,
        examples: &[pair::Example],
        diags: &mut Vec<Diagnostic>,
    ) {
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for ex in examples {
            let line = page.blocks[ex.request].line;
            let response_type = ex.response.and_then(|r| match &page.blocks[r].annot {
                markdown::Annot::Some(a) => a.odata_type.as_ref().map(|t| {
                    if a.is_collection {
                        format!("Collection({t})")
                    } else {
                        t.clone()
                    }
                }),
                _ => None,
            });
            match build::build(page, &input.rel, &input.display, ex, diags) {
                Ok(mut candidate) => {
                    let n = seen.entry(candidate.key.clone()).or_default();
                    *n += 1;
                    candidate.key = format!("{}|{n}", candidate.key);
                    self.add(Found {
                        candidate,
                        display: input.display.clone(),
                        line,
                        response_type,
                    });
                }
                Err(reason) => diags.push(Diagnostic::new(
                    &input.display,
                    line,
                    format!("{reason}; not extracted"),
                )),
            }
        }
    }

    /// End-reason tables and value sets; a copy on another page (locale) is kept once.
    fn tables(&mut self, page: &markdown::Page, input: &Input, diags: &mut Vec<Diagnostic>) {
        for r in end_reasons::from_tables(&page.tables, &input.rel, &input.display, diags) {
            if !self
                .reasons
                .iter()
                .any(|x| x.code == r.code && x.subcodes == r.subcodes)
            {
                self.reasons.push(r);
            }
        }
        // Another page's list of the same name is kept beside the first (a locale's
        // copy may list translated words): the examples decide which is the wire's.
        for set in contract::sets_from_page(page, &input.rel) {
            if !self
                .sets
                .iter()
                .any(|x| x.family == set.family && x.name == set.name && x.values == set.values)
            {
                self.sets.push(set);
            }
        }
    }

    /// The type a UM element page gives its element's text. Another page (a locale's copy)
    /// typing it alike adds nothing; one typing it otherwise is diagnosed, the first kept.
    fn element_type(&mut self, page: &markdown::Page, input: &Input, diags: &mut Vec<Diagnostic>) {
        let Some((name, def)) = um_types::from_page(page, &input.rel, &input.display, diags) else {
            return;
        };
        match self.elements.get(&name) {
            None => {
                self.elements.insert(name, def);
            }
            Some(first) if first.ty == def.ty && first.can_be_empty == def.can_be_empty => {}
            Some(first) => diags.push(Diagnostic::new(
                &input.display,
                def.provenance.line,
                format!(
                    "`{name}` is typed `{}`{} here, `{}`{} at {}; the first is kept",
                    def.ty,
                    if def.can_be_empty { "" } else { " (not empty)" },
                    first.ty,
                    if first.can_be_empty {
                        ""
                    } else {
                        " (not empty)"
                    },
                    first.provenance
                ),
            )),
        }
    }
}

/// A case that became a file: its family, name, content and response type (for the
/// contract).
type Kept = (Family, String, CaseV2, Option<String>);

/// The files the corpus should hold (path relative to `--out` → text), and snapshots
/// that could not be rendered (so `--check` does not call the committed ones stale).
#[derive(Default)]
struct ExpectedFiles {
    files: BTreeMap<PathBuf, String>,
    unknown_snapshots: BTreeSet<PathBuf>,
}

impl ExpectedFiles {
    /// Case files and their snapshots. A case that does not read back as written, or is
    /// not valid, is a diagnostic instead of a file.
    fn cases(
        &mut self,
        opts: &ExtractOptions,
        named: Vec<(String, Merged)>,
        sets: &[contract::ValueSet],
        errata: &Errata,
        metadata: Option<&csdl::Metadata>,
        report: &mut ExtractReport,
    ) -> Vec<Kept> {
        let mut kept = Vec::new();
        for (name, mut m) in named {
            if m.family == Family::GRAPH
                && let Some(md) = metadata
            {
                declare_types(&mut m.file, m.response_type.as_deref(), md);
            }
            if m.family == Family::UM && m.file.setup.is_some() {
                progressing_sets(&mut m, sets);
            }
            m.file.relations = relations::derive(&m.file, m.family, errata);
            let rel = PathBuf::from("cases")
                .join(m.family.as_str())
                .join(format!("{name}.toml"));
            let text = emit::case_file(&m.file);
            if let Some(p) = case_problem(&opts.out.join(&rel), &rel, &text, &m.file) {
                report.diagnostics.push(Diagnostic::new(
                    &m.display,
                    m.line,
                    format!("{p}; not extracted"),
                ));
                continue;
            }
            self.snapshots(&name, &m, &rel, errata, report);
            self.files.insert(rel, text);
            report.stats.notifications += count_notifications(&m.file);
            report.stats.cases += 1;
            kept.push((m.family, name, m.file, m.response_type));
        }
        kept
    }

    /// The snapshots of one case's documented bodies.
    fn snapshots(
        &mut self,
        name: &str,
        m: &Merged,
        rel: &Path,
        errata: &Errata,
        report: &mut ExtractReport,
    ) {
        let source = rel.to_string_lossy().replace('\\', "/");
        for (step, notif, snap, text_doc, kind) in m.file.documented() {
            let rel_snap = PathBuf::from("snapshots").join(format!("{snap}.snap"));
            match render_snapshot(
                m.family,
                name,
                &m.file,
                &source,
                step,
                notif.as_deref(),
                snap,
                text_doc,
                kind,
                errata,
            ) {
                Ok(t) => {
                    self.files.insert(rel_snap, t);
                }
                Err(e) => {
                    report.diagnostics.push(Diagnostic::new(
                        &m.display,
                        m.line,
                        format!("snapshot `{snap}` cannot be rendered: {e}"),
                    ));
                    self.unknown_snapshots.insert(rel_snap);
                }
            }
        }
    }

    /// The Graph type model: the part of the metadata the corpus's bodies reach.
    fn types(&mut self, kept: &[Kept], md: &csdl::Metadata) {
        let mut roots: BTreeSet<String> = BTreeSet::new();
        for (_, _, c, _) in kept.iter().filter(|(f, ..)| *f == Family::GRAPH) {
            for s in &c.steps {
                let declared = s.expect.iter().filter_map(|e| e.ty.as_deref());
                let notified = s
                    .notifications
                    .iter()
                    .chain(s.alternatives.iter().flat_map(|a| &a.notifications))
                    .filter_map(|n| n.ty.as_deref());
                for t in declared.chain(notified) {
                    roots.insert(csdl::named_type(t).to_string());
                }
            }
            for (_, _, _, text, kind) in c.documented() {
                if kind == BodyKind::Json
                    && let Some(v) = pair::lenient_json(text)
                {
                    odata_types(&v, &mut roots);
                }
            }
        }
        let mut model = md.closure(roots.iter().map(String::as_str));
        // Properties the metadata declares nowhere but an example shows with its type.
        let mut shown = csdl::Shown::new();
        for (_, _, c, _) in kept.iter().filter(|(f, ..)| *f == Family::GRAPH) {
            let at = c
                .provenance
                .sources
                .first()
                .map(|s| crate::contract::rules::Provenance {
                    file: s.file.clone(),
                    line: s.line.unwrap_or(1),
                });
            let Some(at) = at else { continue };
            for s in &c.steps {
                let bodies = s
                    .expect
                    .iter()
                    .filter(|e| e.body == BodyKind::Json)
                    .map(|e| (e.documented.as_deref(), e.ty.as_deref()))
                    .chain(
                        s.notifications
                            .iter()
                            .chain(s.alternatives.iter().flat_map(|a| &a.notifications))
                            .map(|n| (n.documented.as_deref(), n.ty.as_deref())),
                    );
                for (text, ty) in bodies {
                    if let Some(v) = text.and_then(pair::lenient_json) {
                        csdl::shown_properties(&v, ty, &model, &at, &mut shown);
                    }
                }
            }
        }
        csdl::declare_shown(&mut model, shown);
        self.files.insert(
            PathBuf::from("cases/graph").join(crate::contract::types::FILE_NAME),
            crate::contract::types::render(
                &model,
                "The types the Graph bodies of the corpus reach, from the service's metadata\n\
                 (generated by `callconform extract`; provenance: the metadata's file and line).",
            ),
        );
    }

    /// The UM element types, when the element pages gave any.
    fn um_types(
        &mut self,
        elements: &BTreeMap<String, crate::contract::types::ElementDef>,
    ) -> Result<(), String> {
        use crate::contract::types::{self, TypeModel};
        if elements.is_empty() {
            return Ok(());
        }
        let model = TypeModel {
            elements: elements.clone(),
            ..TypeModel::default()
        };
        let text = types::render(
            &model,
            "The types of the UM elements' text, from the element pages\n\
             (generated by `callconform extract`; provenance: the page and line of the type).",
        );
        match TypeModel::parse(&text) {
            Ok(back) if back == model => {}
            _ => return Err("internal: cases/um/_types.toml does not read back as written".into()),
        }
        self.files.insert(
            PathBuf::from("cases")
                .join(Family::UM.as_str())
                .join(types::FILE_NAME),
            text,
        );
        Ok(())
    }

    /// The Graph end-reason table, when the pages had one; returns where it was found
    /// (file, line), which the contract cites for `resultInfo`.
    fn end_reasons(&mut self, reasons: &[EndReason]) -> Result<Option<(String, usize)>, String> {
        let source = reasons.first().and_then(|r| {
            let (file, line) = r.source.rsplit_once(':')?;
            Some((file.to_string(), line.parse().ok()?))
        });
        if !reasons.is_empty() {
            let text = end_reasons::render(reasons);
            end_reasons::round_trips(&text, reasons).map_err(|e| format!("internal: {e}"))?;
            self.files.insert(
                PathBuf::from("cases/graph").join(end_reasons::FILE_NAME),
                text,
            );
        }
        Ok(source)
    }

    /// A family's contract file, from the bodies of its cases.
    fn contract(
        &mut self,
        family_cases: &FamilyCases<'_>,
        sets: &mut [contract::ValueSet],
        reason_source: Option<(String, usize)>,
    ) {
        let family = family_cases.family;
        let bodies = contract::bodies_of(&family_cases.cases);
        let fields = contract::fields(family, &bodies, sets, reason_source);
        self.files.insert(
            PathBuf::from("cases")
                .join(family.as_str())
                .join(contract::FILE_NAME),
            contract::render(family, sets, &fields),
        );
    }
}

/// Marks the Graph notifications another party's event causes: those about a
/// sub-resource collection of the call (`/communications/calls/{id}/<collection>/...`)
/// into which no request of the corpus POSTs (creates or acts: an action is a POST),
/// operations aside. A participant's screen share (`contentsharingsessions`, which the
/// API only lists and gets) is the pages' case; a roster update is not (invite POSTs into
/// `participants`), nor an audio routing group (created by a POST). The trigger is named
/// after the collection.
fn others_cause(named: &mut [(String, Merged)]) {
    let mut acted_on: BTreeSet<String> = BTreeSet::new();
    for (_, m) in named.iter().filter(|(_, m)| m.family == Family::GRAPH) {
        for s in &m.file.steps {
            if s.method
                .as_deref()
                .is_some_and(|m| m.eq_ignore_ascii_case("POST"))
                && let Some(c) = s.path.as_deref().and_then(call_collection)
            {
                acted_on.insert(c);
            }
        }
    }
    for (_, m) in named.iter_mut().filter(|(_, m)| m.family == Family::GRAPH) {
        for s in &mut m.file.steps {
            if s.method.is_none() {
                continue; // a trigger step's notifications are its event's
            }
            for n in s
                .notifications
                .iter_mut()
                .chain(s.alternatives.iter_mut().flat_map(|a| &mut a.notifications))
            {
                let url = n
                    .documented
                    .as_deref()
                    .and_then(pair::lenient_json)
                    .and_then(|v| {
                        let e = v.pointer("/value/0")?;
                        e.get("resourceUrl")
                            .or_else(|| e.get("resource"))?
                            .as_str()
                            .map(str::to_string)
                    });
                if let Some(c) = url.as_deref().and_then(call_collection)
                    && c != "operations"
                    && !acted_on.contains(&c)
                {
                    n.caused_by = Some(c);
                }
            }
        }
    }
}

/// The sub-resource collection a call path goes into: `/communications/calls/{id}/x/...`
/// (or `/app/calls/...`, a case's `{{call_id}}`) → `x`.
fn call_collection(path: &str) -> Option<String> {
    let path = path.split(['?', '#']).next()?;
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let at = segs.iter().position(|s| *s == "calls")?;
    segs.get(at + 2).map(|s| s.to_ascii_lowercase())
}

/// The metadata documents among the inputs (the first one counts; another is diagnosed).
fn read_metadata(inputs: &[Input], report: &mut ExtractReport) -> Option<csdl::Metadata> {
    let mut found = None;
    for input in inputs {
        if found.is_some() {
            report.diagnostics.push(Diagnostic::new(
                &input.display,
                1,
                "a second metadata document; only the first is read".into(),
            ));
            continue;
        }
        let text = match crate::diag::read_bytes_capped(&input.path, MAX_METADATA)
            .map_err(|e| match e {
                crate::diag::ReadError::Io(e) => e.to_string(),
                crate::diag::ReadError::TooLarge(n) => {
                    format!("{n} bytes, over the {MAX_METADATA} byte limit")
                }
            })
            .and_then(|b| String::from_utf8(b).map_err(|_| "not UTF-8".to_string()))
        {
            Ok(t) => t,
            Err(e) => {
                report.diagnostics.push(Diagnostic::new(
                    &input.display,
                    1,
                    format!("metadata not read: {e}"),
                ));
                continue;
            }
        };
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        match csdl::parse(text, &input.rel) {
            Ok(m) => found = Some(m),
            Err(d) => report.diagnostics.push(d),
        }
    }
    found
}

/// A metadata document may be large (the Graph v1.0 CSDL is 3.5 MB).
const MAX_METADATA: u64 = 64 * 1024 * 1024;

/// Every `@odata.type` a body names, qualified.
fn odata_types(v: &serde_json::Value, out: &mut BTreeSet<String>) {
    match v {
        serde_json::Value::Object(o) => {
            for (k, x) in o {
                if k == "@odata.type"
                    && let Some(t) = x.as_str()
                {
                    out.insert(t.trim_start_matches('#').to_string());
                } else {
                    odata_types(x, out);
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| odata_types(x, out)),
        _ => {}
    }
}

/// Declares the root type of a Graph case's bodies: a response's from its page's
/// annotation or else its `@odata.context`, a notification's as `commsNotifications`.
fn declare_types(file: &mut CaseV2, annotated: Option<&str>, md: &csdl::Metadata) {
    const NOTIFICATIONS: &str = "microsoft.graph.commsNotifications";
    let known = |t: &str| md.types.contains_key(csdl::named_type(t));
    for s in &mut file.steps {
        if s.method.is_some()
            && let Some(e) = &mut s.expect
            && e.body == BodyKind::Json
        {
            let from_context = || {
                let v = pair::lenient_json(e.documented.as_deref()?)?;
                let ctx = v.get("@odata.context")?.as_str()?;
                md.context_type(ctx.split_once("$metadata#")?.1)
            };
            e.ty = annotated
                .map(|t| t.trim_start_matches('#').to_string())
                .filter(|t| known(t))
                .or_else(from_context)
                .filter(|t| known(t));
        }
        if known(NOTIFICATIONS) {
            for n in s
                .notifications
                .iter_mut()
                .chain(s.alternatives.iter_mut().flat_map(|a| &mut a.notifications))
            {
                n.ty = Some(NOTIFICATIONS.to_string());
            }
        }
    }
}

/// A UM case with a set-up: a documented XML body's state must progress through the
/// value set the pages document for it.
fn progressing_sets(m: &mut Merged, sets: &[contract::ValueSet]) {
    for step in &mut m.file.steps {
        if let Some(e) = &mut step.expect
            && e.body == BodyKind::Xml
            && let Some(doc) = &e.documented
        {
            e.progress = contract::progressing_set(sets, m.family, doc);
        }
    }
}

/// Why an emitted case file cannot be written, if it cannot: it must read back equal to
/// what was emitted, and be a valid case (v1 by the case parser, v2 by [`validate_v2`]).
fn case_problem(path: &Path, rel: &Path, text: &str, file: &CaseV2) -> Option<String> {
    let problem = match &model::parse(text) {
        Ok(b) if b == file => None,
        Ok(_) => Some(format!(
            "internal: {} does not read back as written",
            rel.display()
        )),
        Err(e) => Some(format!("internal: {} is not readable: {e}", rel.display())),
    };
    problem.or_else(|| {
        if file.v1() {
            crate::case::parse_case(path, text)
                .err()
                .map(|e| format!("the case is not valid ({})", e.message))
        } else {
            validate_v2(file).err()
        }
    })
}

/// The kept cases of one family.
struct FamilyCases<'k> {
    family: Family,
    kept: Vec<&'k Kept>,
    /// Content and response type, as the contract reads them.
    cases: Vec<(&'k CaseV2, Option<String>)>,
}

impl<'k> FamilyCases<'k> {
    fn of(family: Family, kept: &'k [Kept]) -> FamilyCases<'k> {
        let kept: Vec<&Kept> = kept.iter().filter(|(f, ..)| *f == family).collect();
        let cases = kept.iter().map(|(_, _, c, t)| (c, t.clone())).collect();
        FamilyCases {
            family,
            kept,
            cases,
        }
    }
}

/// The family file (`_family.toml`) holds hand-written set-ups: an existing one is kept
/// and only told about set-ups it lacks; a missing one is written with the defaults
/// (`--check`: reported missing).
fn family_file(
    opts: &ExtractOptions,
    family_cases: &FamilyCases<'_>,
    report: &mut ExtractReport,
) -> Result<(), String> {
    let family = family_cases.family;
    let fam_rel = PathBuf::from("cases")
        .join(family.as_str())
        .join("_family.toml");
    let fam_path = opts.out.join(&fam_rel);
    let needed: BTreeSet<String> = family_cases
        .kept
        .iter()
        .filter_map(|(_, _, c, _)| c.setup.clone())
        .collect();
    match std::fs::read_to_string(&fam_path) {
        Ok(text) => {
            let have = family::setups_in(&text);
            for s in needed.iter().filter(|s| !have.contains(s)) {
                let users: Vec<&str> = family_cases
                    .kept
                    .iter()
                    .filter(|(_, _, c, _)| c.setup.as_deref() == Some(s))
                    .map(|(_, n, _, _)| n.as_str())
                    .collect();
                report.family_files.push(format!(
                    "{}: has no set-up `{s}`, needed by {}; add it, or remove the file so \
                     extract writes one",
                    fam_rel.display(),
                    users.join(", ")
                ));
            }
        }
        Err(_) => {
            let text = family::default_family(family);
            if opts.check {
                report.differences.push(Difference::Missing(fam_rel));
            } else {
                crate::snapshot::write_atomic(&fam_path, &text)
                    .map_err(|e| format!("{}: cannot write: {e}", fam_path.display()))?;
                report.family_files.push(format!(
                    "wrote {} (the folder had none; set-ups: {})",
                    fam_rel.display(),
                    family::setups_in(&text).join(", ")
                ));
            }
        }
    }
    Ok(())
}

/// The checks the case format needs that serde cannot express.
fn validate_v2(c: &CaseV2) -> Result<(), String> {
    for (i, s) in c.steps.iter().enumerate() {
        let request = s.method.is_some() && s.path.is_some() && s.expect.is_some();
        if s.trigger.is_some() == request {
            return Err(format!(
                "step[{i}] ({}): a step is either a trigger or a request with method, path and expect",
                s.name
            ));
        }
        for n in s
            .notifications
            .iter()
            .chain(s.alternatives.iter().flat_map(|a| &a.notifications))
        {
            if n.state.is_none() && n.matches.is_empty() {
                return Err(format!(
                    "step[{i}] notification `{}`: give `state` or `match`",
                    n.name
                ));
            }
        }
    }
    Ok(())
}

fn count_notifications(c: &CaseV2) -> usize {
    c.steps
        .iter()
        .map(|s| {
            s.notifications.len()
                + s.alternatives
                    .iter()
                    .map(|a| {
                        // The shared prefix is counted once, with the step's own list.
                        a.notifications
                            .len()
                            .saturating_sub(s.notifications.len().saturating_sub(1))
                    })
                    .sum::<usize>()
        })
        .sum()
}

/// A snapshot file for one documented body, as `snapshot::expected_files` renders v1
/// cases (the same canonical form, errata and placeholders).
#[allow(clippy::too_many_arguments)]
fn render_snapshot(
    family: Family,
    name: &str,
    file: &CaseV2,
    source: &str,
    step: &str,
    notification: Option<&str>,
    snapshot: &str,
    text: &str,
    kind: BodyKind,
    errata: &Errata,
) -> Result<String, String> {
    let shim = CaseFile {
        setup: None,
        tags: Vec::new(),
        provenance: file.provenance.clone(),
        vars: file.vars.clone(),
        placeholders: file.placeholders.clone(),
        steps: Vec::new(),
        contract: Default::default(),
        relations: Vec::new(),
    };
    let doc = crate::snapshot::Documented {
        step,
        notification,
        snapshot,
        text,
        kind,
        redact: &[],
    };
    let what = match notification {
        Some(n) => format!("notification `{n}` after step `{step}`"),
        None => format!("response to step `{step}`"),
    };
    let description = format!("{family}::{name}: canonical form of the documented {what}");
    crate::snapshot::canonical_documented(family, &shim, &doc, errata, false)
        .map(|c| crate::snapshot::render_file(source, &description, &c))
}

/// Finds every Graph JSON text (request bodies, responses, notifications) that is not
/// JSON as printed, derives its corrections, and checks that the whole set of
/// corrections leaves valid texts alone and makes each broken one valid.
fn json_errata(cases: &[(String, Merged)], report: &mut ExtractReport) -> Vec<family::JsonErratum> {
    let mut texts: Vec<(String, Part, String, String)> = Vec::new(); // (block, part, text, case)
    for (name, m) in cases.iter().filter(|(_, m)| m.family == Family::GRAPH) {
        let src = m
            .file
            .provenance
            .sources
            .first()
            .map(|s| format!("{}:{}", s.file, s.line.unwrap_or(0)))
            .unwrap_or_default();
        for s in &m.file.steps {
            if let Some(b) = &s.body {
                texts.push((
                    src.clone(),
                    Part::Request,
                    b.clone(),
                    format!("the request of {name}"),
                ));
            }
        }
        for (step, notif, _, text, kind) in m.file.documented() {
            if kind != BodyKind::Json {
                continue;
            }
            let (part, what) = match &notif {
                Some(n) => (Part::Notification, format!("notification `{n}`")),
                None => (Part::Response, format!("response to `{step}`")),
            };
            texts.push((
                src.clone(),
                part,
                text.to_string(),
                format!("{what} of {name}"),
            ));
        }
    }
    let mut fixes = Vec::new();
    for (block, part, text, what) in &texts {
        let r = repair::repair(text);
        if !r.fixes.is_empty() {
            let kinds: BTreeSet<&str> = r.fixes.iter().map(|f| f.problem.describe()).collect();
            report.stats.repaired_blocks.push(format!(
                "{block} ({what}): {}",
                kinds.into_iter().collect::<Vec<_>>().join("; ")
            ));
        }
        for f in r.fixes {
            if f.from.contains("{{") {
                report.diagnostics.push(Diagnostic::new(
                    block,
                    f.line,
                    "the JSON correction would span a `{{variable}}`; not corrected".into(),
                ));
                continue;
            }
            fixes.push((block.clone(), *part, f));
        }
    }
    let generated = family::group(&fixes);
    // The whole table, applied as the runner applies it, to every text.
    for (block, part, text, what) in &texts {
        let block = &format!("{block} ({what})");
        let mut t = text.clone();
        for e in generated.iter().filter(|e| e.parts.contains(part)) {
            t = t.replace(&e.from, &e.to);
        }
        let valid_before = serde_json::from_str::<serde_json::Value>(text).is_ok();
        let valid_after = serde_json::from_str::<serde_json::Value>(&t).is_ok();
        if valid_before && t != *text {
            report.diagnostics.push(Diagnostic::new(
                block,
                1,
                "a generated JSON erratum would change this valid JSON; check cases/errata.toml"
                    .into(),
            ));
        } else if !valid_after {
            report.diagnostics.push(Diagnostic::new(
                block,
                1,
                "printed JSON is not JSON and the generated errata do not make it JSON; sent as printed".into(),
            ));
        }
    }
    generated
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
            || csdl::is_metadata(&name)
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

/// What identifies an example's content across copies: the case without its sources,
/// with the errata applied (a seed printed before a documentation fix is the same
/// example as the fixed page).
fn content(c: &build::Candidate, errata: &Errata) -> CaseV2 {
    let mut f = c.file.clone();
    f.provenance.sources.clear();
    f.provenance.documented_url = None;
    for s in &mut f.steps {
        if let Some(b) = &mut s.body {
            *b = errata.apply_text(c.family, Part::Request, b);
        }
        if let Some(e) = &mut s.expect
            && let Some(d) = &mut e.documented
        {
            *d = errata.apply_text(c.family, Part::Response, d);
        }
        for n in s.notifications.iter_mut().chain(
            s.alternatives
                .iter_mut()
                .flat_map(|a| a.notifications.iter_mut()),
        ) {
            if let Some(d) = &mut n.documented {
                *d = errata.apply_text(c.family, Part::Notification, d);
            }
        }
    }
    f
}

/// Locale copies of one example become one case listing every source. A copy whose
/// example differs (an outdated translation) is diagnosed, and the version most copies
/// agree on is kept (on a tie, the one the errata leave as printed, then the first).
/// Copies from different API versions (`v1.0`, `beta`) that print the same example are
/// one case; where they differ, each version is its own case, named apart.
fn merge(groups: Vec<Vec<Found>>, errata: &Errata, report: &mut ExtractReport) -> Vec<Merged> {
    let mut out = Vec::new();
    for members in groups {
        let mut variants: Vec<(CaseV2, Vec<usize>)> = Vec::new();
        for (i, m) in members.iter().enumerate() {
            let f = content(&m.candidate, errata);
            match variants.iter_mut().find(|(v, _)| *v == f) {
                Some((_, idx)) => idx.push(i),
                None => variants.push((f, vec![i])),
            }
        }
        let version_of = |idx: &[usize]| -> BTreeSet<Option<String>> {
            idx.iter()
                .map(|&i| members[i].candidate.version.clone())
                .collect()
        };
        let by_version = variants.len() > 1 && {
            let vs: Vec<BTreeSet<Option<String>>> =
                variants.iter().map(|(_, i)| version_of(i)).collect();
            vs.iter().all(|v| v.len() == 1) && vs.iter().collect::<BTreeSet<_>>().len() == vs.len()
        };
        let keep_sets: Vec<Vec<usize>> = if variants.len() <= 1 || by_version {
            variants.iter().map(|(_, i)| i.clone()).collect()
        } else {
            let as_printed = |idx: &[usize]| {
                let m = &members[idx[0]].candidate;
                let mut raw = m.file.clone();
                raw.provenance.sources.clear();
                raw.provenance.documented_url = None;
                raw == content(m, errata)
            };
            let best = (0..variants.len())
                .max_by_key(|&v| {
                    (
                        variants[v].1.len(),
                        as_printed(&variants[v].1),
                        std::cmp::Reverse(v),
                    )
                })
                .unwrap_or(0);
            let first = &members[variants[best].1[0]];
            for (v, (_, idx)) in variants.iter().enumerate() {
                if v == best {
                    continue;
                }
                for &i in idx {
                    report.diagnostics.push(Diagnostic::new(
                        &members[i].display,
                        members[i].line,
                        format!(
                            "example `{}` differs from its copy in {}:{}, which more copies agree with; \
                             this copy is not extracted",
                            first.candidate.file.provenance.example, first.display, first.line
                        ),
                    ));
                }
            }
            vec![variants[best].1.clone()]
        };
        for keep in keep_sets {
            let Some(&k0) = keep.first() else { continue };
            let m0 = &members[k0];
            let mut file = m0.candidate.file.clone();
            file.provenance.sources = keep
                .iter()
                .flat_map(|&i| members[i].candidate.file.provenance.sources.clone())
                .collect();
            let versions = version_of(&keep);
            let label = format!("{} ({}:{})", file.provenance.example, m0.display, m0.line);
            if by_version {
                report.stats.split_versions.push(label);
            } else if versions.len() > 1 {
                report.stats.merged_versions.push(label);
            }
            let mut names = m0.candidate.names.clone();
            if by_version {
                // Named apart: the version-suffixed names come first.
                names.sort_by_key(|n| !(n.ends_with("-v1-0") || n.ends_with("-beta")));
            }
            out.push(Merged {
                family: m0.candidate.family,
                names,
                file,
                response_type: m0.response_type.clone(),
                display: m0.display.clone(),
                line: m0.line,
            });
        }
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
                    || name == contract::FILE_NAME
                    || name == crate::contract::types::FILE_NAME
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
