//! Integration tests: make.
