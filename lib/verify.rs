//! verify (work in progress).
