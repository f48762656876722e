//! geometry (work in progress).
