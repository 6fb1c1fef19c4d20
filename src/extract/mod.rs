//! `callconform extract` (STUB: being written).
