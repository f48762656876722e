//! Magnet links (BEP 9, BEP 52): parse `xt=urn:btih:` (40 hex digits or 32 base32 characters),
//! `xt=urn:btmh:1220<sha-256 hex>`, `dn`, `tr`, `ws` and `x.pe`; write them back with every
//! value percent-encoded byte by byte (only RFC 3986 unreserved characters stay literal), so any
//! name or URL survives a round trip.

use super::{unhex, Error, InfoHash, InfoHashV2, Torrent};

/// What a magnet link holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Magnet {
    /// v1 info hash (`xt=urn:btih:`).
    pub info_hash: Option<InfoHash>,
    /// v2 info hash (`xt=urn:btmh:1220...`).
    pub info_hash_v2: Option<InfoHashV2>,
    /// Display name (`dn`); bytes that are not UTF-8 are replaced.
    pub name: Option<String>,
    /// Tracker URLs (`tr`), in order.
    pub trackers: Vec<String>,
    /// Web seeds (`ws`).
    pub web_seeds: Vec<String>,
    /// Peer addresses (`x.pe`), `host:port`.
    pub peers: Vec<String>,
}

impl Magnet {
    /// Parse a `magnet:?` URI. At least one `btih` or `btmh` topic is required; unknown
    /// parameters are ignored. In `dn`, `+` stands for a space (as web forms write it).
    pub fn parse(uri: &str) -> Result<Magnet, Error> {
        let bad = |msg: String| Error::Magnet(msg);
        let uri = uri.trim();
        let rest = match uri.get(..7) {
            Some(p) if p.eq_ignore_ascii_case("magnet:") => &uri[7..],
            _ => return Err(bad(format!("{uri:?} is not a magnet link"))),
        };
        let query = rest.strip_prefix('?').unwrap_or(rest);
        let mut m = Magnet::default();
        for param in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = param.split_once('=').unwrap_or((param, ""));
            let key = key.to_ascii_lowercase();
            // `xt.1`, `tr.2` ... number repeated parameters in some links.
            let base = match key.split_once('.') {
                Some((b, n)) if n.bytes().all(|c| c.is_ascii_digit()) => b,
                _ => key.as_str(),
            };
            let text = || String::from_utf8_lossy(&percent_decode(value, false)).into_owned();
            match base {
                "xt" => m.topic(&text())?,
                "dn" => {
                    m.name =
                        Some(String::from_utf8_lossy(&percent_decode(value, true)).into_owned())
                }
                "tr" => push_unique(&mut m.trackers, text()),
                "ws" => push_unique(&mut m.web_seeds, text()),
                "x.pe" => push_unique(&mut m.peers, text()),
                _ => {}
            }
        }
        if m.info_hash.is_none() && m.info_hash_v2.is_none() {
            return Err(bad(format!(
                "magnet link {uri:?} has no urn:btih or urn:btmh topic"
            )));
        }
        Ok(m)
    }

    fn topic(&mut self, xt: &str) -> Result<(), Error> {
        let lower = xt.to_ascii_lowercase();
        if let Some(h) = lower.strip_prefix("urn:btih:") {
            let hash = unhex::<20>(h).or_else(|| base32_20(h)).ok_or_else(|| {
                Error::Magnet(format!(
                    "btih {h:?} is neither 40 hex digits nor 32 base32 characters"
                ))
            })?;
            self.info_hash.get_or_insert(InfoHash(hash));
        } else if let Some(h) = lower.strip_prefix("urn:btmh:") {
            let hash = h
                .strip_prefix("1220")
                .and_then(unhex::<32>)
                .ok_or_else(|| {
                    Error::Magnet(format!(
                        "btmh {h:?} is not a sha2-256 multihash (1220 and 64 hex digits)"
                    ))
                })?;
            self.info_hash_v2.get_or_insert(InfoHashV2(hash));
        }
        Ok(())
    }

    /// The magnet link: `xt` topics first, then `dn`, `tr`, `ws`, `x.pe`.
    pub fn to_uri(&self) -> String {
        build(
            self.info_hash,
            self.info_hash_v2,
            self.name.as_ref().map(|n| n.as_bytes()),
            &self.trackers,
            &self.web_seeds,
            &self.peers,
        )
    }
}

impl Torrent {
    /// The magnet link of this torrent: `xt=urn:btih:` (v1) and/or `xt=urn:btmh:` (v2), `dn`
    /// (the raw name bytes, percent-encoded) and a `tr` for every tracker of every tier.
    pub fn magnet(&self) -> String {
        let mut trackers = Vec::new();
        for url in self.tiers().into_iter().flatten() {
            push_unique(&mut trackers, url);
        }
        build(
            self.info_hash,
            self.info_hash_v2,
            Some(&self.name),
            &trackers,
            &[],
            &[],
        )
    }
}

fn build(
    v1: Option<InfoHash>,
    v2: Option<InfoHashV2>,
    name: Option<&[u8]>,
    trackers: &[String],
    web_seeds: &[String],
    peers: &[String],
) -> String {
    let mut params: Vec<String> = Vec::new();
    if let Some(h) = v1 {
        params.push(format!("xt=urn:btih:{}", h.hex()));
    }
    if let Some(h) = v2 {
        params.push(format!("xt=urn:btmh:1220{}", h.hex()));
    }
    if let Some(n) = name {
        params.push(format!("dn={}", percent_encode(n)));
    }
    for (key, values) in [("tr", trackers), ("ws", web_seeds), ("x.pe", peers)] {
        for v in values {
            params.push(format!("{key}={}", percent_encode(v.as_bytes())));
        }
    }
    format!("magnet:?{}", params.join("&"))
}

fn push_unique(list: &mut Vec<String>, v: String) {
    if !v.is_empty() && !list.contains(&v) {
        list.push(v);
    }
}

/// The bytes [`percent_encode`] escapes: all but the RFC 3986 unreserved characters
/// (`A-Z a-z 0-9 - . _ ~`).
const NOT_UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encode every byte except RFC 3986 unreserved characters (as `%XX`, upper case).
pub fn percent_encode(bytes: &[u8]) -> String {
    percent_encoding::percent_encode(bytes, NOT_UNRESERVED).to_string()
}

/// Decode `%XX` escapes (a `%` not followed by two hex digits stays literal); with `plus`,
/// `+` becomes a space.
pub fn percent_decode(s: &str, plus: bool) -> Vec<u8> {
    if plus && s.contains('+') {
        // A literal `+` only: an escaped one (`%2B`) is no `+` until decoded.
        return percent_encoding::percent_decode_str(&s.replace('+', " ")).collect();
    }
    percent_encoding::percent_decode_str(s).collect()
}

/// 32 RFC 4648 base32 characters (either case) to 20 bytes.
fn base32_20(s: &str) -> Option<[u8; 20]> {
    if s.len() != 32 {
        return None;
    }
    let mut out = [0u8; 20];
    let (mut acc, mut bits, mut n) = (0u64, 0u32, 0usize);
    for c in s.bytes() {
        let v = match c.to_ascii_uppercase() {
            c @ b'A'..=b'Z' => c - b'A',
            c @ b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        acc = (acc << 5) | v as u64;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out[n] = (acc >> bits) as u8;
            n += 1;
        }
    }
    Some(out)
}
