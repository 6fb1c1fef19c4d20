//! Diagnostics shared by every file the project reads (cases, family files, errata, data
//! tables, profiles, expectations): one error type naming the file, one size cap, one TOML
//! error format. It imports nothing of the project's own, so every loader can use it.

use std::fmt;
use std::io::Write;
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
    let bytes = read_bytes_capped(path, MAX_CASE_FILE).map_err(|e| match e {
        ReadError::Io(e) => err(format!("cannot read: {e}")),
        ReadError::TooLarge(len) => err(format!(
            "file is {len} bytes, over the {MAX_CASE_FILE} byte limit for case files"
        )),
    })?;
    String::from_utf8(bytes)
        .map_err(|_| err("cannot read: stream did not contain valid UTF-8".into()))
}

/// Why [`read_bytes_capped`] gave nothing.
#[derive(Debug)]
pub enum ReadError {
    Io(std::io::Error),
    /// The file's size, over the cap.
    TooLarge(u64),
}

/// A whole file, refused before reading when its size is over `cap`: one open, one size
/// query on the open file and one read of that many bytes. A run reads two small files
/// per case, so the syscalls per file count. The size is the open file's, so a file
/// replaced by rename (as snapshots are written) is read whole, old or new.
pub fn read_bytes_capped(path: &Path, cap: u64) -> Result<Vec<u8>, ReadError> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(ReadError::Io)?;
    let len = f.metadata().map_err(ReadError::Io)?.len();
    if len > cap {
        return Err(ReadError::TooLarge(len));
    }
    let mut buf = vec![0u8; len as usize];
    let mut filled = 0;
    while filled < buf.len() {
        match f.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ReadError::Io(e)),
        }
    }
    buf.truncate(filled);
    Ok(buf)
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

/// Longest snapshot name accepted (file names stay well under any file system's limit).
pub const MAX_SNAPSHOT_NAME: usize = 120;

/// A snapshot name is one flat file name in `snapshots/`: letters, digits, `_` and `-`
/// only, so no name can climb out (`../x`), be absolute, or hide (`.x`).
pub fn valid_snapshot_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_SNAPSHOT_NAME
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Checks a `snapshot` field of a case: `field` names it for the message (`step[0]
/// (GetCallInfo): field `expect.snapshot``), `compared` says whether the body it belongs
/// to is compared at all (`expect.body` is `xml` or `json`; a notification always is).
/// A snapshot on an `any` or `empty` body would never be read, so it is refused.
pub fn check_snapshot(field: &str, name: &str, compared: bool) -> Result<(), String> {
    if !valid_snapshot_name(name) {
        let shown: String = name.chars().take(60).collect();
        return Err(format!(
            "{field} = {shown:?}: a snapshot name is letters, digits, `_` and `-` only (at most {MAX_SNAPSHOT_NAME}), naming a file in snapshots/"
        ));
    }
    if !compared {
        return Err(format!(
            "{field} = {name:?}: a snapshot needs `expect.body = \"xml\"` or `\"json\"`; with `any` or `empty` it would never be compared"
        ));
    }
    Ok(())
}

/// Writes through a temporary file in the same directory and renames it into place, so a
/// killed run leaves every snapshot either old or new, never half-written.
pub fn write_atomic(path: &Path, contents: &str) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut rnd = [0u8; 6];
    let _ = getrandom::fill(&mut rnd);
    let tmp = dir.join(format!(
        ".{}.{}-{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("snap"),
        std::process::id(),
        rnd.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(contents.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_read_whole_within_the_cap_and_refused_over_it() {
        let dir = std::env::temp_dir().join(format!("callconform-diag-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let p = dir.join("f.toml");
        let text = "x = 1\n".repeat(10_000);
        std::fs::write(&p, &text).expect("write");
        let read = read_bytes_capped(&p, 1 << 20).expect("reads");
        assert_eq!(read, text.as_bytes());
        assert!(
            matches!(read_bytes_capped(&p, 100), Err(ReadError::TooLarge(n)) if n == text.len() as u64)
        );
        std::fs::write(&p, "").expect("write");
        assert_eq!(read_bytes_capped(&p, 1).expect("reads").len(), 0);
        std::fs::write(&p, [0xff, 0xfe]).expect("write");
        let e = read_capped(&p).unwrap_err();
        assert!(e.message.contains("UTF-8"), "{e}");
        let e = read_capped(&dir.join("missing.toml")).unwrap_err();
        assert!(e.message.starts_with("cannot read"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn snapshot_names_stay_inside_the_snapshots_directory() {
        for ok in [
            "um__get-call-info",
            "graph__delete-call__terminated",
            "A_1-b",
        ] {
            assert!(valid_snapshot_name(ok), "{ok}");
        }
        let long = "a".repeat(MAX_SNAPSHOT_NAME + 1);
        for bad in [
            "",
            "../x",
            "..",
            "/etc/passwd",
            "C:\\x",
            "a/b",
            "a\\b",
            ".hidden",
            "x.snap",
            "a b",
            "ü",
            "a\0b",
            long.as_str(),
        ] {
            assert!(!valid_snapshot_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn snapshot_fields_are_checked_with_the_field_named() {
        let field = "step[0] (GetCallInfo): field `expect.snapshot`";
        assert_eq!(check_snapshot(field, "um__get-call-info", true), Ok(()));
        let e = check_snapshot(field, "../outside", true).unwrap_err();
        assert!(e.contains(field) && e.contains("\"../outside\""), "{e}");
        let e = check_snapshot(field, "um__x", false).unwrap_err();
        assert!(e.contains(field) && e.contains("never be compared"), "{e}");
        // A hostile name is shown cut short and escaped, never as raw control characters.
        let e = check_snapshot(field, &format!("\n{}", "x".repeat(500)), true).unwrap_err();
        assert!(!e.contains('\n') && e.len() < 400, "{e}");
    }
}
