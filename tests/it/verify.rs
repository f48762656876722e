//! Integration tests: verify.
