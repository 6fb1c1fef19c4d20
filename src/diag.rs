//! Diagnostics shared by every file the project reads (cases, family files, errata, data
//! tables, profiles, expectations): one error type naming the file, one size cap, one TOML
//! error format. It imports nothing of the project's own, so every loader can use it.

use std::fmt;
use std::path::{Path, PathBuf};

/// An error in a corpus file (case, family file, errata, table), naming the file and, where known, the line and field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseError {
    pub path: PathBuf,
    pub message: String,
}

impl fmt::Display for CaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for CaseError {}

/// Files larger than this are not case files; refuse them before parsing.
const MAX_CASE_FILE: u64 = 4 * 1024 * 1024;

pub fn read_capped(path: &Path) -> Result<String, CaseError> {
    let err = |message: String| CaseError {
        path: path.to_owned(),
        message,
    };
    let meta = std::fs::metadata(path).map_err(|e| err(format!("cannot read: {e}")))?;
    if meta.len() > MAX_CASE_FILE {
        return Err(err(format!(
            "file is {} bytes, over the {} byte limit for case files",
            meta.len(),
            MAX_CASE_FILE
        )));
    }
    std::fs::read_to_string(path).map_err(|e| err(format!("cannot read: {e}")))
}

/// Turns a TOML error into "line N, column M: message (field `x`)" without the
/// multi-line source excerpt, so one error is one line in a report. Shared by every
/// TOML file the project reads (cases, errata, profiles, expectations).
pub fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().trim().to_string();
    match e.span() {
        Some(span) => {
            let (line, col) = line_col(text, span.start);
            // The offending source line names the field even when serde's message does not.
            let src = text.lines().nth(line - 1).unwrap_or("").trim();
            let src: String = src.chars().take(80).collect();
            format!("line {line}, column {col}: {msg} (at `{src}`)")
        }
        None => msg,
    }
}

pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text.as_bytes()[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = offset
        - before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1)
        + 1;
    (line, col)
}

pub fn valid_var_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}
