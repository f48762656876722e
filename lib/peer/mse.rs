//! Message Stream Encryption (MSE/PE): the obfuscated handshake that aria2, Transmission,
//! qBittorrent and libtorrent try first when they connect to a peer, both sides of it, and the
//! RC4 [`Cipher`] that wraps the rest of the stream when RC4 is selected.
//!
//! No I/O here: [`Initiator`] and [`Responder`] are state machines fed with the bytes read from
//! the connection. `want` says how many bytes the caller may read next; it never asks for a
//! byte beyond the end of the handshake, so whatever follows on the wire is left in the socket
//! for the ordinary peer protocol. `feed` returns the bytes to send back.
//!
//! The exchange: the initiator sends its Diffie-Hellman key Ya and up to 512 bytes of padding
//! (PadA); the responder answers with Yb and its padding (PadB). Both compute the secret S. The
//! initiator then sends `SHA1("req1", S)` (the responder searches for it to skip PadA),
//! `SHA1("req2", info hash) xor SHA1("req3", S)` (names the torrent without revealing it), and,
//! RC4-encrypted, eight zero bytes (VC), the crypto methods it offers, its padding (PadC) and the
//! initial payload (usually the BitTorrent handshake). The responder answers, RC4-encrypted, VC,
//! the method it selects and its padding (PadD); the initiator finds the encrypted VC to skip
//! PadB. RC4 keys are `SHA1("keyA"|"keyB", S, info hash)` (keyA encrypts what the initiator
//! sends); the first 1024 bytes of each keystream are discarded. When RC4 is selected the same
//! two keystreams go on over the whole connection; when plaintext is selected they stop after
//! the handshake.
//!
//! Invariants: every length read from the peer is bounded (padding 512 bytes, the initial
//! payload 65535 bytes by its 16-bit length, the synchronisation searches 512 + 20 bytes) and
//! every buffer here is bounded by them. A [`Policy`] decides the methods: `require` never
//! selects or accepts plaintext, `off` never RC4.

use sha1::{Digest, Sha1};
use std::fmt;

/// Crypto method bit: plaintext after the handshake.
pub const CRYPTO_PLAIN: u32 = 0x01;
/// Crypto method bit: the whole stream stays RC4-encrypted.
pub const CRYPTO_RC4: u32 = 0x02;
/// Length of a Diffie-Hellman public key on the wire.
pub const KEY_LEN: usize = 96;
/// Largest padding allowed by the protocol.
pub const MAX_PAD: usize = 512;

/// The 768-bit prime P of the MSE specification, big-endian. Note: it is NOT the RFC 2409
/// (Oakley group 1) prime, which shares its first 720 bits and ends in 64 one bits.
const PRIME: [u8; KEY_LEN] = [
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xC9, 0x0F, 0xDA, 0xA2, 0x21, 0x68, 0xC2, 0x34,
    0xC4, 0xC6, 0x62, 0x8B, 0x80, 0xDC, 0x1C, 0xD1, 0x29, 0x02, 0x4E, 0x08, 0x8A, 0x67, 0xCC, 0x74,
    0x02, 0x0B, 0xBE, 0xA6, 0x3B, 0x13, 0x9B, 0x22, 0x51, 0x4A, 0x08, 0x79, 0x8E, 0x34, 0x04, 0xDD,
    0xEF, 0x95, 0x19, 0xB3, 0xCD, 0x3A, 0x43, 0x1B, 0x30, 0x2B, 0x0A, 0x6D, 0xF2, 0x5F, 0x14, 0x37,
    0x4F, 0xE1, 0x35, 0x6D, 0x6D, 0x51, 0xC2, 0x45, 0xE4, 0x85, 0xB5, 0x76, 0x62, 0x5E, 0x7E, 0xC6,
    0xF4, 0x4C, 0x42, 0xE9, 0xA6, 0x3A, 0x36, 0x21, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0x05, 0x63,
];

/// Why a handshake failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The initiator's public key is not in 2..P-1.
    BadKey,
    /// `SHA1("req1", S)` was not found within the allowed padding.
    NoSync,
    /// The stream names no torrent we serve.
    UnknownTorrent,
    /// The decrypted verification constant is not eight zero bytes.
    BadVc,
    /// A padding length is over 512.
    PadTooLong,
    /// The initial payload is longer than the limit set with [`Responder::max_initial_payload`].
    IaTooLong,
    /// No offered crypto method is one we accept.
    NoCommonMethod,
    /// The responder selected a method we did not offer, or more than one.
    BadSelect(u32),
    /// `feed` was given more bytes than `want` allowed, or called after the end.
    Misuse,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Error::BadSelect(m) = self {
            return write!(
                f,
                "MSE: the peer selected crypto method {m:#x}, not one we offered"
            );
        }
        f.write_str(match self {
            Error::BadKey => "MSE: invalid public key",
            Error::NoSync => "MSE: no synchronisation hash within the padding limit",
            Error::UnknownTorrent => "MSE: unknown torrent",
            Error::BadVc => "MSE: bad verification constant",
            Error::PadTooLong => "MSE: padding longer than 512 bytes",
            Error::IaTooLong => "MSE: initial payload too long",
            Error::NoCommonMethod => "MSE: no common crypto method",
            Error::BadSelect(_) => unreachable!("written above"),
            Error::Misuse => "MSE: internal misuse of the handshake state machine",
        })
    }
}

impl std::error::Error for Error {}

// ---- 768-bit arithmetic: little-endian u64 limbs, Montgomery multiplication ----

const LIMBS: usize = KEY_LEN / 8;
type Num = [u64; LIMBS];

fn from_be(b: &[u8; KEY_LEN]) -> Num {
    let mut n = [0u64; LIMBS];
    for (i, limb) in n.iter_mut().enumerate() {
        let at = KEY_LEN - 8 * (i + 1);
        *limb = u64::from_be_bytes(b[at..at + 8].try_into().expect("8 bytes"));
    }
    n
}

fn to_be(n: &Num) -> [u8; KEY_LEN] {
    let mut b = [0u8; KEY_LEN];
    for (i, limb) in n.iter().enumerate() {
        let at = KEY_LEN - 8 * (i + 1);
        b[at..at + 8].copy_from_slice(&limb.to_be_bytes());
    }
    b
}

fn ge(a: &Num, b: &Num) -> bool {
    for i in (0..LIMBS).rev() {
        if a[i] != b[i] {
            return a[i] > b[i];
        }
    }
    true
}

/// `a - b`, wrapping; returns the borrow.
fn sub(a: &mut Num, b: &Num) -> bool {
    let mut borrow = false;
    for i in 0..LIMBS {
        let (d, b1) = a[i].overflowing_sub(b[i]);
        let (d, b2) = d.overflowing_sub(borrow as u64);
        a[i] = d;
        borrow = b1 || b2;
    }
    borrow
}

/// An odd modulus with its Montgomery constants.
struct Modulus {
    n: Num,
    /// `-n^-1 mod 2^64`.
    n0: u64,
    /// `R^2 mod n`, R = 2^768.
    r2: Num,
}

impl Modulus {
    fn new(n: Num) -> Modulus {
        debug_assert!(n[0] & 1 == 1);
        // Newton's iteration doubles the correct low bits each step: 1 -> 64 in 6 steps.
        let mut inv: u64 = 1;
        for _ in 0..6 {
            inv = inv.wrapping_mul(2u64.wrapping_sub(n[0].wrapping_mul(inv)));
        }
        // R^2 mod n by doubling 1, 2 * 768 times, reducing each time.
        let mut r = [0u64; LIMBS];
        r[0] = 1;
        for _ in 0..2 * 64 * LIMBS {
            let carry = r[LIMBS - 1] >> 63;
            for i in (1..LIMBS).rev() {
                r[i] = (r[i] << 1) | (r[i - 1] >> 63);
            }
            r[0] <<= 1;
            if carry == 1 || ge(&r, &n) {
                sub(&mut r, &n);
            }
        }
        Modulus {
            n,
            n0: inv.wrapping_neg(),
            r2: r,
        }
    }

    /// Montgomery product `a * b / R mod n` (inputs below n).
    fn mul(&self, a: &Num, b: &Num) -> Num {
        let mut t = [0u64; LIMBS + 2];
        for &bi in b.iter() {
            let mut c: u128 = 0;
            for j in 0..LIMBS {
                let v = t[j] as u128 + a[j] as u128 * bi as u128 + c;
                t[j] = v as u64;
                c = v >> 64;
            }
            let v = t[LIMBS] as u128 + c;
            t[LIMBS] = v as u64;
            t[LIMBS + 1] = (v >> 64) as u64;
            let m = t[0].wrapping_mul(self.n0);
            let v = t[0] as u128 + m as u128 * self.n[0] as u128;
            let mut c = v >> 64;
            for j in 1..LIMBS {
                let v = t[j] as u128 + m as u128 * self.n[j] as u128 + c;
                t[j - 1] = v as u64;
                c = v >> 64;
            }
            let v = t[LIMBS] as u128 + c;
            t[LIMBS - 1] = v as u64;
            t[LIMBS] = t[LIMBS + 1] + (v >> 64) as u64;
        }
        let mut r: Num = t[..LIMBS].try_into().expect("LIMBS limbs");
        if t[LIMBS] != 0 || ge(&r, &self.n) {
            sub(&mut r, &self.n);
        }
        r
    }

    /// `base ^ exp mod n`; `exp` is big-endian bytes, `base` below n.
    fn pow(&self, base: &Num, exp: &[u8]) -> Num {
        let mut one = [0u64; LIMBS];
        one[0] = 1;
        let x = self.mul(base, &self.r2);
        let mut acc = self.mul(&one, &self.r2);
        for byte in exp {
            for bit in (0..8).rev() {
                acc = self.mul(&acc, &acc);
                if byte >> bit & 1 == 1 {
                    acc = self.mul(&acc, &x);
                }
            }
        }
        self.mul(&acc, &one)
    }
}

/// A Diffie-Hellman key pair over the MSE group (P, G = 2).
pub struct KeyPair {
    private: [u8; 20],
    /// Our public key `G^x mod P`, as sent on the wire.
    pub public: [u8; KEY_LEN],
    modulus: Modulus,
}

impl KeyPair {
    /// The key pair for the 160-bit private exponent `private` (give it random bytes).
    pub fn new(private: [u8; 20]) -> KeyPair {
        let modulus = Modulus::new(from_be(&PRIME));
        let mut g = [0u64; LIMBS];
        g[0] = 2;
        let public = to_be(&modulus.pow(&g, &private));
        KeyPair {
            private,
            public,
            modulus,
        }
    }

    /// The shared secret S from the other side's public key; an error when the key is not in
    /// 2..P-1 (such keys give a predictable secret).
    pub fn shared(&self, theirs: &[u8; KEY_LEN]) -> Result<[u8; KEY_LEN], Error> {
        let y = from_be(theirs);
        let mut top = self.modulus.n;
        top[0] -= 1; // P - 1; P is odd so no borrow
        let mut two = [0u64; LIMBS];
        two[0] = 2;
        if !ge(&y, &two) || ge(&y, &top) {
            return Err(Error::BadKey);
        }
        Ok(to_be(&self.modulus.pow(&y, &self.private)))
    }
}

// ---- hashes and RC4 ----

fn sha1(parts: &[&[u8]]) -> [u8; 20] {
    let mut h = Sha1::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// `SHA1("req1", S)`: the synchronisation marker the initiator sends after its padding.
pub fn req1(s: &[u8; KEY_LEN]) -> [u8; 20] {
    sha1(&[b"req1", s])
}

/// `SHA1("req2", info_hash) xor SHA1("req3", S)`: how the initiator names its torrent.
pub fn req23(info_hash: &[u8; 20], s: &[u8; KEY_LEN]) -> [u8; 20] {
    let a = sha1(&[b"req2", info_hash]);
    let b = sha1(&[b"req3", s]);
    std::array::from_fn(|i| a[i] ^ b[i])
}

/// The RC4 stream cipher with a 20-byte key, as MSE uses it (the `rc4` crate does the work).
pub struct Rc4(rc4::Rc4<rc4::consts::U20>);

impl Rc4 {
    /// A cipher keyed with `key`.
    pub fn new(key: &[u8; 20]) -> Rc4 {
        use rc4::KeyInit;
        Rc4(rc4::Rc4::new(key.into()))
    }

    /// Encrypt or decrypt `data` in place (the same operation).
    pub fn apply(&mut self, data: &mut [u8]) {
        use rc4::StreamCipher;
        self.0.apply_keystream(data);
    }

    /// The MSE cipher for `name` ("keyA": initiator to responder, "keyB": the other way), with
    /// the first 1024 keystream bytes discarded.
    pub fn mse(name: &[u8; 4], s: &[u8; KEY_LEN], info_hash: &[u8; 20]) -> Rc4 {
        let mut c = Rc4::new(&sha1(&[name, s, info_hash]));
        c.apply(&mut [0u8; 1024]);
        c
    }
}

// ---- policy, random keys, the stream cipher ----

/// Which connections are encrypted (the `--encryption prefer|require|off` flag).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    /// Dial with MSE offering both methods, fall back to a plain handshake when the peer does
    /// not answer it; accept both. As responder, plaintext is selected when the initiator
    /// offers it (the header stays obfuscated, the bulk data costs nothing), RC4 otherwise (as
    /// libtorrent does with its default `prefer_rc4 = false`).
    #[default]
    Prefer,
    /// Only MSE with RC4 for the whole stream: plaintext is neither offered, selected nor
    /// accepted, and a plain BitTorrent handshake is refused.
    Require,
    /// Never RC4: dial with a plain handshake; an MSE handshake from a peer is answered only
    /// when it offers plaintext.
    Off,
}

impl Policy {
    /// The crypto methods offered as initiator (`crypto_provide`) and accepted as responder: a
    /// mask of [`CRYPTO_PLAIN`] and [`CRYPTO_RC4`].
    pub fn methods(self) -> u32 {
        match self {
            Policy::Prefer => CRYPTO_PLAIN | CRYPTO_RC4,
            Policy::Require => CRYPTO_RC4,
            Policy::Off => CRYPTO_PLAIN,
        }
    }

    /// Whether to open outgoing connections with an MSE handshake (else a plain one).
    pub fn dial_encrypted(self) -> bool {
        self != Policy::Off
    }

    /// Whether an outgoing connection whose MSE handshake the peer did not answer may be
    /// retried with a plain handshake.
    pub fn plain_fallback(self) -> bool {
        self == Policy::Prefer
    }

    /// Whether an incoming plain BitTorrent handshake is accepted.
    pub fn accepts_plain(self) -> bool {
        self != Policy::Require
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Policy::Prefer => "prefer",
            Policy::Require => "require",
            Policy::Off => "off",
        })
    }
}

impl std::str::FromStr for Policy {
    type Err = String;

    /// `prefer`, `require` or `off`.
    fn from_str(s: &str) -> Result<Policy, String> {
        match s {
            "prefer" => Ok(Policy::Prefer),
            "require" => Ok(Policy::Require),
            "off" => Ok(Policy::Off),
            _ => Err(format!(
                "encryption {s:?} is not one of prefer, require, off"
            )),
        }
    }
}

/// Fill `buf` with random bytes for private keys and padding (the one place MSE draws
/// randomness): from the operating system through `getrandom`. A failure is an error, never a
/// predictable fallback: a guessable private key would let anyone decrypt the stream.
fn fill_random(buf: &mut [u8]) -> Result<(), getrandom::Error> {
    getrandom::fill(buf)
}

/// A fresh random 160-bit private exponent.
pub fn random_private() -> Result<[u8; 20], getrandom::Error> {
    let mut k = [0u8; 20];
    fill_random(&mut k)?;
    Ok(k)
}

/// Random padding of a random length below `max` (at most [`MAX_PAD`]).
pub fn random_pad(max: usize) -> Result<Vec<u8>, getrandom::Error> {
    let mut len = [0u8; 2];
    fill_random(&mut len)?;
    let mut pad = vec![0u8; u16::from_be_bytes(len) as usize % max.clamp(1, MAX_PAD + 1)];
    fill_random(&mut pad)?;
    Ok(pad)
}

/// One direction of a connection's stream: RC4 or nothing.
pub struct Keystream(Option<Rc4>);

impl Keystream {
    /// XOR the keystream into `buf` in place (encrypts or decrypts; nothing when plaintext).
    pub fn apply(&mut self, buf: &mut [u8]) {
        if let Some(c) = &mut self.0 {
            c.apply(buf);
        }
    }

    /// Whether bytes are transformed.
    pub fn is_encrypted(&self) -> bool {
        self.0.is_some()
    }
}

/// The transformation of a whole connection after its handshake: two RC4 keystreams when
/// RC4 was selected, the identity otherwise. Apply it to every byte, in order, once.
pub struct Cipher {
    send: Keystream,
    recv: Keystream,
}

impl Cipher {
    /// No encryption (a plain handshake, or MSE with plaintext selected).
    pub fn plain() -> Cipher {
        Cipher {
            send: Keystream(None),
            recv: Keystream(None),
        }
    }

    /// RC4 both ways, from keystreams made elsewhere (tests).
    #[cfg(test)]
    pub(crate) fn from_rc4(send: Rc4, recv: Rc4) -> Cipher {
        Cipher::rc4(send, recv)
    }

    fn rc4(send: Rc4, recv: Rc4) -> Cipher {
        Cipher {
            send: Keystream(Some(send)),
            recv: Keystream(Some(recv)),
        }
    }

    /// Whether the stream is RC4-encrypted.
    pub fn is_encrypted(&self) -> bool {
        self.send.is_encrypted()
    }

    /// Encrypt bytes about to be written, in place.
    pub fn encrypt(&mut self, buf: &mut [u8]) {
        self.send.apply(buf);
    }

    /// Decrypt bytes just read, in place.
    pub fn decrypt(&mut self, buf: &mut [u8]) {
        self.recv.apply(buf);
    }

    /// The two directions apart, for a reader and a writer on different threads:
    /// `(send, recv)`.
    pub fn split(self) -> (Keystream, Keystream) {
        (self.send, self.recv)
    }
}

/// Append `data` to a handshake buffer, refusing more than the state machine asked for.
fn take(buf: &mut Vec<u8>, data: &[u8], want: usize) -> Result<(), Error> {
    if data.len() > want {
        return Err(Error::Misuse);
    }
    buf.extend_from_slice(data);
    Ok(())
}

/// Search `buf` for `marker` after at most [`MAX_PAD`] bytes of padding, resuming where the
/// last search (`searched` bytes) stopped: `Ok(Some(end))` with the offset just past the marker,
/// `Ok(None)` to read more, an error once the padding limit is passed without it.
fn find_marker(buf: &[u8], searched: &mut usize, marker: &[u8]) -> Result<Option<usize>, Error> {
    let from = searched.saturating_sub(marker.len() - 1);
    let end = buf.len().min(MAX_PAD + marker.len());
    if let Some(p) = buf[from..end]
        .windows(marker.len())
        .position(|w| w == marker)
    {
        return Ok(Some(from + p + marker.len()));
    }
    *searched = buf.len();
    if buf.len() >= MAX_PAD + marker.len() {
        return Err(Error::NoSync);
    }
    Ok(None)
}

// ---- the initiator state machine ----

enum IState {
    /// Reading the responder's public key Yb.
    Key,
    /// Searching for the encrypted VC after PadB.
    Sync,
    /// Reading crypto_select and len(PadD).
    Select,
    /// Reading PadD.
    PadD(usize),
    Done,
}

/// The result of a completed handshake, on either side.
pub struct Outcome {
    /// The torrent the initiator named.
    pub info_hash: [u8; 20],
    /// The selected method: [`CRYPTO_PLAIN`] or [`CRYPTO_RC4`].
    pub method: u32,
    /// The responder's view of the initial payload, decrypted (usually the BitTorrent
    /// handshake; may be empty). Always empty on the initiator's side.
    pub ia: Vec<u8>,
    /// What to apply to every further byte of the connection.
    pub cipher: Cipher,
}

/// The initiator side of an MSE handshake: send [`hello`](Self::hello), then read what
/// [`want`](Self::want) allows and [`feed`](Self::feed) it, sending back what it returns, until
/// `want` is zero; [`finish`](Self::finish) then gives the [`Outcome`]. The initial payload
/// (our BitTorrent handshake) travels inside the handshake, so the peer's BitTorrent handshake
/// is the first thing to read afterwards, through the cipher.
pub struct Initiator {
    keys: KeyPair,
    pad_a: Vec<u8>,
    info_hash: [u8; 20],
    provide: u32,
    ia: Vec<u8>,
    state: IState,
    buf: Vec<u8>,
    /// `(encrypt keyA, decrypt keyB, VC as it appears encrypted on the wire)`.
    ciphers: Option<(Rc4, Rc4, [u8; 8])>,
    searched: usize,
    method: u32,
    outcome: Option<Outcome>,
}

impl Initiator {
    /// An initiator with private key bytes `private` (random: [`random_private`]), padding
    /// `pad_a` (at most 512 bytes kept; random: [`random_pad`]), for the torrent `info_hash`,
    /// offering the methods in `provide` (a [`Policy::methods`] mask) and sending `ia` (at most
    /// 65535 bytes kept) as the initial payload.
    pub fn new(
        private: [u8; 20],
        mut pad_a: Vec<u8>,
        info_hash: [u8; 20],
        provide: u32,
        mut ia: Vec<u8>,
    ) -> Initiator {
        pad_a.truncate(MAX_PAD);
        ia.truncate(u16::MAX as usize);
        Initiator {
            keys: KeyPair::new(private),
            pad_a,
            info_hash,
            provide,
            ia,
            state: IState::Key,
            buf: Vec::new(),
            ciphers: None,
            searched: 0,
            method: 0,
            outcome: None,
        }
    }

    /// The first bytes to send: Ya and PadA.
    pub fn hello(&self) -> Vec<u8> {
        let mut v = self.keys.public.to_vec();
        v.extend_from_slice(&self.pad_a);
        v
    }

    /// How many bytes the caller may read and feed next; never past the end of the
    /// handshake. Zero once the handshake is done.
    pub fn want(&self) -> usize {
        match self.state {
            IState::Key => KEY_LEN - self.buf.len(),
            // The encrypted VC is not yet complete in the buffer, so it ends at least one byte
            // later and is followed by 6 more bytes: reading 7 cannot pass the end.
            IState::Sync => 7,
            IState::Select => 6 - self.buf.len(),
            IState::PadD(n) => n - self.buf.len(),
            IState::Done => 0,
        }
    }

    /// Feed bytes read from the responder (at most [`want`](Self::want)); returns the bytes
    /// to send to it (may be empty).
    pub fn feed(&mut self, data: &[u8]) -> Result<Vec<u8>, Error> {
        let want = self.want();
        take(&mut self.buf, data, want)?;
        let mut out = Vec::new();
        loop {
            match self.state {
                IState::Key if self.buf.len() == KEY_LEN => {
                    let yb: [u8; KEY_LEN] = self.buf[..].try_into().expect("key length");
                    let s = self.keys.shared(&yb)?;
                    out.extend_from_slice(&req1(&s));
                    out.extend_from_slice(&req23(&self.info_hash, &s));
                    let mut enc = Rc4::mse(b"keyA", &s, &self.info_hash);
                    let dec = Rc4::mse(b"keyB", &s, &self.info_hash);
                    let mut tail = vec![0u8; 8];
                    tail.extend_from_slice(&self.provide.to_be_bytes());
                    tail.extend_from_slice(&0u16.to_be_bytes()); // no PadC
                    tail.extend_from_slice(&(self.ia.len() as u16).to_be_bytes());
                    tail.extend_from_slice(&self.ia);
                    enc.apply(&mut tail);
                    out.extend_from_slice(&tail);
                    let mut vc = [0u8; 8];
                    Rc4::mse(b"keyB", &s, &self.info_hash).apply(&mut vc);
                    self.ciphers = Some((enc, dec, vc));
                    self.buf.clear();
                    self.state = IState::Sync;
                }
                IState::Sync => {
                    let (_, dec, vc) = self.ciphers.as_mut().ok_or(Error::Misuse)?;
                    let Some(end) = find_marker(&self.buf, &mut self.searched, &vc[..])? else {
                        break;
                    };
                    dec.apply(&mut [0u8; 8]);
                    self.buf.drain(..end);
                    self.state = IState::Select;
                }
                IState::Select if self.buf.len() == 6 => {
                    let (_, dec, _) = self.ciphers.as_mut().ok_or(Error::Misuse)?;
                    dec.apply(&mut self.buf);
                    let select = u32::from_be_bytes(self.buf[..4].try_into().expect("4 bytes"));
                    if select & self.provide != select || select.count_ones() != 1 {
                        return Err(Error::BadSelect(select));
                    }
                    let pad_d = u16::from_be_bytes([self.buf[4], self.buf[5]]) as usize;
                    if pad_d > MAX_PAD {
                        return Err(Error::PadTooLong);
                    }
                    self.method = select;
                    self.buf.clear();
                    self.state = IState::PadD(pad_d);
                }
                IState::PadD(n) if self.buf.len() == n => {
                    let (enc, mut dec, _) = self.ciphers.take().ok_or(Error::Misuse)?;
                    dec.apply(&mut self.buf);
                    self.buf.clear();
                    let cipher = if self.method == CRYPTO_RC4 {
                        Cipher::rc4(enc, dec)
                    } else {
                        Cipher::plain()
                    };
                    self.outcome = Some(Outcome {
                        info_hash: self.info_hash,
                        method: self.method,
                        ia: Vec::new(),
                        cipher,
                    });
                    self.state = IState::Done;
                }
                _ => break,
            }
        }
        Ok(out)
    }

    /// The result, once [`want`](Self::want) is zero.
    pub fn finish(self) -> Option<Outcome> {
        self.outcome
    }
}

// ---- the responder state machine ----

enum State {
    /// Reading the initiator's public key.
    Key,
    /// Searching for `req1` after the initiator's padding.
    Sync,
    /// Reading `req2^req3` and the encrypted VC, crypto_provide and len(PadC).
    Header,
    /// Reading PadC and len(IA).
    PadC(usize),
    /// Reading the initial payload.
    Ia(usize),
    Done,
}

/// The responder side of an MSE handshake.
pub struct Responder {
    keys: KeyPair,
    pad_b: Vec<u8>,
    info_hashes: Vec<[u8; 20]>,
    accept: u32,
    max_ia: usize,
    state: State,
    buf: Vec<u8>,
    secret: [u8; KEY_LEN],
    /// Bytes after Ya searched so far for `req1`.
    searched: usize,
    ciphers: Option<(Rc4, Rc4, [u8; 20])>,
    method: u32,
    outcome: Option<Outcome>,
}

impl Responder {
    /// A responder with random private key bytes `private`, padding `pad_b` (at most 512 bytes,
    /// random), serving `info_hashes`, accepting the methods in `accept` (a mask of
    /// [`CRYPTO_PLAIN`] and [`CRYPTO_RC4`]; plaintext is preferred).
    pub fn new(
        private: [u8; 20],
        mut pad_b: Vec<u8>,
        info_hashes: Vec<[u8; 20]>,
        accept: u32,
    ) -> Responder {
        pad_b.truncate(MAX_PAD);
        Responder {
            keys: KeyPair::new(private),
            pad_b,
            info_hashes,
            accept,
            max_ia: u16::MAX as usize,
            state: State::Key,
            buf: Vec::new(),
            secret: [0; KEY_LEN],
            searched: 0,
            ciphers: None,
            method: 0,
            outcome: None,
        }
    }

    /// Refuse an initial payload longer than `max` bytes (by default any: up to 65535).
    pub fn max_initial_payload(mut self, max: usize) -> Responder {
        self.max_ia = max;
        self
    }

    /// How many bytes the caller may read and feed next; never past the end of the
    /// handshake. Zero once the handshake is done.
    pub fn want(&self) -> usize {
        match self.state {
            State::Key => KEY_LEN - self.buf.len(),
            // req1 is not yet complete in the buffer, so it ends at least one byte later and
            // is followed by 34 more bytes: reading 35 cannot pass the end.
            State::Sync => 35,
            State::Header => 34 - self.buf.len(),
            State::PadC(n) | State::Ia(n) => n - self.buf.len(),
            State::Done => 0,
        }
    }

    /// Feed bytes read from the initiator (at most [`want`](Self::want)); returns the bytes
    /// to send to it (may be empty).
    pub fn feed(&mut self, data: &[u8]) -> Result<Vec<u8>, Error> {
        let want = self.want();
        take(&mut self.buf, data, want)?;
        let mut out = Vec::new();
        loop {
            match self.state {
                State::Key if self.buf.len() == KEY_LEN => {
                    let ya: [u8; KEY_LEN] = self.buf[..].try_into().expect("key length");
                    self.secret = self.keys.shared(&ya)?;
                    out.extend_from_slice(&self.keys.public);
                    out.extend_from_slice(&self.pad_b);
                    self.buf.clear();
                    self.state = State::Sync;
                }
                State::Sync => {
                    let marker = req1(&self.secret);
                    let Some(end) = find_marker(&self.buf, &mut self.searched, &marker)? else {
                        break;
                    };
                    self.buf.drain(..end);
                    self.state = State::Header;
                }
                State::Header if self.buf.len() == 34 => {
                    let named: [u8; 20] = self.buf[..20].try_into().expect("20 bytes");
                    let info_hash = *self
                        .info_hashes
                        .iter()
                        .find(|ih| req23(ih, &self.secret) == named)
                        .ok_or(Error::UnknownTorrent)?;
                    let mut dec = Rc4::mse(b"keyA", &self.secret, &info_hash);
                    let mut enc = Rc4::mse(b"keyB", &self.secret, &info_hash);
                    let mut h: [u8; 14] = self.buf[20..].try_into().expect("14 bytes");
                    dec.apply(&mut h);
                    if h[..8] != [0; 8] {
                        return Err(Error::BadVc);
                    }
                    let provide = u32::from_be_bytes(h[8..12].try_into().expect("4 bytes"));
                    let pad_c = u16::from_be_bytes([h[12], h[13]]) as usize;
                    if pad_c > MAX_PAD {
                        return Err(Error::PadTooLong);
                    }
                    let common = provide & self.accept;
                    self.method = if common & CRYPTO_PLAIN != 0 {
                        CRYPTO_PLAIN
                    } else if common & CRYPTO_RC4 != 0 {
                        CRYPTO_RC4
                    } else {
                        return Err(Error::NoCommonMethod);
                    };
                    let mut reply = [0u8; 14];
                    reply[8..12].copy_from_slice(&self.method.to_be_bytes());
                    enc.apply(&mut reply);
                    out.extend_from_slice(&reply);
                    self.ciphers = Some((dec, enc, info_hash));
                    self.buf.clear();
                    self.state = State::PadC(pad_c + 2);
                }
                State::PadC(n) if self.buf.len() == n => {
                    let (dec, _, _) = self.ciphers.as_mut().ok_or(Error::Misuse)?;
                    dec.apply(&mut self.buf);
                    let ia = u16::from_be_bytes([self.buf[n - 2], self.buf[n - 1]]) as usize;
                    if ia > self.max_ia {
                        return Err(Error::IaTooLong);
                    }
                    self.buf.clear();
                    self.state = State::Ia(ia);
                }
                State::Ia(n) if self.buf.len() == n => {
                    let (mut decrypt, encrypt, info_hash) =
                        self.ciphers.take().ok_or(Error::Misuse)?;
                    let mut ia = std::mem::take(&mut self.buf);
                    decrypt.apply(&mut ia);
                    let cipher = if self.method == CRYPTO_RC4 {
                        Cipher::rc4(encrypt, decrypt)
                    } else {
                        Cipher::plain()
                    };
                    self.outcome = Some(Outcome {
                        info_hash,
                        method: self.method,
                        ia,
                        cipher,
                    });
                    self.state = State::Done;
                }
                _ => break,
            }
        }
        Ok(out)
    }

    /// The result, once [`want`](Self::want) is zero.
    pub fn finish(self) -> Option<Outcome> {
        self.outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn small(v: u64) -> Num {
        let mut n = [0u64; LIMBS];
        n[0] = v;
        n
    }

    #[test]
    fn rc4_matches_a_reference_keystream() {
        // RC4 with the 20-byte key 01 02 .. 14: the first keystream bytes, from the key
        // schedule and generator written out independently here.
        let key: [u8; 20] = std::array::from_fn(|i| i as u8 + 1);
        let mut s: [u8; 256] = std::array::from_fn(|i| i as u8);
        let mut j = 0u8;
        for i in 0..256 {
            j = j.wrapping_add(s[i]).wrapping_add(key[i % 20]);
            s.swap(i, j as usize);
        }
        let (mut i, mut j) = (0u8, 0u8);
        let reference: Vec<u8> = (0..1100)
            .map(|_| {
                i = i.wrapping_add(1);
                j = j.wrapping_add(s[i as usize]);
                s.swap(i as usize, j as usize);
                s[s[i as usize].wrapping_add(s[j as usize]) as usize]
            })
            .collect();
        let mut ks = vec![0u8; 1100];
        let mut c = Rc4::new(&key);
        c.apply(&mut ks[..3]);
        c.apply(&mut ks[3..]);
        assert_eq!(ks, reference);
        // The MSE cipher drops the first 1024 bytes.
        let secret = [7u8; KEY_LEN];
        let k = sha1(&[b"keyA", &secret, &[9; 20]]);
        let mut full = vec![0u8; 1040];
        Rc4::new(&k).apply(&mut full);
        let mut tail = vec![0u8; 16];
        Rc4::mse(b"keyA", &secret, &[9; 20]).apply(&mut tail);
        assert_eq!(tail, full[1024..]);
    }

    #[test]
    fn modexp_small_values() {
        let m = Modulus::new(small(1_000_003));
        assert_eq!(m.pow(&small(2), &[10]), small(1024));
        // Fermat: 3^(p-1) = 1 mod p for the prime 1000003.
        assert_eq!(m.pow(&small(3), &1_000_002u32.to_be_bytes()), small(1));
        assert_eq!(m.pow(&small(7), &[0]), small(1));
        assert_eq!(m.pow(&small(7), &[3]), small(343));
    }

    #[test]
    fn public_key_matches_an_independent_computation() {
        // 2^0x0123456789abcdef0123456789abcdef01234567 mod P, computed with Python's pow().
        let x: [u8; 20] = unhex("0123456789abcdef0123456789abcdef01234567")
            .try_into()
            .unwrap();
        let expect = unhex(concat!(
            "6fd4bc7aa649593205ec30348a3ccc737b61fa01e9e1762c2c53eb69033afecb",
            "df7c13b8ac3643af78d0760b0f42db009f2b96c970f009d060faf617f117d0f1",
            "c221cea0561b9a86e852fc70a6f09ad0f82378603aa5e56b811deb3f534bf276"
        ));
        assert_eq!(KeyPair::new(x).public.to_vec(), expect);
    }

    #[test]
    fn shared_secret_matches_an_independent_computation() {
        // y = 3^12345678901234567890 mod P and y^0x1111..11 mod P, computed with Python's pow().
        let y: [u8; KEY_LEN] = unhex(concat!(
            "85c12b5dc634507eb48d1e58f9bcca74a1b3ff28a525ccf2a5125d18bc57f611",
            "d6ba1d97473786516361ee211441d04bca86370329b19b80efcc4f0f9a476e41",
            "9c907dca7f9845df57d750d6e735091d76f7efb451bc7a02db89027732ca8e2e"
        ))
        .try_into()
        .unwrap();
        let expect = unhex(concat!(
            "9a6939a34e9919ac5fa6b3a2e6556577c31f4fe32c09e8fcd280d33993603d5a",
            "fcbb737344245fd78b77ab24107b0e4efe62982e98790ffcf8b2306ecc4e9589",
            "6a97ee30060f156d0ef7fc3f0587c4982d3eddab0293485d2e62c5a68c978631"
        ));
        assert_eq!(
            KeyPair::new([0x11; 20]).shared(&y).unwrap().to_vec(),
            expect
        );
    }

    #[test]
    fn both_sides_compute_the_same_secret() {
        let a = KeyPair::new([0x11; 20]);
        let b = KeyPair::new([0xe7; 20]);
        let s1 = a.shared(&b.public).unwrap();
        let s2 = b.shared(&a.public).unwrap();
        assert_eq!(s1, s2);
        assert_ne!(s1, [0; KEY_LEN]);
        assert_eq!(a.shared(&[0; KEY_LEN]), Err(Error::BadKey));
        let mut one = [0; KEY_LEN];
        one[KEY_LEN - 1] = 1;
        assert_eq!(a.shared(&one), Err(Error::BadKey));
        assert_eq!(a.shared(&PRIME), Err(Error::BadKey));
    }

    /// A hand-written initiator, independent of [`Initiator`]: returns (bytes it sends first, then after seeing Yb the rest).
    struct Scripted {
        keys: KeyPair,
        info_hash: [u8; 20],
        provide: u32,
        pad_a: usize,
        pad_c: usize,
        ia: Vec<u8>,
    }

    impl Scripted {
        fn first(&self) -> Vec<u8> {
            let mut v = self.keys.public.to_vec();
            v.extend(std::iter::repeat_n(0xa5, self.pad_a));
            v
        }

        /// Everything after Yb, and the decryptor for the responder's reply.
        fn second(&self, yb: &[u8; KEY_LEN]) -> (Vec<u8>, Rc4, [u8; KEY_LEN]) {
            let s = self.keys.shared(yb).unwrap();
            let mut v = req1(&s).to_vec();
            v.extend_from_slice(&req23(&self.info_hash, &s));
            let mut enc = Rc4::mse(b"keyA", &s, &self.info_hash);
            let mut tail = vec![0u8; 8];
            tail.extend_from_slice(&self.provide.to_be_bytes());
            tail.extend_from_slice(&(self.pad_c as u16).to_be_bytes());
            tail.extend(std::iter::repeat_n(0u8, self.pad_c));
            tail.extend_from_slice(&(self.ia.len() as u16).to_be_bytes());
            tail.extend_from_slice(&self.ia);
            enc.apply(&mut tail);
            v.extend_from_slice(&tail);
            (v, Rc4::mse(b"keyB", &s, &self.info_hash), s)
        }
    }

    /// Drive `r` with `wire` in chunks of at most `chunk` (and at most `want`); returns what
    /// it sent and how many bytes it consumed.
    fn drive(r: &mut Responder, wire: &[u8], chunk: usize) -> Result<(Vec<u8>, usize), Error> {
        let mut at = 0;
        let mut sent = Vec::new();
        while at < wire.len() && r.want() > 0 {
            let n = r.want().min(chunk).min(wire.len() - at);
            sent.extend(r.feed(&wire[at..at + n])?);
            at += n;
        }
        Ok((sent, at))
    }

    fn handshake(provide: u32, accept: u32, pad_a: usize, chunk: usize) -> Result<Outcome, Error> {
        let ih = [0x42; 20];
        let init = Scripted {
            keys: KeyPair::new([0x33; 20]),
            info_hash: ih,
            provide,
            pad_a,
            pad_c: 7,
            ia: b"hello initial payload".to_vec(),
        };
        let mut r = Responder::new([0x5a; 20], vec![9; 13], vec![[1; 20], ih], accept);
        let (sent, used) = drive(&mut r, &init.first(), chunk)?;
        assert_eq!(used, KEY_LEN + pad_a);
        assert_eq!(sent.len(), KEY_LEN + 13);
        let yb: [u8; KEY_LEN] = sent[..KEY_LEN].try_into().unwrap();
        let (mut wire, mut dec, _) = init.second(&yb);
        wire.extend_from_slice(b"TRAILING PLAINTEXT");
        let (mut reply, used) = drive(&mut r, &wire, chunk)?;
        // The responder stops exactly at the end of the handshake.
        assert_eq!(&wire[used..], b"TRAILING PLAINTEXT");
        assert_eq!(r.want(), 0);
        assert_eq!(reply.len(), 14);
        dec.apply(&mut reply);
        assert_eq!(reply[..8], [0; 8]);
        let o = r.finish().unwrap();
        assert_eq!(
            u32::from_be_bytes(reply[8..12].try_into().unwrap()),
            o.method
        );
        assert_eq!(o.info_hash, ih);
        assert_eq!(o.ia, b"hello initial payload");
        Ok(o)
    }

    #[test]
    fn full_handshake_selects_plaintext_when_offered() {
        for (pad_a, chunk) in [(0, 1000), (512, 1000), (100, 1), (37, 7)] {
            let o = handshake(CRYPTO_PLAIN | CRYPTO_RC4, CRYPTO_PLAIN, pad_a, chunk).unwrap();
            assert_eq!(o.method, CRYPTO_PLAIN);
        }
        let o = handshake(CRYPTO_RC4, CRYPTO_PLAIN | CRYPTO_RC4, 5, 1000).unwrap();
        assert_eq!(o.method, CRYPTO_RC4);
    }

    #[test]
    fn refusals() {
        assert!(matches!(
            handshake(CRYPTO_RC4, CRYPTO_PLAIN, 0, 1000),
            Err(Error::NoCommonMethod)
        ));
        // Unknown torrent.
        let init = Scripted {
            keys: KeyPair::new([0x33; 20]),
            info_hash: [0x77; 20],
            provide: 3,
            pad_a: 0,
            pad_c: 0,
            ia: Vec::new(),
        };
        let mut r = Responder::new([0x5a; 20], Vec::new(), vec![[1; 20]], 1);
        let (sent, _) = drive(&mut r, &init.first(), 1000).unwrap();
        let (wire, _, _) = init.second(&sent[..KEY_LEN].try_into().unwrap());
        assert_eq!(
            drive(&mut r, &wire, 1000).err(),
            Some(Error::UnknownTorrent)
        );
        // An initial payload over the limit is refused before it is read.
        let init = Scripted {
            info_hash: [1; 20],
            ia: vec![0; 69],
            ..init
        };
        let mut r =
            Responder::new([0x5a; 20], Vec::new(), vec![[1; 20]], 1).max_initial_payload(68);
        let (sent, _) = drive(&mut r, &init.first(), 1000).unwrap();
        let (wire, _, _) = init.second(&sent[..KEY_LEN].try_into().unwrap());
        assert_eq!(drive(&mut r, &wire, 1000).err(), Some(Error::IaTooLong));
        // PadA of 513 bytes: refused even when req1 arrives in the same read.
        for chunk in [35, 1000] {
            assert_eq!(
                handshake(CRYPTO_PLAIN, CRYPTO_PLAIN, 513, chunk).err(),
                Some(Error::NoSync),
                "chunk {chunk}"
            );
            assert!(handshake(CRYPTO_PLAIN, CRYPTO_PLAIN, 512, chunk).is_ok());
        }
        // No sync marker within 512 bytes of padding: the search is bounded.
        let mut r = Responder::new([0x5a; 20], Vec::new(), vec![[1; 20]], 1);
        drive(&mut r, &init.first(), 1000).unwrap();
        let junk = vec![0u8; 2000];
        assert_eq!(drive(&mut r, &junk, 1000).err(), Some(Error::NoSync));
    }

    /// A byte pipe with a read position.
    #[derive(Default)]
    struct Pipe {
        data: Vec<u8>,
        read: usize,
    }

    impl Pipe {
        fn take(&mut self, want: usize, chunk: usize) -> &[u8] {
            let n = want.min(chunk).min(self.data.len() - self.read);
            self.read += n;
            &self.data[self.read - n..self.read]
        }
    }

    /// Run an initiator and a responder against each other in memory, each reading at most
    /// `chunk` bytes at a time; then each sends a message through its cipher. Returns both
    /// outcomes' methods, or the first error.
    fn converse(
        provide: u32,
        accept: u32,
        pad_a: usize,
        pad_b: usize,
        chunk: usize,
    ) -> Result<u32, Error> {
        let ih = [0x42; 20];
        let hs = b"the initiator's BitTorrent handshake".to_vec();
        let mut i = Initiator::new([0x21; 20], vec![0xa5; pad_a], ih, provide, hs.clone());
        let mut r = Responder::new([0x5a; 20], vec![9; pad_b], vec![[1; 20], ih], accept);
        let (mut to_r, mut to_i) = (Pipe::default(), Pipe::default());
        to_r.data = i.hello();
        for _ in 0..10_000 {
            if i.want() == 0 && r.want() == 0 {
                break;
            }
            let got = to_i.take(i.want(), chunk).to_vec();
            to_r.data.extend(i.feed(&got)?);
            let got = to_r.take(r.want(), chunk).to_vec();
            to_i.data.extend(r.feed(&got)?);
        }
        let oi = i.finish().expect("initiator finished");
        let or = r.finish().expect("responder finished");
        assert_eq!(oi.method, or.method);
        assert_eq!(or.info_hash, ih);
        assert_eq!(or.ia, hs);
        assert_eq!(oi.cipher.is_encrypted(), oi.method == CRYPTO_RC4);
        assert_eq!(or.cipher.is_encrypted(), or.method == CRYPTO_RC4);
        // Nothing of the handshake is left unread on either side.
        assert_eq!(to_r.read, to_r.data.len());
        assert_eq!(to_i.read, to_i.data.len());
        // The rest of the stream, both ways, through the ciphers, in pieces.
        let (mut ci, mut cr) = (oi.cipher, or.cipher);
        for round in 0..3u8 {
            let msg: Vec<u8> = (0..2000u32).map(|x| x as u8 ^ round).collect();
            let mut wire = msg.clone();
            cr.encrypt(&mut wire[..700]);
            cr.encrypt(&mut wire[700..]);
            assert_eq!(wire != msg, or.method == CRYPTO_RC4);
            ci.decrypt(&mut wire[..1]);
            ci.decrypt(&mut wire[1..]);
            assert_eq!(wire, msg);
            let mut wire = msg.clone();
            ci.encrypt(&mut wire);
            cr.decrypt(&mut wire);
            assert_eq!(wire, msg);
        }
        Ok(oi.method)
    }

    #[test]
    fn initiator_and_responder_agree_in_both_modes() {
        for (pad_a, pad_b, chunk) in [
            (0, 0, 10_000),
            (512, 512, 10_000),
            (100, 3, 1),
            (37, 511, 7),
            (0, 200, 13),
        ] {
            let plain = converse(
                CRYPTO_PLAIN | CRYPTO_RC4,
                CRYPTO_PLAIN | CRYPTO_RC4,
                pad_a,
                pad_b,
                chunk,
            );
            assert_eq!(
                plain,
                Ok(CRYPTO_PLAIN),
                "pads {pad_a} {pad_b} chunk {chunk}"
            );
            let rc4 = converse(CRYPTO_RC4, CRYPTO_PLAIN | CRYPTO_RC4, pad_a, pad_b, chunk);
            assert_eq!(rc4, Ok(CRYPTO_RC4), "pads {pad_a} {pad_b} chunk {chunk}");
        }
    }

    #[test]
    fn policies_decide_the_method() {
        use Policy::*;
        let cases = [
            (Prefer, Prefer, Ok(CRYPTO_PLAIN)),
            (Prefer, Require, Ok(CRYPTO_RC4)),
            (Prefer, Off, Ok(CRYPTO_PLAIN)),
            (Require, Prefer, Ok(CRYPTO_RC4)),
            (Require, Require, Ok(CRYPTO_RC4)),
            (Require, Off, Err(Error::NoCommonMethod)),
            (Off, Prefer, Ok(CRYPTO_PLAIN)),
            (Off, Require, Err(Error::NoCommonMethod)),
            (Off, Off, Ok(CRYPTO_PLAIN)),
        ];
        for (dialer, listener, want) in cases {
            let got = converse(dialer.methods(), listener.methods(), 20, 20, 64);
            assert_eq!(got, want, "{dialer:?} dialing {listener:?}");
        }
        assert!(Prefer.dial_encrypted() && Prefer.plain_fallback() && Prefer.accepts_plain());
        assert!(Require.dial_encrypted() && !Require.plain_fallback() && !Require.accepts_plain());
        assert!(!Off.dial_encrypted() && Off.accepts_plain());
    }

    /// The responder's reply to an initiator, forged: Yb, PadB, then `tail` (VC, select,
    /// len(PadD), PadD) encrypted with keyB. Returns the initiator after it consumed it all, or
    /// its error.
    fn forged_reply(provide: u32, pad_b: usize, tail: &[u8]) -> Result<Initiator, Error> {
        let ih = [3; 20];
        let mut i = Initiator::new([0x21; 20], Vec::new(), ih, provide, Vec::new());
        let b = KeyPair::new([0x77; 20]);
        let s = b.shared(&i.keys.public).unwrap();
        let mut wire = b.public.to_vec();
        wire.extend(std::iter::repeat_n(0x5c, pad_b));
        let mut t = tail.to_vec();
        Rc4::mse(b"keyB", &s, &ih).apply(&mut t);
        wire.extend_from_slice(&t);
        let mut at = 0;
        while at < wire.len() && i.want() > 0 {
            let n = i.want().min(wire.len() - at);
            i.feed(&wire[at..at + n])?;
            at += n;
        }
        Ok(i)
    }

    fn reply_tail(select: u32, pad_d: u16) -> Vec<u8> {
        let mut t = vec![0u8; 8];
        t.extend_from_slice(&select.to_be_bytes());
        t.extend_from_slice(&pad_d.to_be_bytes());
        t.extend(std::iter::repeat_n(0u8, pad_d as usize));
        t
    }

    #[test]
    fn initiator_refuses_hostile_replies() {
        // A well-formed reply with 512 bytes of PadB and 512 of PadD is accepted.
        let i = forged_reply(CRYPTO_RC4, 512, &reply_tail(CRYPTO_RC4, 512)).unwrap();
        assert_eq!(i.want(), 0);
        assert_eq!(i.finish().unwrap().method, CRYPTO_RC4);
        // A method we did not offer, or both at once.
        assert!(matches!(
            forged_reply(CRYPTO_RC4, 0, &reply_tail(CRYPTO_PLAIN, 0)),
            Err(Error::BadSelect(1))
        ));
        assert!(matches!(
            forged_reply(CRYPTO_RC4 | CRYPTO_PLAIN, 0, &reply_tail(3, 0)),
            Err(Error::BadSelect(3))
        ));
        assert!(matches!(
            forged_reply(CRYPTO_RC4, 0, &reply_tail(0, 0)),
            Err(Error::BadSelect(0))
        ));
        // PadD over 512.
        assert!(matches!(
            forged_reply(CRYPTO_RC4, 0, &reply_tail(CRYPTO_RC4, 513)),
            Err(Error::PadTooLong)
        ));
        // No VC within 512 bytes of PadB: the search is bounded.
        assert!(matches!(
            forged_reply(CRYPTO_RC4, 513, &reply_tail(CRYPTO_RC4, 0)),
            Err(Error::NoSync)
        ));
        // A degenerate public key.
        let mut i = Initiator::new([1; 20], Vec::new(), [3; 20], CRYPTO_RC4, Vec::new());
        assert!(matches!(i.feed(&[0u8; KEY_LEN]), Err(Error::BadKey)));
        // More bytes than asked for.
        let mut i = Initiator::new([1; 20], Vec::new(), [3; 20], CRYPTO_RC4, Vec::new());
        assert!(matches!(i.feed(&[7u8; KEY_LEN + 1]), Err(Error::Misuse)));
    }

    #[test]
    fn random_keys_and_pads_are_bounded() {
        assert_ne!(random_private().unwrap(), random_private().unwrap());
        for _ in 0..50 {
            assert!(random_pad(MAX_PAD + 1000).unwrap().len() <= MAX_PAD);
            assert!(random_pad(16).unwrap().len() < 16);
        }
        assert!(random_pad(0).unwrap().is_empty());
        let i = Initiator::new(
            random_private().unwrap(),
            vec![1; 600],
            [0; 20],
            3,
            Vec::new(),
        );
        assert_eq!(i.hello().len(), KEY_LEN + MAX_PAD);
    }

    #[test]
    fn garbage_from_a_responder_ends_in_an_error_or_a_bounded_wait() {
        // Random bytes after a valid Yb: the initiator never reads past 512 + 8 bytes of them
        // without failing, and never panics.
        let b = KeyPair::new([0x77; 20]);
        let mut x = 0x1234_5678_9abc_def1u64;
        for round in 0..40 {
            let mut i = Initiator::new([0x21; 20], Vec::new(), [3; 20], 3, Vec::new());
            i.feed(&b.public).unwrap();
            let mut fed = 0;
            let r = loop {
                let n = i.want();
                let junk: Vec<u8> = (0..n)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        x as u8
                    })
                    .collect();
                fed += n;
                match i.feed(&junk) {
                    Err(e) => break e,
                    Ok(_) => assert!(fed <= MAX_PAD + 8 + 6 + MAX_PAD, "round {round}"),
                }
            };
            assert_eq!(r, Error::NoSync, "round {round}");
        }
    }
}
