//! The documented contract as data: tables derived from the documentation pages and kept
//! beside the cases (`cases/<family>/_*.toml`), with provenance. The rules that judge a
//! target read these; nothing here knows how they were extracted.

pub mod end_reasons;
pub mod path;
pub mod rules;
pub mod types;

pub use end_reasons::{EndReason, EndReasons};
pub use path::FieldPath;
pub use rules::{Contract, END_REASONS, FieldClass, FieldRule, FieldSpec, Provenance, ValueSet};
pub use types::{Primitive, TypeModel, TypeRef};
