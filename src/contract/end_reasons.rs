//! The call-end reasons the Graph Delete call page lists (`cases/graph/_end-reasons.toml`):
//! a `resultInfo` code/subcode pair is documented when it is a row of this table.

use crate::diag::{CaseError, read_capped, toml_error};
use serde::Deserialize;
use std::path::Path;

/// The table's file name inside its family directory.
pub const FILE_NAME: &str = "_end-reasons.toml";

/// One row of the table. The list is not closed (the page says "some of the common"
/// codes), so a missing pair is a finding to report, not proof of an error.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndReason {
    pub code: i64,
    /// `540000/560000` in the table gives two subcodes.
    pub subcodes: Vec<i64>,
    /// The reason text as printed (in the page's language).
    pub meaning: String,
    /// `file:line` of the row.
    pub source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    reason: Vec<EndReason>,
}

/// The documented call-end reasons of a corpus.
#[derive(Debug, Clone, Default)]
pub struct EndReasons {
    pub reasons: Vec<EndReason>,
}

impl EndReasons {
    /// Reads a table file.
    pub fn load(path: &Path) -> Result<EndReasons, CaseError> {
        let text = read_capped(path)?;
        EndReasons::parse(&text).map_err(|message| CaseError {
            path: path.to_owned(),
            message,
        })
    }

    pub fn parse(text: &str) -> Result<EndReasons, String> {
        let file: File = toml::from_str(text).map_err(|e| toml_error(text, &e))?;
        Ok(EndReasons {
            reasons: file.reason,
        })
    }

    /// Whether the docs list this code/subcode pair.
    pub fn is_documented(&self, code: i64, subcode: i64) -> bool {
        self.reasons
            .iter()
            .any(|r| r.code == code && r.subcodes.contains(&subcode))
    }

    /// The row documenting a pair, for notes that name it.
    pub fn row(&self, code: i64, subcode: i64) -> Option<&EndReason> {
        self.reasons
            .iter()
            .find(|r| r.code == code && r.subcodes.contains(&subcode))
    }

    /// How many pairs the table documents.
    pub fn pairs(&self) -> usize {
        self.reasons.iter().map(|r| r.subcodes.len()).sum()
    }
}
