//! create (work in progress).
