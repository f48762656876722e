//! peer (work in progress).
