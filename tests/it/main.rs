//! Integration tests: the real `bt-*` binaries, driven as a user would.

mod common;
mod harness;

mod announce;
mod completions;
mod crypto;
mod daemon;
mod dht;
mod engine;
mod fuzz_regressions;
mod hostile;
mod info;
mod magnet;
mod make;
mod rate;
mod select;
mod serve;
mod stream;
mod stress;
mod swarm;
mod transmission;
mod v2;
mod verify;
mod webseed;
