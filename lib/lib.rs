//! `bt`: the library behind the `bt-*` BitTorrent tools.
//!
//! One module per protocol concept; only [`cli`] knows about processes.
#![deny(missing_docs)]

pub mod bencode;
pub mod cli;
pub mod create;
pub mod daemon;
pub mod dht;
pub mod geometry;
pub mod merkle;
pub mod metainfo;
pub mod net;
pub mod peer;
pub mod record;
pub mod select;
pub mod sha1_lanes;
pub mod sha256_lanes;
pub mod storage;
pub mod swarm;
pub mod tracker;
pub mod verify;
