//! The piece layers of a v2 torrent that started from a magnet link (BEP 52): the info
//! dictionary has each file's `pieces root` but not the hashes of its pieces, which peers send
//! in answer to `hash request`s.
//!
//! Peers are tried one at a time, on a plain connection with the truncated v2 info hash. For
//! each file of more than one piece the whole piece layer is asked for, in requests of at most
//! [`MAX_HASHES`] hashes that carry the uncle hashes up to the root; an answer is kept only if it
//! proves itself to the file's root ([`crate::merkle::check_layer_hashes`]). Every socket has a
//! timeout, every frame is capped by the codec's limits before it is read, and a peer gets
//! [`PEER_TIME`] in all.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::metadata::MetadataEvent;
use super::session::SessionError;
use crate::merkle::{check_layer_hashes, piece_layer_index};
use crate::metainfo::Torrent;
use crate::peer::hashes::{HashRequest, MAX_HASHES};
use crate::peer::{self, Handshake, Limits, Message, PeerId};

/// Time one peer gets to answer every request.
pub const PEER_TIME: Duration = Duration::from_secs(20);

/// Fill `t.piece_layers` for every file of more than one piece, from `peers`.
pub fn fetch_piece_layers(
    t: &mut Torrent,
    peers: &[SocketAddr],
    bind: IpAddr,
    events: &mut dyn FnMut(MetadataEvent),
) -> Result<(), SessionError> {
    let Some(v2) = t.info_hash_v2 else {
        return Ok(());
    };
    let pl = t.piece_length;
    let peer_id = PeerId::generate().map_err(SessionError::Random)?;
    let limits = Limits::for_torrent(t);
    for &addr in peers {
        let want = t.missing_piece_layers();
        if want.is_empty() {
            return Ok(());
        }
        match ask(addr, bind, v2.truncated().0, peer_id, &limits, pl, &want) {
            Ok(got) => t.piece_layers.extend(got),
            Err(why) => events(MetadataEvent::Refused {
                addr,
                why: format!("piece layers: {why}"),
            }),
        }
    }
    let left = t.missing_piece_layers().len();
    if left == 0 {
        return Ok(());
    }
    Err(SessionError::NoMetadata(format!(
        "no peer sent the piece layers of {left} files ({} peers tried)",
        peers.len()
    )))
}

/// The requests for the whole piece layer of a file of `pieces` pieces.
fn requests(root: [u8; 32], pl: u64, pieces: u64) -> Vec<HashRequest> {
    let width = pieces.next_power_of_two();
    let length = width.min(MAX_HASHES as u64);
    let proof = (width / length).trailing_zeros();
    (0..pieces.div_ceil(length))
        .map(|k| HashRequest {
            pieces_root: root,
            base_layer: piece_layer_index(pl),
            index: (k * length) as u32,
            length: length as u32,
            proof_layers: proof,
        })
        .collect()
}

/// Ask one peer for the layers of `want`; what it proved.
fn ask(
    addr: SocketAddr,
    bind: IpAddr,
    info_hash: [u8; 20],
    peer_id: PeerId,
    limits: &Limits,
    pl: u64,
    want: &[([u8; 32], u64)],
) -> Result<HashMap<[u8; 32], Vec<[u8; 32]>>, String> {
    let deadline = Instant::now() + PEER_TIME;
    let timeout = Duration::from_secs(5);
    let mut s = match bind {
        b if !b.is_unspecified() && b.is_ipv4() == addr.is_ipv4() => {
            crate::net::connect_from(b, addr, timeout)
        }
        _ => TcpStream::connect_timeout(&addr, timeout),
    }
    .map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .map_err(|e| e.to_string())?;
    let ours = Handshake::new(info_hash, peer_id).with_v2(true);
    s.write_all(&ours.encode()).map_err(|e| e.to_string())?;
    let mut hs = [0u8; peer::HANDSHAKE_LEN];
    read_full(&mut s, &mut hs, deadline)?;
    // A peer without the v2 bit (BEP 52) is still asked: the proofs decide.
    let v2 = match Handshake::decode(&hs) {
        Ok(Some(h)) if h.info_hash == info_hash => h.supports_v2(),
        _ => return Err("bad handshake".into()),
    };
    let mut pending: HashMap<HashRequest, u64> = HashMap::new();
    let mut out = Vec::new();
    for &(root, pieces) in want {
        for r in requests(root, pl, pieces) {
            Message::HashRequest(r).encode(&mut out);
            pending.insert(r, pieces);
        }
    }
    s.write_all(&out).map_err(|e| e.to_string())?;
    let mut layers: HashMap<[u8; 32], Vec<[u8; 32]>> = HashMap::new();
    while !pending.is_empty() {
        let mut len = [0u8; 4];
        read_full(&mut s, &mut len, deadline)?;
        let n = u32::from_be_bytes(len);
        if n > limits.max_frame() {
            return Err(format!("frame of {n} bytes"));
        }
        let mut frame = len.to_vec();
        frame.resize(4 + n as usize, 0);
        read_full(&mut s, &mut frame[4..], deadline)?;
        let msg = match peer::decode(&frame, limits) {
            Ok(Some((m, _))) => m,
            Ok(None) => return Err("short frame".into()),
            // Messages of other extensions this codec does not know are skipped.
            Err(peer::Error::UnknownMessage(_)) => continue,
            Err(e) => return Err(e.to_string()),
        };
        match msg {
            Message::Hashes { request, hashes } => {
                let Some(pieces) = pending.remove(&request) else {
                    return Err("hashes nobody asked for".into());
                };
                let root = request.pieces_root;
                let got = check_layer_hashes(&root, pl, pieces, &request, &hashes)
                    .ok_or("hashes that do not prove to their root")?;
                let layer = layers.entry(root).or_default();
                let at = request.index as usize;
                if layer.len() < at + got.len() {
                    layer.resize(at + got.len(), [0; 32]);
                }
                layer[at..at + got.len()].copy_from_slice(&got);
            }
            Message::HashReject(_) if !v2 => {
                return Err("hash request rejected (no v2 bit in its handshake)".into())
            }
            Message::HashReject(_) => return Err("hash request rejected".into()),
            _ => {}
        }
    }
    for &(root, pieces) in want {
        if let Some(l) = layers.get_mut(&root) {
            l.truncate(pieces as usize);
        }
    }
    Ok(layers)
}

fn read_full(s: &mut TcpStream, buf: &mut [u8], deadline: Instant) -> Result<(), String> {
    let mut at = 0;
    while at < buf.len() {
        if Instant::now() >= deadline {
            return Err("timed out".into());
        }
        match s.read(&mut buf[at..]) {
            Ok(0) => return Err("closed".into()),
            Ok(n) => at += n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(())
}
