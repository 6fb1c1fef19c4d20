//! callconform: turns documented call-control API examples into conformance cases, fires
//! them at a target, and compares canonical forms of what comes back with snapshots of
//! the documented examples.
//!
//! The pipeline runs one way: [`case`] → [`request`] → [`response`] → [`canon`] →
//! [`compare`] → [`report`].

pub mod canon;
pub mod capture;
pub mod case;
pub mod compare;
pub mod contract;
pub mod corpus;
pub mod coverage;
pub mod diag;
pub mod errata;
pub mod expectations;
pub mod extract;
pub mod family;
pub mod harness;
pub mod listener;
pub mod profile;
pub mod protocol;
pub mod reference;
pub mod report;
pub mod request;
pub mod response;
pub mod results;
pub mod runner;
pub mod snapshot;
pub mod template;
pub mod text;
