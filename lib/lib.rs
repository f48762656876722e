//! `bt`: the library behind the `bt-*` BitTorrent tools.
//!
//! One module per protocol concept; only [`cli`] knows about processes.
#![deny(missing_docs)]

pub mod bencode;
pub mod cli;
pub mod metainfo;
pub mod record;
