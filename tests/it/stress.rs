//! Integration tests: the swarm under stress (issue 6).
