//! Integration tests: swarm.
