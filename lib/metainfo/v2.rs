//! BEP 52 (v2) metainfo: the file tree, pieces roots and piece layers.

use super::{Error, Torrent};
use crate::bencode::Dict;

/// Read the v2 parts of a torrent into `t` (not yet implemented: v1 data is kept).
pub(super) fn read(_root: &Dict, _info: &Dict, t: &mut Torrent) -> Result<(), Error> {
    if t.files.is_empty() {
        return Err(Error::V2("v2-only torrents are not supported yet".into()));
    }
    Ok(())
}
