//! storage (work in progress).
