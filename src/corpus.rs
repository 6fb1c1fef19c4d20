//! The one corpus loader. Everything under `cases/` goes through here with one validation
//! pass, whether the whole corpus is loaded or, under nextest's `--exact NAME`, one case:
//! the errata table, each family's `_family.toml` and data tables, and the case files.
//! A file it does not recognise is an error, not skipped: a typo in a file name must not
//! quietly drop a case.

use crate::case::{BodyKind, Case, FamilyFile, Setup, parse_case, parse_family};
use crate::compare::Prepared;
use crate::contract::{Contract, EndReasons};
use crate::diag::{CaseError, read_capped, valid_var_name};
use crate::errata::Errata;
use crate::family::Family;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The errata table at the corpus root.
pub const ERRATA: &str = "errata.toml";
/// A family's set-ups and default variables.
pub const FAMILY_FILE: &str = "_family.toml";
/// A family's documented value sets and field classes.
pub const CONTRACT_FILE: &str = "_contract.toml";

/// What a run loads: the whole corpus, or the one case a trial name points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    All,
    /// `family::name`: only that case file is read (nextest runs one process per trial).
    One(&'a str),
}

/// A case the corpus knows by its file name: enough to name its trial and find its file.
/// The case itself is read when its trial runs (see [`Corpus::index_scope`]), so a run
/// holds one parsed case per running trial, not the whole corpus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseRef {
    pub family: Family,
    pub name: Box<str>,
}

impl CaseRef {
    /// `{family}::{name}`, the trial name under libtest and nextest.
    pub fn trial_name(&self) -> String {
        format!("{}::{}", self.family, self.name)
    }

    /// `root/<family>/<name>.toml`.
    pub fn path(&self, root: &Path) -> PathBuf {
        root.join(self.family.as_str())
            .join(format!("{}.toml", self.name))
    }
}

#[derive(Debug, Clone, Default)]
pub struct Corpus {
    pub root: PathBuf,
    /// Every case file, in family then name order.
    pub index: Vec<CaseRef>,
    /// The parsed cases, in the order of `index`, when the corpus was loaded whole
    /// ([`Corpus::load`]); empty when cases are read as their trials run.
    pub cases: Vec<Case>,
    pub families: BTreeMap<Family, FamilyFile>,
    pub errata: Errata,
    /// The documented call-end reasons (`_end-reasons.toml`), for the families that have them.
    pub reasons: EndReasons,
    /// Each family's value sets and field classes (`_contract.toml`); none: all exact.
    pub contracts: BTreeMap<Family, Arc<Contract>>,
}

/// A snapshot's canonical text, prepared for judging.
pub fn prepare(text: &str, kind: BodyKind) -> Result<Prepared, String> {
    match kind {
        BodyKind::Xml => Ok(Prepared::xml(text)),
        _ => Prepared::json(text),
    }
}

impl Corpus {
    /// Loads and parses every case under `root/<family>/`. Errors are collected, not fatal
    /// one by one, so a user sees every broken file at once.
    pub fn load(root: &Path) -> Result<Corpus, Vec<CaseError>> {
        Corpus::load_scope(root, Scope::All)
    }

    /// Loads only the case `trial` (`family::name`) names, with the same validation;
    /// `Ok(None)` when no such case file exists.
    pub fn load_one(root: &Path, trial: &str) -> Result<Option<Corpus>, Vec<CaseError>> {
        let c = Corpus::load_scope(root, Scope::One(trial))?;
        Ok((!c.cases.is_empty()).then_some(c))
    }

    /// A corpus of cases made in memory (tests, benchmarks), indexed in their order.
    pub fn with_cases(cases: Vec<Case>) -> Corpus {
        Corpus {
            index: cases
                .iter()
                .map(|c| CaseRef {
                    family: c.family,
                    name: c.name.as_str().into(),
                })
                .collect(),
            cases,
            ..Corpus::default()
        }
    }

    /// [`Corpus::index_scope`], then every indexed case read and validated now.
    pub fn load_scope(root: &Path, scope: Scope<'_>) -> Result<Corpus, Vec<CaseError>> {
        let mut corpus = Corpus::index_scope(root, scope)?;
        let mut errors = Vec::new();
        let mut cases = Vec::with_capacity(corpus.index.len());
        for r in &corpus.index {
            match corpus.read_case(r) {
                Ok(c) => cases.push(c),
                Err(e) => errors.push(e),
            }
        }
        corpus.cases = cases;
        if errors.is_empty() {
            Ok(corpus)
        } else {
            Err(errors)
        }
    }

    /// The corpus without its cases parsed: the errata, each family's files and the name of
    /// every case file. What is wrong with the corpus as a whole (an unknown file or family
    /// directory, a broken family file) is an error now; what is wrong inside one case file
    /// is that case's error when [`Corpus::read_case`] reads it.
    pub fn index_scope(root: &Path, scope: Scope<'_>) -> Result<Corpus, Vec<CaseError>> {
        if !root.is_dir() {
            return Err(vec![err(root, "case directory not found")]);
        }
        let mut loader = Loader {
            corpus: Corpus {
                root: root.to_owned(),
                ..Corpus::default()
            },
            errors: Vec::new(),
        };
        loader.errata(&root.join(ERRATA));
        match scope {
            Scope::All => loader.all(root),
            Scope::One(trial) => loader.one(root, trial),
        }
        if loader.errors.is_empty() {
            Ok(loader.corpus)
        } else {
            Err(loader.errors)
        }
    }

    /// Reads, parses and validates one case: its file, the set-up it names, and its own
    /// field classes merged into its family's contract. The one validation of a case file,
    /// whether the corpus is loaded whole or case by case.
    pub fn read_case(&self, r: &CaseRef) -> Result<Case, CaseError> {
        let path = r.path(&self.root);
        let file = read_capped(&path).and_then(|t| parse_case(&path, &t))?;
        if let Some(setup) = &file.setup {
            let known = self
                .families
                .get(&r.family)
                .is_some_and(|f| f.setup.contains_key(setup));
            if !known {
                return Err(err(
                    &path,
                    format!(
                        "field `setup`: no set-up `{setup}` in {}/{FAMILY_FILE}",
                        r.family
                    ),
                ));
            }
        }
        let contract = if file.contract.fields.is_empty() {
            None
        } else {
            let family = self.contracts.get(&r.family).cloned().unwrap_or_default();
            let merged = family
                .merge(&file.contract.fields)
                .map_err(|m| err(&path, format!("[[contract.field]]: {m}")))?;
            Some(Arc::new(merged))
        };
        Ok(Case {
            family: r.family,
            name: r.name.to_string(),
            path,
            file,
            contract,
        })
    }

    /// Case `i` of the index: the parsed one when the corpus was loaded whole, else read now.
    pub fn case(&self, i: usize) -> Result<std::borrow::Cow<'_, Case>, CaseError> {
        match self.cases.get(i) {
            Some(c) => Ok(std::borrow::Cow::Borrowed(c)),
            None => {
                let r = self
                    .index
                    .get(i)
                    .ok_or_else(|| err(&self.root, format!("no case number {i} in this corpus")))?;
                self.read_case(r).map(std::borrow::Cow::Owned)
            }
        }
    }

    pub fn setup_for(&self, case: &Case) -> Option<&Setup> {
        let name = case.file.setup.as_ref()?;
        self.families.get(&case.family)?.setup.get(name)
    }

    /// The contract a case is judged by: its family's, with the case's own field classes.
    pub fn contract_for(&self, case: &Case) -> Arc<Contract> {
        if let Some(c) = &case.contract {
            return c.clone();
        }
        self.contracts
            .get(&case.family)
            .cloned()
            .unwrap_or_default()
    }

    pub fn family_vars(&self, family: Family) -> Option<&BTreeMap<String, String>> {
        self.families.get(&family).map(|f| &f.vars)
    }
}

fn err(path: &Path, message: impl Into<String>) -> CaseError {
    CaseError {
        path: path.to_owned(),
        message: message.into(),
    }
}

struct Loader {
    corpus: Corpus,
    errors: Vec<CaseError>,
}

impl Loader {
    fn errata(&mut self, path: &Path) {
        if path.exists() {
            match Errata::load(path) {
                Ok(e) => self.corpus.errata = e,
                Err(e) => self.errors.push(e),
            }
        }
    }

    fn all(&mut self, root: &Path) {
        let entries = match sorted_entries(root) {
            Ok(e) => e,
            Err(e) => return self.errors.push(e),
        };
        for (path, is_dir) in entries {
            let name = file_name(&path);
            if is_dir {
                match Family::parse(&name) {
                    Some(f) => self.family_dir(f, &path),
                    None => self.errors.push(err(
                        &path,
                        format!(
                            "no family named `{name}` is registered (known: {}); rename or remove the directory",
                            Family::names()
                        ),
                    )),
                }
            } else if name != ERRATA {
                self.errors.push(err(
                    &path,
                    format!(
                        "not a corpus file: the corpus root holds `{ERRATA}` and one directory per family ({})",
                        Family::names()
                    ),
                ));
            }
        }
    }

    fn family_dir(&mut self, family: Family, dir: &Path) {
        self.family_files(family, dir);
        let entries = match sorted_entries(dir) {
            Ok(e) => e,
            Err(e) => return self.errors.push(e),
        };
        for (path, _) in entries {
            let name = file_name(&path);
            if matches!(
                name.as_str(),
                FAMILY_FILE
                    | CONTRACT_FILE
                    | crate::contract::end_reasons::FILE_NAME
                    | crate::contract::types::FILE_NAME
            ) {
                continue;
            }
            match case_stem(&path) {
                Some(stem) => self.corpus.index.push(CaseRef {
                    family,
                    name: stem.into(),
                }),
                None => self.errors.push(err(
                    &path,
                    "not a case file: case files are `<name>.toml` with letters, digits, `-` and `_` \
                     (family files start with `_`: _family.toml, _contract.toml, _types.toml, _end-reasons.toml)",
                )),
            }
        }
    }

    /// The family file and data tables of one family directory.
    fn family_files(&mut self, family: Family, dir: &Path) {
        let fam_path = dir.join(FAMILY_FILE);
        if fam_path.exists() {
            match read_capped(&fam_path).and_then(|t| parse_family(&fam_path, &t)) {
                Ok(f) => {
                    self.corpus.families.insert(family, f);
                }
                Err(e) => self.errors.push(e),
            }
        }
        let contract = dir.join(CONTRACT_FILE);
        if contract.exists() {
            match Contract::load(&contract) {
                Ok(c) => {
                    self.corpus.contracts.insert(family, Arc::new(c));
                }
                Err(e) => self.errors.push(e),
            }
        }
        let types = dir.join(crate::contract::types::FILE_NAME);
        if types.exists() {
            match crate::contract::TypeModel::load(&types) {
                Ok(t) => {
                    let c = self.corpus.contracts.entry(family).or_default();
                    Arc::make_mut(c).types = Arc::new(t);
                }
                Err(e) => self.errors.push(e),
            }
        }
        let reasons = dir.join(crate::contract::end_reasons::FILE_NAME);
        if reasons.exists() {
            match EndReasons::load(&reasons) {
                Ok(r) => self.corpus.reasons.reasons.extend(r.reasons),
                Err(e) => self.errors.push(e),
            }
        }
    }

    fn one(&mut self, root: &Path, trial: &str) {
        let Some((fam, name)) = trial.split_once("::") else {
            return;
        };
        let (Some(family), true) = (Family::parse(fam), valid_var_name(name)) else {
            return;
        };
        let dir = root.join(family.as_str());
        if dir.join(format!("{name}.toml")).is_file() {
            self.family_files(family, &dir);
            self.corpus.index.push(CaseRef {
                family,
                name: name.into(),
            });
        }
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A directory's entries, sorted, each with whether it is a directory (from the listing's
/// file type, following a symbolic link only when the listing cannot tell).
fn sorted_entries(dir: &Path) -> Result<Vec<(PathBuf, bool)>, CaseError> {
    let rd = std::fs::read_dir(dir).map_err(|e| err(dir, format!("cannot list: {e}")))?;
    let mut v: Vec<(PathBuf, bool)> = rd
        .filter_map(|e| {
            let e = e.ok()?;
            let path = e.path();
            let is_dir = match e.file_type() {
                Ok(t) if t.is_symlink() => path.is_dir(),
                Ok(t) => t.is_dir(),
                Err(_) => path.is_dir(),
            };
            Some((path, is_dir))
        })
        .collect();
    v.sort_unstable_by(|a, b| a.0.as_os_str().cmp(b.0.as_os_str()));
    Ok(v)
}

/// Case files are `<name>.toml` whose name is a valid case name (not starting with `_`).
fn case_stem(path: &Path) -> Option<String> {
    if path.extension()? != "toml" {
        return None;
    }
    let stem = path.file_stem()?.to_str()?;
    if stem.starts_with('_') || !valid_var_name(stem) {
        return None;
    }
    Some(stem.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "callconform-corpus-{tag}-{}-{:?}",
            std::process::id(),
            std::time::Instant::now()
        ));
        std::fs::create_dir_all(d.join("um")).expect("mkdir");
        d
    }

    const CASE: &str = "[provenance]\nexample = \"X\"\n\n[[step]]\nname = \"s\"\nmethod = \"POST\"\npath = \"/x\"\n[step.expect]\nstatus = 200\nbody = \"any\"\n";

    #[test]
    fn unrecognised_files_are_errors_naming_them() {
        let d = scratch("unknown");
        std::fs::write(d.join("um/good.toml"), CASE).expect("write");
        std::fs::write(d.join("um/bad name.toml"), CASE).expect("write");
        std::fs::write(d.join("um/notes.txt"), "x").expect("write");
        std::fs::create_dir_all(d.join("sip")).expect("mkdir");
        std::fs::write(d.join("README"), "x").expect("write");
        let errs = Corpus::load(&d).unwrap_err();
        let all: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        let text = all.join("\n");
        assert!(text.contains("bad name.toml: not a case file"), "{text}");
        assert!(text.contains("notes.txt: not a case file"), "{text}");
        assert!(text.contains("no family named `sip`"), "{text}");
        assert!(text.contains("README: not a corpus file"), "{text}");
        assert_eq!(errs.len(), 4, "{text}");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn one_case_is_validated_like_the_whole_corpus() {
        let d = scratch("one");
        let with_setup = format!("setup = \"nope\"\n{CASE}");
        std::fs::write(d.join("um/x.toml"), &with_setup).expect("write");
        let whole = Corpus::load(&d).unwrap_err();
        let one = Corpus::load_one(&d, "um::x").unwrap_err();
        assert_eq!(whole, one, "both paths give the same error");
        assert!(one[0].message.contains("no set-up `nope`"), "{one:?}");
        assert!(matches!(Corpus::load_one(&d, "um::missing"), Ok(None)));
        assert!(matches!(Corpus::load_one(&d, "um::../x"), Ok(None)));
        let _ = std::fs::remove_dir_all(&d);
    }
}
