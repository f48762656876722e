//! The JSON records that travel on pipes: the format reference.
//!
//! Every stream is JSON Lines: one object per line, each with a `"type"` field. Readers must
//! ignore fields and record types they do not know, so the format can grow. Info hashes and peer
//! ids are lowercase hex. A byte string that is not UTF-8 is never converted lossily: such a
//! field is accompanied by a `<field>_hex` sibling holding the raw bytes.
//!
//! Which tool writes which record:
//!
//! | record | written by |
//! |---|---|
//! | `torrent` | `bt-info` (one object, not a stream), `bt-make` (summary of the created torrent) |
//! | `file`, `summary` | `bt-verify` |
//! | `peer`, `announce`, `scrape` | `bt-announce`; `peer` is read by `bt-fetch` |
//! | `listening`, `peer`, `stats` | `bt-seed` |
//! | `progress`, `summary` | `bt-fetch` |

// ---- metainfo records (bt-info, bt-make) ----

// ---- verify records (bt-verify) ----

// ---- tracker records (bt-announce) ----

// ---- swarm records (bt-fetch, bt-seed) ----
