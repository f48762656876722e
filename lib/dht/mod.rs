//! The mainline DHT (BEP 5, with BEP 32's `nodes6` for IPv6 nodes): find peers of a torrent
//! without a tracker, announce ourselves, and answer other nodes.
//!
//! [`krpc`] is the message codec (no I/O), [`table`] the Kademlia routing table, [`lookup`] the
//! iterative lookup as a pure state machine; [`Node`] puts them on one UDP socket with one
//! receiving thread and runs lookups on the caller's thread.
//!
//! Our own implementation rather than the `mainline` crate: that crate binds only IPv4, picks
//! its own address (a test needs a chosen 127.0.0.x), decides by itself whether to answer
//! queries ("adaptive mode"), and would bring a second bencode stack; everything from the
//! network here goes through the toolkit's one strict bencode scanner with small limits.
//!
//! Invariants: a node never contacts an address it was not given ([`Config::bootstrap`], the
//! saved table) or told about by another node; the library never adds the [`DEFAULT_ROUTERS`]
//! by itself (the tools add them when the user names no bootstrap node). What the network can make a node hold is bounded: the
//! routing table (160 buckets of 8), pending queries, stored peers (torrents and peers per
//! torrent), per-address rate-limit entries.

pub mod krpc;
pub mod lookup;
mod node;
pub mod table;

pub use krpc::NodeId;
pub use node::{Config, Found, Node, NodeStats, DEFAULT_ROUTERS};
