//! The KRPC codec (BEP 5, BEP 32): DHT messages to bytes and back, no I/O.
//!
//! [`decode`] reads one UDP payload through the strict bencode scanner with small limits
//! ([`MAX_PACKET`] bytes, depth 4, a few hundred values), so a hostile packet costs bounded
//! memory and time; anything that is not a well-formed query, response or error is an
//! [`Error`]. Compact node and peer lists of the wrong length are errors too. [`Msg::encode`]
//! writes canonical bencode (keys sorted) directly.

use crate::bencode::{self, Dict, Limits};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Largest KRPC packet read or written.
pub const MAX_PACKET: usize = 2048;
/// Longest transaction id accepted (ours are 2 bytes; others use up to 4 or 8).
pub const MAX_TID: usize = 16;
/// Longest write token accepted.
pub const MAX_TOKEN: usize = 64;
/// Most peers (`values`) read from or written into one response.
pub const MAX_VALUES: usize = 100;

const LIMITS: Limits = Limits {
    max_depth: 4,
    max_size: MAX_PACKET,
    max_tokens: 400,
};

/// A 160-bit node id (or lookup target: an info hash lives in the same space).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub [u8; 20]);

impl NodeId {
    /// The XOR distance to `other`, comparable as bytes.
    pub fn distance(&self, other: &NodeId) -> [u8; 20] {
        std::array::from_fn(|i| self.0[i] ^ other.0[i])
    }
    /// How many leading bits `self` and `other` share (160 when equal).
    pub fn common_prefix(&self, other: &NodeId) -> usize {
        let d = self.distance(other);
        d.iter()
            .position(|b| *b != 0)
            .map_or(160, |i| i * 8 + d[i].leading_zeros() as usize)
    }
    /// Lowercase hex.
    pub fn hex(&self) -> String {
        crate::metainfo::hex(&self.0)
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.hex())
    }
}

/// A query and its arguments.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    /// `ping`
    Ping,
    /// `find_node`: the nodes closest to `target`.
    FindNode {
        /// The id looked for.
        target: NodeId,
    },
    /// `get_peers`: peers of `info_hash`, else the closest nodes.
    GetPeers {
        /// The torrent.
        info_hash: NodeId,
    },
    /// `announce_peer`: the sender has the torrent at `port` (or at the packet's source port
    /// with `implied_port`).
    AnnouncePeer {
        /// The torrent.
        info_hash: NodeId,
        /// The sender's peer port.
        port: u16,
        /// Use the packet's source port instead of `port`.
        implied_port: bool,
        /// The write token from an earlier `get_peers` answer.
        token: Vec<u8>,
    },
}

impl Query {
    fn name(&self) -> &'static [u8] {
        match self {
            Query::Ping => b"ping",
            Query::FindNode { .. } => b"find_node",
            Query::GetPeers { .. } => b"get_peers",
            Query::AnnouncePeer { .. } => b"announce_peer",
        }
    }
}

/// A response's arguments (every kind of query shares this shape).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Response {
    /// The responder's id.
    pub id: Option<NodeId>,
    /// `nodes` and `nodes6`: contacts closer to the target.
    pub nodes: Vec<(NodeId, SocketAddr)>,
    /// `values`: peers of the torrent.
    pub values: Vec<SocketAddr>,
    /// A write token for `announce_peer`.
    pub token: Option<Vec<u8>>,
}

/// What a message carries.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// A query from the node `id`.
    Query {
        /// The querier's id.
        id: NodeId,
        /// The query.
        query: Query,
    },
    /// A response (`id` is always present once decoded).
    Response(Response),
    /// An error: code and message.
    Error(i64, String),
}

/// One KRPC message: a transaction id and a body.
#[derive(Debug, Clone, PartialEq)]
pub struct Msg {
    /// The transaction id, echoed by the responder.
    pub tid: Vec<u8>,
    /// The message.
    pub body: Body,
}

/// Why a packet was not a KRPC message.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// Not bencode within the limits.
    Bencode(String),
    /// Bencode, but not a KRPC message: names what is wrong.
    Invalid(&'static str),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Bencode(e) => write!(f, "krpc: {e}"),
            Error::Invalid(what) => write!(f, "krpc: {what}"),
        }
    }
}

impl std::error::Error for Error {}

fn bytes<'a>(d: &Dict<'a>, key: &str) -> Option<&'a [u8]> {
    d.get(key).and_then(|n| n.as_bytes())
}

fn id20(d: &Dict<'_>, key: &str) -> Result<NodeId, Error> {
    bytes(d, key)
        .and_then(|b| <[u8; 20]>::try_from(b).ok())
        .map(NodeId)
        .ok_or(Error::Invalid("a 20-byte id is missing"))
}

/// Read a compact address: 6 bytes (IPv4) or 18 bytes (IPv6).
pub fn compact_addr(b: &[u8]) -> Option<SocketAddr> {
    let ip = match b.len() {
        6 => IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(&b[..4]).ok()?)),
        18 => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(&b[..16]).ok()?)),
        _ => return None,
    };
    let p = &b[b.len() - 2..];
    Some(SocketAddr::new(ip, u16::from_be_bytes([p[0], p[1]])))
}

/// Append the compact form of `a` (6 or 18 bytes).
pub fn push_compact(out: &mut Vec<u8>, a: &SocketAddr) {
    match a.ip() {
        IpAddr::V4(ip) => out.extend_from_slice(&ip.octets()),
        IpAddr::V6(ip) => out.extend_from_slice(&ip.octets()),
    }
    out.extend_from_slice(&a.port().to_be_bytes());
}

fn nodes(b: &[u8], width: usize, out: &mut Vec<(NodeId, SocketAddr)>) -> Result<(), Error> {
    if !b.len().is_multiple_of(20 + width) {
        return Err(Error::Invalid("a compact node list has a partial entry"));
    }
    for c in b.chunks(20 + width) {
        let id = NodeId(c[..20].try_into().expect("20 bytes"));
        out.extend(compact_addr(&c[20..]).map(|a| (id, a)));
    }
    Ok(())
}

/// Decode one UDP payload.
pub fn decode(packet: &[u8]) -> Result<Msg, Error> {
    let d = bencode::decode(packet, &LIMITS).map_err(|e| Error::Bencode(e.to_string()))?;
    let top = d.root.as_dict().ok_or(Error::Invalid("not a dictionary"))?;
    let tid = bytes(top, "t").ok_or(Error::Invalid("no transaction id"))?;
    if tid.len() > MAX_TID {
        return Err(Error::Invalid("transaction id too long"));
    }
    let body = match bytes(top, "y") {
        Some(b"q") => {
            let a = top
                .get("a")
                .and_then(|n| n.as_dict())
                .ok_or(Error::Invalid("a query without arguments"))?;
            let id = id20(a, "id")?;
            let query = match bytes(top, "q").ok_or(Error::Invalid("a query without a name"))? {
                b"ping" => Query::Ping,
                b"find_node" => Query::FindNode {
                    target: id20(a, "target")?,
                },
                b"get_peers" => Query::GetPeers {
                    info_hash: id20(a, "info_hash")?,
                },
                b"announce_peer" => {
                    let port = a.get("port").and_then(|n| n.as_int());
                    let implied = a.get("implied_port").and_then(|n| n.as_int()) == Some(1);
                    let port = match port {
                        Some(p) if (1..=65535).contains(&p) => p as u16,
                        _ if implied => 0,
                        _ => return Err(Error::Invalid("announce_peer without a valid port")),
                    };
                    let token = bytes(a, "token").ok_or(Error::Invalid("no token"))?;
                    if token.len() > MAX_TOKEN {
                        return Err(Error::Invalid("token too long"));
                    }
                    Query::AnnouncePeer {
                        info_hash: id20(a, "info_hash")?,
                        port,
                        implied_port: implied,
                        token: token.to_vec(),
                    }
                }
                _ => return Err(Error::Invalid("unknown query")),
            };
            Body::Query { id, query }
        }
        Some(b"r") => {
            let r = top
                .get("r")
                .and_then(|n| n.as_dict())
                .ok_or(Error::Invalid("a response without values"))?;
            let mut out = Response {
                id: Some(id20(r, "id")?),
                ..Response::default()
            };
            if let Some(b) = bytes(r, "nodes") {
                nodes(b, 6, &mut out.nodes)?;
            }
            if let Some(b) = bytes(r, "nodes6") {
                nodes(b, 18, &mut out.nodes)?;
            }
            if let Some(list) = r.get("values").and_then(|n| n.as_list()) {
                for v in list.iter().take(MAX_VALUES) {
                    let a = v.as_bytes().and_then(compact_addr);
                    out.values
                        .push(a.ok_or(Error::Invalid("a peer value is not compact"))?);
                }
            }
            if let Some(t) = bytes(r, "token") {
                if t.len() > MAX_TOKEN {
                    return Err(Error::Invalid("token too long"));
                }
                out.token = Some(t.to_vec());
            }
            Body::Response(out)
        }
        Some(b"e") => {
            let e = top.get("e").and_then(|n| n.as_list()).unwrap_or(&[]);
            let code = e.first().and_then(|n| n.as_int()).unwrap_or(0);
            let msg = e.get(1).and_then(|n| n.as_bytes()).unwrap_or(b"");
            Body::Error(code, String::from_utf8_lossy(msg).into_owned())
        }
        _ => return Err(Error::Invalid("unknown message kind")),
    };
    Ok(Msg {
        tid: tid.to_vec(),
        body,
    })
}

fn put(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(s.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(s);
}

fn put_int(out: &mut Vec<u8>, i: i64) {
    out.push(b'i');
    out.extend_from_slice(i.to_string().as_bytes());
    out.push(b'e');
}

impl Msg {
    /// A query from the node `id`.
    pub fn query(tid: &[u8], id: NodeId, query: Query) -> Msg {
        Msg {
            tid: tid.to_vec(),
            body: Body::Query { id, query },
        }
    }

    /// The wire form (canonical bencode).
    pub fn encode(&self) -> Vec<u8> {
        let mut o = Vec::with_capacity(256);
        o.push(b'd');
        match &self.body {
            Body::Query { id, query } => {
                put(&mut o, b"a");
                o.push(b'd');
                put(&mut o, b"id");
                put(&mut o, &id.0);
                match query {
                    Query::Ping => {}
                    Query::FindNode { target } => {
                        put(&mut o, b"target");
                        put(&mut o, &target.0);
                    }
                    Query::GetPeers { info_hash } => {
                        put(&mut o, b"info_hash");
                        put(&mut o, &info_hash.0);
                    }
                    Query::AnnouncePeer {
                        info_hash,
                        port,
                        implied_port,
                        token,
                    } => {
                        put(&mut o, b"implied_port");
                        put_int(&mut o, *implied_port as i64);
                        put(&mut o, b"info_hash");
                        put(&mut o, &info_hash.0);
                        put(&mut o, b"port");
                        put_int(&mut o, *port as i64);
                        put(&mut o, b"token");
                        put(&mut o, token);
                    }
                }
                o.push(b'e');
                put(&mut o, b"q");
                put(&mut o, query.name());
            }
            Body::Response(r) => {
                put(&mut o, b"r");
                o.push(b'd');
                put(&mut o, b"id");
                put(&mut o, &r.id.unwrap_or(NodeId([0; 20])).0);
                let mut v4 = Vec::new();
                let mut v6 = Vec::new();
                for (id, a) in &r.nodes {
                    let list = if a.is_ipv4() { &mut v4 } else { &mut v6 };
                    list.extend_from_slice(&id.0);
                    push_compact(list, a);
                }
                if !v4.is_empty() {
                    put(&mut o, b"nodes");
                    put(&mut o, &v4);
                }
                if !v6.is_empty() {
                    put(&mut o, b"nodes6");
                    put(&mut o, &v6);
                }
                if let Some(t) = &r.token {
                    put(&mut o, b"token");
                    put(&mut o, t);
                }
                if !r.values.is_empty() {
                    put(&mut o, b"values");
                    o.push(b'l');
                    for v in r.values.iter().take(MAX_VALUES) {
                        let mut c = Vec::with_capacity(18);
                        push_compact(&mut c, v);
                        put(&mut o, &c);
                    }
                    o.push(b'e');
                }
                o.push(b'e');
            }
            Body::Error(code, msg) => {
                put(&mut o, b"e");
                o.push(b'l');
                put_int(&mut o, *code);
                put(&mut o, msg.as_bytes());
                o.push(b'e');
            }
        }
        put(&mut o, b"t");
        put(&mut o, &self.tid);
        put(&mut o, b"v");
        put(&mut o, b"BT01");
        put(&mut o, b"y");
        put(
            &mut o,
            match self.body {
                Body::Query { .. } => b"q",
                Body::Response(_) => b"r",
                Body::Error(..) => b"e",
            },
        );
        o.push(b'e');
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(b: u8) -> NodeId {
        NodeId([b; 20])
    }

    #[test]
    fn every_message_round_trips() {
        let queries = [
            Query::Ping,
            Query::FindNode { target: id(2) },
            Query::GetPeers { info_hash: id(3) },
            Query::AnnouncePeer {
                info_hash: id(4),
                port: 6881,
                implied_port: true,
                token: b"tok".to_vec(),
            },
        ];
        for q in queries {
            let m = Msg {
                tid: b"aa".to_vec(),
                body: Body::Query {
                    id: id(1),
                    query: q,
                },
            };
            assert_eq!(decode(&m.encode()).unwrap(), m);
        }
        let r = Msg {
            tid: vec![0, 255],
            body: Body::Response(Response {
                id: Some(id(9)),
                nodes: vec![
                    (id(5), "1.2.3.4:5".parse().unwrap()),
                    (id(6), "[::1]:7".parse().unwrap()),
                ],
                values: vec![
                    "10.0.0.1:80".parse().unwrap(),
                    "[fe80::1]:81".parse().unwrap(),
                ],
                token: Some(b"t0k".to_vec()),
            }),
        };
        assert_eq!(decode(&r.encode()).unwrap(), r);
        let e = Msg {
            tid: b"x".to_vec(),
            body: Body::Error(203, "bad token".into()),
        };
        assert_eq!(decode(&e.encode()).unwrap(), e);
    }

    #[test]
    fn bep5_example_decodes() {
        let ping = b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe";
        let m = decode(ping).unwrap();
        assert_eq!(m.tid, b"aa");
        assert!(matches!(
            m.body,
            Body::Query {
                query: Query::Ping,
                ..
            }
        ));
        let ann = b"d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234564:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe";
        match decode(ann).unwrap().body {
            Body::Query {
                query: Query::AnnouncePeer { port, token, .. },
                ..
            } => assert_eq!((port, token.as_slice()), (6881, &b"aoeusnth"[..])),
            b => panic!("{b:?}"),
        }
    }

    #[test]
    fn hostile_packets_are_errors() {
        let big = vec![b'x'; MAX_PACKET + 1];
        let deep = [b"d1:ad2:idl".as_slice(), &[b'l'; 50], &[b'e'; 53]].concat();
        let bad: &[&[u8]] = &[
            b"",
            b"i1e",
            &big,
            &deep,
            b"d1:t2:aa1:y1:qe",
            b"d1:ad2:id3:abce1:q4:ping1:t2:aa1:y1:qe",
            b"d1:rd2:id20:abcdefghij01234567895:nodes5:abcdee1:t2:aa1:y1:re",
            b"d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234564:porti0e5:token1:xe1:q13:announce_peer1:t2:aa1:y1:qe",
            b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t17:aaaaaaaaaaaaaaaaa1:y1:qe",
            b"d1:ad2:id20:abcdefghij0123456789e1:q5:pong!1:t2:aa1:y1:qe",
        ];
        for p in bad {
            assert!(decode(p).is_err(), "{:?}", String::from_utf8_lossy(p));
        }
    }

    #[test]
    fn prefixes_and_distances() {
        assert_eq!(id(0).common_prefix(&id(0)), 160);
        let mut b = [0u8; 20];
        b[1] = 0x10;
        assert_eq!(id(0).common_prefix(&NodeId(b)), 11);
    }
}
