//! `bt-top`: a terminal UI over the daemon's socket or a record stream.
