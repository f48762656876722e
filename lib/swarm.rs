//! swarm (work in progress).
