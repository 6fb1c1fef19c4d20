//! Snapshots: insta `.snap` files in one flat directory shared by the binary and the test
//! target. A committed snapshot is the canonical form of the *documented* example; the
//! runner reads it, never rewrites it unless asked, and writes atomically when it does.

use crate::canon::{self, Limits};
use crate::case::{BodyKind, Case, CaseFile};
use crate::errata::{Errata, Part};
use crate::family::Family;
use std::path::{Path, PathBuf};

/// A snapshot is the canonical form of one documented body: far below this.
const MAX_SNAPSHOT: u64 = 64 * 1024 * 1024;

pub fn path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.snap"))
}

/// Why a case cannot be judged when the snapshot it names is not there.
pub fn missing_message(snapshot: &str, trial: &str) -> String {
    format!(
        "snapshot `{snapshot}` of {trial} does not exist: run `callconform extract` on the documentation, or `callconform run --bless` against a trusted implementation"
    )
}

/// Reads a snapshot's text (insta's normalisation: trailing whitespace trimmed).
/// `Ok(None)` when the file does not exist.
pub fn read(path: &Path) -> Result<Option<String>, String> {
    use crate::diag::ReadError;
    let raw = match crate::diag::read_bytes_capped(path, MAX_SNAPSHOT) {
        Ok(raw) => raw,
        Err(ReadError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(ReadError::Io(e)) => return Err(format!("{}: cannot read: {e}", path.display())),
        Err(ReadError::TooLarge(n)) => {
            return Err(format!(
                "{}: {n} bytes, over the {MAX_SNAPSHOT} byte limit for snapshots",
                path.display()
            ));
        }
    };
    if let Some(text) = std::str::from_utf8(&raw).ok().and_then(plain_text_contents) {
        return Ok(Some(text));
    }
    let snap = insta::Snapshot::from_file(path)
        .map_err(|e| format!("{}: not a readable insta snapshot: {e}", path.display()))?;
    let text = snap.contents().as_text().ok_or_else(|| {
        format!(
            "{}: binary snapshot where text was expected",
            path.display()
        )
    })?;
    Ok(Some(text.to_string()))
}

/// The contents of a snapshot file as insta reads them, for the files this project writes:
/// a `---` header of `key: value` lines with JSON-quoted or plain values, then text.
/// `None` for anything else (binary kind, other YAML), which insta itself then reads.
/// Insta's YAML parser costs more than the rest of a case's checks.
fn plain_text_contents(file: &str) -> Option<String> {
    let rest = file.strip_prefix("---\n")?;
    let mut offset = 0;
    let mut body = None;
    for line in rest.split_inclusive('\n') {
        offset += line.len();
        let l = line.trim_end();
        if l == "---" {
            body = Some(&rest[offset..]);
            break;
        }
        let (key, value) = l.split_once(": ")?;
        let known = matches!(key, "source" | "description" | "expression" | "input_file");
        let plain = !value.is_empty()
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_./-".contains(&b));
        let quoted = value.starts_with('"')
            && serde_json::from_str::<String>(value).is_ok_and(|v| !v.contains(['\r', '\n']));
        if !known || !(plain || quoted) {
            return None;
        }
    }
    // insta joins the lines (`BufRead::lines` drops `\n` and `\r\n`), then trims the end.
    let lines: Vec<&str> = body?
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    Some(lines.join("\n").trim_end().to_owned())
}

/// Renders a `.snap` file in insta's format. The header names the case file so
/// `cargo insta review` shows where a snapshot comes from.
pub fn render_file(source: &str, description: &str, contents: &str) -> String {
    format!(
        "---\nsource: {}\ndescription: {}\n---\n{}\n",
        yaml_str(source),
        yaml_str(description),
        contents.trim_end()
    )
}

fn yaml_str(s: &str) -> String {
    // A JSON string is a valid YAML double-quoted scalar.
    serde_json::Value::String(s.to_owned()).to_string()
}

pub use crate::diag::write_atomic;

/// The writer's pid in a temporary file name made by [`write_atomic`]
/// (`.<name>.snap.<pid>-<12 hex>.tmp`), or `None` for any other name.
fn temp_writer_pid(file_name: &str) -> Option<u32> {
    let inner = file_name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let (name, tail) = inner.rsplit_once(".snap.")?;
    let (pid, rnd) = tail.split_once('-')?;
    let ok = !name.is_empty()
        && !pid.is_empty()
        && pid.bytes().all(|b| b.is_ascii_digit())
        && rnd.len() == 12
        && rnd.bytes().all(|b| b.is_ascii_hexdigit());
    if ok { pid.parse().ok() } else { None }
}

/// Whether the process that named a temporary file may still be writing it. Where this
/// cannot be known (no `/proc`), only files older than an hour count as abandoned.
fn writer_may_be_alive(pid: u32, modified: Option<std::time::SystemTime>) -> bool {
    if pid == std::process::id() {
        return true;
    }
    let proc = Path::new("/proc");
    if proc.join("self").exists() {
        return proc.join(pid.to_string()).exists();
    }
    modified
        .and_then(|m| m.elapsed().ok())
        .is_none_or(|age| age < std::time::Duration::from_secs(3600))
}

/// Removes the temporary files a killed `--bless` left in `dir` (never a snapshot: those
/// are renamed into place whole). Only regular files directly in `dir` whose names
/// [`write_atomic`] makes, and whose writer is gone, are touched; symbolic links and
/// subdirectories are left alone. Returns one note per file removed or not removable.
pub fn remove_stale_temps(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new(); // no snapshots directory yet: nothing to clean
    };
    let mut notes = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(temp_writer_pid) else {
            continue;
        };
        // symlink_metadata: a link is not followed, so nothing outside `dir` is reached.
        let Ok(meta) = std::fs::symlink_metadata(entry.path()) else {
            continue;
        };
        if !meta.file_type().is_file() || writer_may_be_alive(pid, meta.modified().ok()) {
            continue;
        }
        let shown = entry.path().display().to_string();
        notes.push(match std::fs::remove_file(entry.path()) {
            Ok(()) => format!(
                "removed {shown}: a temporary snapshot file left by a killed run (pid {pid}); no snapshot was touched"
            ),
            Err(e) => format!("cannot remove the stale temporary snapshot file {shown}: {e}"),
        });
    }
    notes.sort();
    notes
}

/// When a snapshot may be written. `CI` wins over everything: CI never writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Update {
    /// Compare only.
    Never,
    /// On mismatch, leave `<name>.snap.new` for `cargo insta review` (insta's local default).
    Pending,
    /// Rewrite `<name>.snap` in place (`--bless`, `INSTA_UPDATE=always`).
    Always,
}

pub fn is_ci() -> bool {
    match std::env::var("CI") {
        Ok(v) => !(v.is_empty() || v == "0" || v.eq_ignore_ascii_case("false")),
        Err(_) => std::env::var_os("TF_BUILD").is_some(),
    }
}

/// Decides the update mode from `--bless` and insta's `INSTA_UPDATE`.
pub fn update_mode(bless: bool) -> Result<Update, String> {
    if is_ci() {
        if bless {
            return Err("refusing to --bless with CI set: CI never writes snapshots".into());
        }
        return Ok(Update::Never);
    }
    if bless {
        return Ok(Update::Always);
    }
    match std::env::var("INSTA_UPDATE").as_deref() {
        Err(_) | Ok("") | Ok("auto") | Ok("new") | Ok("unseen") => Ok(Update::Pending),
        Ok("always") | Ok("1") | Ok("force") => Ok(Update::Always),
        Ok("no") | Ok("0") => Ok(Update::Never),
        Ok(other) => Err(format!(
            "INSTA_UPDATE={other} is not one of auto, always, new, unseen, no, force"
        )),
    }
}

/// Where a documented body sits in a case.
#[derive(Debug, Clone)]
pub struct Documented<'c> {
    pub step: &'c str,
    /// `None` for the step's response, the notification name otherwise.
    pub notification: Option<&'c str>,
    pub snapshot: &'c str,
    pub text: &'c str,
    pub kind: BodyKind,
    pub redact: &'c [String],
}

/// Every documented body of a case that has a snapshot, in file order.
pub fn documented(file: &CaseFile) -> Vec<Documented<'_>> {
    let mut out = Vec::new();
    for step in &file.steps {
        if let (Some(snapshot), Some(text)) = (&step.expect.snapshot, &step.expect.documented) {
            out.push(Documented {
                step: &step.name,
                notification: None,
                snapshot,
                text,
                kind: step.expect.body,
                redact: &step.expect.redact,
            });
        }
        let alternatives = step.alternatives.iter().flat_map(|a| &a.notifications);
        for n in step.notifications.iter().chain(alternatives) {
            if let (Some(snapshot), Some(text)) = (&n.snapshot, &n.documented) {
                out.push(Documented {
                    step: &step.name,
                    notification: Some(&n.name),
                    snapshot,
                    text,
                    kind: BodyKind::Json,
                    redact: &n.redact,
                });
            }
        }
    }
    out
}

/// The documented placeholders: each listed variable's documented default, by name.
pub fn documented_placeholders(file: &CaseFile) -> Vec<(String, String)> {
    file.placeholders
        .iter()
        .filter_map(|p| file.vars.get(p).map(|v| (v.clone(), p.clone())))
        .filter(|(v, _)| !v.is_empty())
        .collect()
}

/// The canonical form of a documented body: errata applied (unless `as_printed`),
/// documented variable values turned into placeholders, redactions applied.
pub fn canonical_documented(
    family: Family,
    file: &CaseFile,
    doc: &Documented<'_>,
    errata: &Errata,
    as_printed: bool,
) -> Result<String, String> {
    let part = if doc.notification.is_some() {
        Part::Notification
    } else {
        Part::Response
    };
    let owned = documented_placeholders(file);
    let placeholders: Vec<(&str, &str)> = owned
        .iter()
        .map(|(v, n)| (v.as_str(), n.as_str()))
        .collect();
    let text = if as_printed {
        doc.text.to_owned()
    } else {
        errata.apply_text(family, part, doc.text)
    };
    match doc.kind {
        BodyKind::Xml => {
            canon::xml::canonical_text(text.trim().as_bytes(), &Limits::default(), &placeholders)
                .map_err(|e| format!("documented XML for `{}`: {e}", doc.snapshot))
        }
        BodyKind::Json => {
            let mut v = canon::json::parse_documented(&text)
                .map_err(|e| format!("documented JSON for `{}`: {e}", doc.snapshot))?;
            if !as_printed {
                errata.apply_json(family, part, &mut v);
            }
            canon::json::apply_placeholders(&mut v, &placeholders);
            canon::json::redact(&mut v, doc.redact);
            Ok(canon::json::render(&v))
        }
        BodyKind::Empty | BodyKind::Any => Ok(String::new()),
    }
}

/// The `.snap` files a case should have, derived from its documented bodies
/// (what `extract` writes and what the docs-match test checks).
pub fn expected_files(
    case: &Case,
    errata: &Errata,
    cases_root: &Path,
) -> Vec<(String, Result<String, String>)> {
    let source = case
        .path
        .strip_prefix(cases_root.parent().unwrap_or(cases_root))
        .unwrap_or(&case.path)
        .to_string_lossy()
        .replace('\\', "/");
    documented(&case.file)
        .into_iter()
        .map(|doc| {
            let what = match doc.notification {
                Some(n) => format!("notification `{n}` after step `{}`", doc.step),
                None => format!("response to step `{}`", doc.step),
            };
            let description = format!(
                "{}: canonical form of the documented {what}",
                case.trial_name()
            );
            let file = canonical_documented(case.family, &case.file, &doc, errata, false)
                .map(|c| render_file(&source, &description, &c));
            (doc.snapshot.to_owned(), file)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn via_insta(p: &Path) -> Option<String> {
        let snap = insta::Snapshot::from_file(p).ok()?;
        snap.contents().as_text().map(|t| t.to_string())
    }

    #[test]
    fn the_fast_reader_agrees_with_insta_or_defers_to_it() {
        let dir = std::env::temp_dir().join(format!("callconform-snapread-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut files: Vec<String> =
            std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"))
                .unwrap()
                .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
                .collect();
        assert!(!files.is_empty(), "no committed snapshots to compare");
        files.extend([
            render_file(
                "cases/um/x.toml",
                "a \"quoted\" — description",
                "<a>\n  <b/>\n</a>\n\n  ",
            ),
            "---\nsource: cases/um/x.toml\n---\nline one\r\nline two  \r\n\n".to_owned(),
            "---\nsource: \"x\"\nsnapshot_kind: text\n---\nbody\n".to_owned(),
            "---\nsource: 'single'\n---\nbody\n".to_owned(),
            "---\nsource: \"x\"\n---\n".to_owned(),
            "---\nsource: \"x\"\n".to_owned(),
            "no header\nbody\n".to_owned(),
        ]);
        let mut fast_hits = 0;
        for (i, f) in files.iter().enumerate() {
            let p = dir.join(format!("{i}.snap"));
            std::fs::write(&p, f).unwrap();
            if let Some(fast) = plain_text_contents(f) {
                fast_hits += 1;
                assert_eq!(Some(fast), via_insta(&p), "file {i}:\n{f}");
            }
            // Whichever path reads it, `read` answers what insta answers.
            assert_eq!(read(&p).ok().flatten(), via_insta(&p), "file {i}:\n{f}");
        }
        assert!(fast_hits > files.len() / 2, "the fast path was not taken");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn atomic_write_replaces_whole_file_and_leaves_no_temp() {
        let dir = std::env::temp_dir().join(format!("callconform-snap-{}", std::process::id()));
        let p = path(&dir, "x");
        write_atomic(&p, "old\n").unwrap();
        write_atomic(&p, "new\n").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new\n");
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rendered_file_reads_back_through_insta() {
        let dir = std::env::temp_dir().join(format!("callconform-snap-rt-{}", std::process::id()));
        let p = path(&dir, "um__x");
        write_atomic(
            &p,
            &render_file("cases/um/x.toml", "um::x: a: b", "line 1\n  line \"2\"\n"),
        )
        .unwrap();
        assert_eq!(read(&p).unwrap().as_deref(), Some("line 1\n  line \"2\""));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn temp_names_are_recognised_exactly() {
        assert_eq!(
            temp_writer_pid(".um__x.snap.123-0a1b2c3d4e5f.tmp"),
            Some(123)
        );
        assert_eq!(
            temp_writer_pid(".a.snap.b.snap.7-0a1b2c3d4e5f.tmp"),
            Some(7)
        );
        for other in [
            "um__x.snap",
            ".um__x.snap.tmp",
            ".um__x.snap.123.tmp",
            ".um__x.snap.123-xyz.tmp",
            ".um__x.snap.-0a1b2c3d4e5f.tmp",
            ".snap.1-0a1b2c3d4e5f.tmp",
            ".um__x.snap.1-0a1b2c3d4e5f.tmp.bak",
        ] {
            assert_eq!(temp_writer_pid(other), None, "{other}");
        }
    }

    #[test]
    fn stale_temps_of_a_killed_run_are_removed_and_nothing_else() {
        let root = std::env::temp_dir().join(format!("callconform-stale-{}", std::process::id()));
        let dir = root.join("snapshots");
        let outside = root.join("outside");
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        // A pid no process can have (over any pid_max): its writer is gone.
        let dead = ".um__x.snap.4000000000-0a1b2c3d4e5f.tmp";
        let live = format!(".um__y.snap.{}-0a1b2c3d4e5f.tmp", std::process::id());
        for f in [dead, live.as_str(), "um__x.snap", ".other.tmp"] {
            std::fs::write(dir.join(f), "x").unwrap();
        }
        std::fs::write(dir.join("sub").join(dead), "x").unwrap();
        let target = outside.join("precious");
        std::fs::write(&target, "keep").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(&target, dir.join(".um__z.snap.4000000001-0a1b2c3d4e5f.tmp"))
            .unwrap();

        let notes = remove_stale_temps(&dir);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(
            notes[0].contains(dead) && notes[0].contains("killed run"),
            "{notes:?}"
        );
        assert!(!dir.join(dead).exists());
        for kept in [live.as_str(), "um__x.snap", ".other.tmp"] {
            assert!(dir.join(kept).exists(), "{kept}");
        }
        assert!(dir.join("sub").join(dead).exists());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
        assert!(
            remove_stale_temps(&dir).is_empty(),
            "a second run finds nothing"
        );
        assert!(remove_stale_temps(&root.join("missing")).is_empty());
        std::fs::remove_dir_all(&root).unwrap();
    }
}
