//! tracker (work in progress).
