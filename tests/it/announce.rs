//! Integration tests: announce.
