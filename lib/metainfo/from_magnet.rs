//! A complete `.torrent` from a magnet link and the info dictionary fetched for it (BEP 9), as
//! `bt-fetch --torrent-out` writes it; and the magnet's `x.pe` peers as socket addresses.
//!
//! Pure functions. The info bytes are written exactly as received, so the file's info hash is
//! the magnet's; [`torrent_from_magnet`] refuses bytes that do not hash to the magnet's info
//! hash (SHA-1 for `btih`, SHA-256 for `btmh`), and returns only a file that
//! [`Torrent::from_bytes`] accepts. A v2 torrent's `piece layers`, which a magnet's peers send
//! in answer to `hash request`s, go outside `info` ([`torrent_from_magnet_with_layers`]), so the
//! written file verifies on its own and keeps the magnet's info hash.

use super::{hex, Error, Magnet, Torrent};
use sha1::{Digest, Sha1};
use sha2::Sha256;
use std::collections::HashMap;
use std::net::SocketAddr;

impl Magnet {
    /// The `x.pe` peers that are literal addresses (`1.2.3.4:6881`, `[::1]:6881`), in order;
    /// host names (which would need a lookup) and malformed entries are left out.
    pub fn peer_addrs(&self) -> Vec<SocketAddr> {
        self.peers
            .iter()
            .filter_map(|p| p.parse::<SocketAddr>().ok())
            .filter(|a| a.port() != 0)
            .collect()
    }
}

fn bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(b.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(b);
}

/// The `.torrent` for `magnet` with the fetched `info_bytes`: `announce` (the first tracker),
/// `announce-list` (one tier per tracker, in the magnet's order, when there are trackers),
/// `info` (the bytes as received) and `url-list` (the web seeds, when there are any), keys in
/// canonical order. Returns the file's bytes and the validated torrent.
pub fn torrent_from_magnet(
    magnet: &Magnet,
    info_bytes: &[u8],
) -> Result<(Vec<u8>, Torrent), Error> {
    torrent_from_magnet_with_layers(magnet, info_bytes, &HashMap::new())
}

/// [`torrent_from_magnet`] with a v2 torrent's `piece layers` (pieces root -> piece hashes)
/// written after `info` (BEP 52: outside the info dictionary, whose bytes stay as received);
/// an empty map writes no `piece layers` key. Every entry must belong to a file and hash to its
/// root, as [`Torrent::from_bytes`] checks.
pub fn torrent_from_magnet_with_layers(
    magnet: &Magnet,
    info_bytes: &[u8],
    layers: &HashMap<[u8; 32], Vec<[u8; 32]>>,
) -> Result<(Vec<u8>, Torrent), Error> {
    let check = |got: &[u8], want: &[u8], what: &str| {
        if got == want {
            Ok(())
        } else {
            Err(Error::Magnet(format!(
                "info dictionary hashes to {}, not the magnet's {what} {}",
                hex(got),
                hex(want)
            )))
        }
    };
    if let Some(h) = magnet.info_hash {
        check(&Sha1::digest(info_bytes), &h.0, "info hash")?;
    }
    if let Some(h) = magnet.info_hash_v2 {
        check(&Sha256::digest(info_bytes), &h.0, "btmh (SHA-256)")?;
    }
    if magnet.info_hash.is_none() && magnet.info_hash_v2.is_none() {
        return Err(Error::Magnet("the magnet link has no info hash".into()));
    }
    let mut out = b"d".to_vec();
    if let Some(first) = magnet.trackers.first() {
        bytes(&mut out, b"announce");
        bytes(&mut out, first.as_bytes());
        bytes(&mut out, b"announce-list");
        out.push(b'l');
        for t in &magnet.trackers {
            out.push(b'l');
            bytes(&mut out, t.as_bytes());
            out.push(b'e');
        }
        out.push(b'e');
    }
    bytes(&mut out, b"info");
    out.extend_from_slice(info_bytes);
    if !layers.is_empty() {
        bytes(&mut out, b"piece layers");
        out.push(b'd');
        let mut roots: Vec<&[u8; 32]> = layers.keys().collect();
        roots.sort();
        for root in roots {
            bytes(&mut out, root);
            bytes(&mut out, layers[root].as_flattened());
        }
        out.push(b'e');
    }
    if !magnet.web_seeds.is_empty() {
        bytes(&mut out, b"url-list");
        out.push(b'l');
        for w in &magnet.web_seeds {
            bytes(&mut out, w.as_bytes());
        }
        out.push(b'e');
    }
    out.push(b'e');
    let torrent = Torrent::from_bytes(&out)?;
    Ok((out, torrent))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metainfo::InfoHash;

    fn info_bytes() -> Vec<u8> {
        // One file of 40000 bytes in pieces of 32 KiB: two piece hashes.
        let mut v = b"d6:lengthi40000e4:name8:file.bin12:piece lengthi32768e6:pieces40:".to_vec();
        v.extend_from_slice(&[0xab; 40]);
        v.push(b'e');
        v
    }

    #[test]
    fn the_torrent_round_trips_with_the_same_info_hash_and_trackers() {
        let info = info_bytes();
        let ih: [u8; 20] = Sha1::digest(&info).into();
        let uri = format!(
            "magnet:?xt=urn:btih:{}&dn=file.bin&tr=http%3A%2F%2F127.0.0.1%3A6969%2Fannounce\
             &tr=udp%3A%2F%2F127.0.0.1%3A6970&ws=http%3A%2F%2F127.0.0.1%3A8080%2F\
             &x.pe=127.0.0.1:51413&x.pe=[::1]:6881&x.pe=example.org:1&x.pe=junk",
            hex(&ih)
        );
        let m = Magnet::parse(&uri).unwrap();
        let (bytes, t) = torrent_from_magnet(&m, &info).unwrap();
        assert_eq!(t.info_hash, Some(InfoHash(ih)));
        assert_eq!(t.info_bytes, info);
        assert!(t.warnings.is_empty(), "{:?}", t.warnings);
        let again = Torrent::from_bytes(&bytes).unwrap();
        assert_eq!(again.info_hash, Some(InfoHash(ih)));
        assert_eq!(
            again.announce.as_deref(),
            Some("http://127.0.0.1:6969/announce")
        );
        assert_eq!(
            again.announce_list,
            vec![
                vec!["http://127.0.0.1:6969/announce".to_string()],
                vec!["udp://127.0.0.1:6970".to_string()]
            ]
        );
        assert_eq!(again.url_list, vec!["http://127.0.0.1:8080/".to_string()]);
        assert_eq!(again.total_length, 40000);
        // The magnet of the written torrent names the same info hash and trackers.
        let back = Magnet::parse(&again.magnet()).unwrap();
        assert_eq!(back.info_hash, m.info_hash);
        assert_eq!(back.trackers, m.trackers);
        // x.pe: literal addresses only.
        assert_eq!(
            m.peer_addrs(),
            vec![
                "127.0.0.1:51413".parse::<SocketAddr>().unwrap(),
                "[::1]:6881".parse().unwrap()
            ]
        );
    }

    #[test]
    fn no_trackers_no_web_seeds_gives_a_bare_torrent() {
        let info = info_bytes();
        let ih: [u8; 20] = Sha1::digest(&info).into();
        let m = Magnet::parse(&format!("magnet:?xt=urn:btih:{}", hex(&ih))).unwrap();
        let (bytes, t) = torrent_from_magnet(&m, &info).unwrap();
        assert!(bytes.starts_with(b"d4:infod"));
        assert_eq!(t.announce, None);
        assert!(t.announce_list.is_empty() && t.url_list.is_empty());
    }

    #[test]
    fn bytes_that_do_not_match_or_do_not_validate_are_refused() {
        let info = info_bytes();
        let m = Magnet::parse(&format!("magnet:?xt=urn:btih:{}", "00".repeat(20))).unwrap();
        let e = torrent_from_magnet(&m, &info).unwrap_err().to_string();
        assert!(e.contains("not the magnet's info hash"), "{e}");
        // Matching hash, but an unsafe name: the torrent validation refuses it.
        let mut bad = b"d6:lengthi1e4:name2:..12:piece lengthi16384e6:pieces20:".to_vec();
        bad.extend_from_slice(&[0; 20]);
        bad.push(b'e');
        let ih: [u8; 20] = Sha1::digest(&bad).into();
        let m = Magnet::parse(&format!("magnet:?xt=urn:btih:{}", hex(&ih))).unwrap();
        assert!(torrent_from_magnet(&m, &bad).is_err());
        // A v2 topic is checked with SHA-256.
        let v2: [u8; 32] = Sha256::digest(&info).into();
        let m = Magnet::parse(&format!("magnet:?xt=urn:btmh:1220{}", "11".repeat(32))).unwrap();
        assert!(torrent_from_magnet(&m, &info).is_err());
        let m = Magnet::parse(&format!("magnet:?xt=urn:btmh:1220{}", hex(&v2))).unwrap();
        // The hash matches; the v1 info dictionary is not a v2 one, so validation decides.
        let r = torrent_from_magnet(&m, &info);
        assert!(!matches!(r, Err(Error::Magnet(_))), "{:?}", r.err());
    }

    #[test]
    fn piece_layers_go_outside_info_and_the_file_verifies_on_its_own() {
        use crate::metainfo::v2::{merkle_root, pad_hash};
        // One file of three 16 KiB pieces: its piece layer has three hashes.
        let layer: Vec<[u8; 32]> = (1..=3u8).map(|k| [k; 32]).collect();
        let root = merkle_root(&layer, pad_hash(16384));
        let mut info = b"d9:file treed3:bigd0:d6:lengthi40000e11:pieces root32:".to_vec();
        info.extend_from_slice(&root);
        info.extend_from_slice(b"eee12:meta versioni2e4:name2:v212:piece lengthi16384ee");
        let v2: [u8; 32] = Sha256::digest(&info).into();
        let m = Magnet::parse(&format!(
            "magnet:?xt=urn:btmh:1220{}&ws=http%3A%2F%2F127.0.0.1%3A8080%2F",
            hex(&v2)
        ))
        .unwrap();
        // Without layers the torrent has none.
        let (_, bare) = torrent_from_magnet(&m, &info).unwrap();
        assert!(bare.piece_layers.is_empty());
        let layers = HashMap::from([(root, layer.clone())]);
        let (bytes, t) = torrent_from_magnet_with_layers(&m, &info, &layers).unwrap();
        let again = Torrent::from_bytes(&bytes).unwrap();
        for t in [&t, &again] {
            assert_eq!(t.info_hash_v2.map(|h| h.0), Some(v2));
            assert_eq!(t.info_bytes, info);
            assert_eq!(t.piece_layers.get(&root), Some(&layer));
            assert_eq!(t.url_list, vec!["http://127.0.0.1:8080/".to_string()]);
        }
        let mut want = b"d4:info".to_vec();
        want.extend_from_slice(&info);
        want.extend_from_slice(b"12:piece layersd32:");
        want.extend_from_slice(&root);
        want.extend_from_slice(b"96:");
        want.extend_from_slice(layer.as_flattened());
        want.extend_from_slice(b"e8:url-list");
        assert!(
            bytes.starts_with(&want),
            "{}",
            String::from_utf8_lossy(&bytes)
        );
        // Layers that do not prove to their root are refused.
        let mut wrong = layer;
        wrong[2] = [9; 32];
        let bad = HashMap::from([(root, wrong)]);
        assert!(torrent_from_magnet_with_layers(&m, &info, &bad).is_err());
    }
}
