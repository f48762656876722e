//! BEP 10 extension messages we speak: `ut_metadata` (BEP 9) and `ut_pex` (BEP 11).
//!
//! Each side of a connection numbers the extensions it accepts in the `m` dictionary of its
//! extension handshake; a message is sent with the *receiver's* number and arrives with ours.
//! [`ours`] builds our handshake (with [`OUR_UT_METADATA`] and [`OUR_UT_PEX`]), [`decode`]
//! dispatches a received [`Message::Extended`](super::Message::Extended) by our numbers, and
//! [`ExtHandshake::id_of`] gives the peer's number to send with. No I/O.

use super::{metadata, pex, ExtHandshake};

/// The BEP 9 extension name.
pub const UT_METADATA: &str = "ut_metadata";
/// The BEP 11 extension name.
pub const UT_PEX: &str = "ut_pex";
/// The number we give `ut_metadata` in our `m` dictionary.
pub const OUR_UT_METADATA: u8 = 1;
/// The number we give `ut_pex` in our `m` dictionary.
pub const OUR_UT_PEX: u8 = 2;

impl ExtHandshake {
    /// The sender's number for extension `name`, when it speaks it (0 means disabled).
    pub fn id_of(&self, name: &str) -> Option<u8> {
        self.extensions
            .iter()
            .find(|(n, id)| n == name && *id != 0)
            .map(|(_, id)| *id)
    }
}

/// Our extension handshake: `ut_metadata` always (with `metadata_size` once we have the info
/// dictionary, so magnet users can fetch it from us), `ut_pex` unless the torrent is private
/// (BEP 27), plus the listen port, client name and request queue length.
pub fn ours(
    metadata_size: Option<u64>,
    private: bool,
    port: Option<u16>,
    client: &str,
    reqq: u32,
) -> ExtHandshake {
    let mut extensions = vec![(UT_METADATA.to_string(), OUR_UT_METADATA)];
    if !private {
        extensions.push((UT_PEX.to_string(), OUR_UT_PEX));
    }
    ExtHandshake {
        extensions,
        port,
        client: Some(client.to_string()),
        reqq: Some(reqq),
        metadata_size,
    }
}

/// A received extended message, by kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extended {
    /// id 0: the peer's extension handshake.
    Handshake(ExtHandshake),
    /// A `ut_metadata` message.
    Metadata(metadata::Message),
    /// A `ut_pex` message.
    Pex(pex::Message),
    /// A number we did not give out (or `ut_pex` on a private torrent): ignore it.
    Unknown(u8),
}

/// Why an extended message is unacceptable: drop the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A bad extension handshake.
    Handshake(super::Error),
    /// A bad `ut_metadata` message.
    Metadata(metadata::Error),
    /// A bad `ut_pex` message.
    Pex(pex::Error),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Handshake(e) => e.fmt(f),
            Error::Metadata(e) => e.fmt(f),
            Error::Pex(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Error {}

/// Decode an extended message that arrived with number `id` (ours) and `payload`. With
/// `private`, `ut_pex` messages are not even parsed.
pub fn decode(id: u8, payload: &[u8], private: bool) -> Result<Extended, Error> {
    match id {
        0 => ExtHandshake::parse(payload)
            .map(Extended::Handshake)
            .map_err(Error::Handshake),
        OUR_UT_METADATA => metadata::Message::decode(payload)
            .map(Extended::Metadata)
            .map_err(Error::Metadata),
        OUR_UT_PEX if !private => pex::Message::decode(payload)
            .map(Extended::Pex)
            .map_err(Error::Pex),
        other => Ok(Extended::Unknown(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peer::{decode as decode_frame, Limits, Message};

    #[test]
    fn our_handshake_names_what_we_speak() {
        let h = ours(Some(12_345), false, Some(6881), "bt 0.1", 250);
        let parsed = ExtHandshake::parse(&h.encode()).unwrap();
        assert_eq!(parsed, h);
        assert_eq!(parsed.id_of(UT_METADATA), Some(OUR_UT_METADATA));
        assert_eq!(parsed.id_of(UT_PEX), Some(OUR_UT_PEX));
        assert_eq!(parsed.metadata_size, Some(12_345));
        let private = ours(None, true, None, "bt", 1);
        let parsed = ExtHandshake::parse(&private.encode()).unwrap();
        assert_eq!(parsed.id_of(UT_PEX), None);
        assert_eq!(parsed.metadata_size, None);
        // A peer that disables an extension with 0, and a negative or zero size.
        let theirs =
            ExtHandshake::parse(b"d1:md11:ut_metadatai0e6:ut_pexi7ee13:metadata_sizei-5ee")
                .unwrap();
        assert_eq!(theirs.id_of(UT_METADATA), None);
        assert_eq!(theirs.id_of(UT_PEX), Some(7));
        assert_eq!(theirs.metadata_size, None);
        let zero = ExtHandshake::parse(b"d13:metadata_sizei0ee").unwrap();
        assert_eq!(zero.metadata_size, None);
    }

    #[test]
    fn extended_frames_dispatch_by_our_numbers() {
        let l = Limits::new(16384, 16384 * 4);
        let req = metadata::Message::Request(2);
        let frame = Message::Extended {
            id: OUR_UT_METADATA,
            payload: req.encode(),
        }
        .to_bytes();
        let (m, used) = decode_frame(&frame, &l).unwrap().unwrap();
        assert_eq!(used, frame.len());
        let Message::Extended { id, payload } = m else {
            panic!()
        };
        assert_eq!(decode(id, &payload, false), Ok(Extended::Metadata(req)));
        let pex = pex::Message {
            added: vec![("10.0.0.1:6881".parse().unwrap(), pex::flags::SEED)],
            dropped: vec!["[::1]:51413".parse().unwrap()],
        };
        assert_eq!(
            decode(OUR_UT_PEX, &pex.encode(), false),
            Ok(Extended::Pex(pex.clone()))
        );
        assert_eq!(
            decode(OUR_UT_PEX, &pex.encode(), true),
            Ok(Extended::Unknown(OUR_UT_PEX))
        );
        assert_eq!(decode(99, b"junk", false), Ok(Extended::Unknown(99)));
        assert!(matches!(
            decode(OUR_UT_METADATA, b"junk", false),
            Err(Error::Metadata(_))
        ));
        assert!(matches!(
            decode(0, b"li1ee", false),
            Err(Error::Handshake(_))
        ));
    }

    #[test]
    fn extended_messages_round_trip_from_every_split_point() {
        let l = Limits::new(16384, 16384 * 4);
        let piece: Vec<u8> = (0..super::metadata::METADATA_PIECE)
            .map(|i| i as u8)
            .collect();
        let cases = [
            (0, ours(Some(40_000), false, Some(1), "bt", 9).encode()),
            (OUR_UT_METADATA, metadata::Message::Request(1).encode()),
            (OUR_UT_METADATA, metadata::Message::Reject(1).encode()),
            (
                OUR_UT_METADATA,
                metadata::Message::Data {
                    piece: 0,
                    total_size: 40_000,
                    data: piece,
                }
                .encode(),
            ),
            (
                OUR_UT_PEX,
                pex::Message {
                    added: (1..=50u16)
                        .map(|i| (std::net::SocketAddr::from(([10, 0, 0, 1], i)), 0x12))
                        .collect(),
                    dropped: vec!["[2001:db8::7]:9".parse().unwrap()],
                }
                .encode(),
            ),
        ];
        for (id, payload) in cases {
            let frame = Message::Extended {
                id,
                payload: payload.clone(),
            }
            .to_bytes();
            for split in 0..frame.len() {
                assert_eq!(decode_frame(&frame[..split], &l), Ok(None), "split {split}");
            }
            let (m, used) = decode_frame(&frame, &l).unwrap().unwrap();
            assert_eq!(used, frame.len());
            let Message::Extended {
                id: got,
                payload: p,
            } = m
            else {
                panic!()
            };
            assert_eq!((got, &p), (id, &payload));
            let ext = decode(got, &p, false).unwrap();
            assert!(!matches!(ext, Extended::Unknown(_)));
        }
    }
}
