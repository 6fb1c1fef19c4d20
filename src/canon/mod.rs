//! Stage 4: canonical forms. Both sides of every comparison (the documented example and
//! the target's answer) go through the same function, so only meaning can differ.

pub mod json;
pub mod xml;

use std::fmt;

/// Bounds that keep a hostile body from exhausting the harness.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Deepest element or JSON nesting accepted.
    pub max_depth: usize,
    /// Largest input accepted, in bytes.
    pub max_bytes: usize,
    /// Most elements + attributes + text nodes (XML) or values (JSON) accepted.
    pub max_nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 256,
            max_bytes: 16 * 1024 * 1024,
            max_nodes: 1_000_000,
        }
    }
}

/// Why a body has no canonical form. `offset` is a byte position in the input when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonError {
    pub message: String,
    pub offset: Option<u64>,
}

impl fmt::Display for CanonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.offset {
            Some(o) => write!(f, "{} (at byte {o})", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for CanonError {}

/// A runtime value and the name it stands for: `("57dab8b1-…", "call_id")` turns every
/// occurrence into `[call_id]`, so a live id compares equal to the documented one.
pub type Placeholder<'a> = (&'a str, &'a str);
