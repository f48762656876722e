//! One run of torrent creation as bt-make does it: the tracker tiers from the flags, the output
//! path (never the input, never an existing file unless asked), the [`Plan`] (the walk, the
//! piece length, what to warn about) that sizes the progress bar, then hashing, building and
//! reading the result back with the strict parser.
//!
//! Invariant: what [`Plan::make`] returns has been parsed back from its own bytes and agrees
//! with what was built (info hash, piece count, files, length).

use std::fs;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::{
    check_piece_length, default_piece_length, hash_and_build, torrent_name, walk, Created, Error,
    Layout, Options, WalkOptions,
};
use crate::metainfo::Torrent;

/// URL lists as given on the command line: each entry one tier, comma-separated URLs in one
/// entry sharing it; blanks trimmed, empty URLs and tiers dropped.
pub fn split_urls(given: &[String]) -> Vec<Vec<String>> {
    given
        .iter()
        .map(|s| {
            s.split(',')
                .map(|u| u.trim().to_string())
                .filter(|u| !u.is_empty())
                .collect::<Vec<_>>()
        })
        .filter(|t| !t.is_empty())
        .collect()
}

/// Where to write the torrent of `input`: `output`, or `<NAME>.torrent` in the current
/// directory. Refuses an existing file unless `force`, and the input itself; a previous output
/// inside the input is added to `walk.skip_files` (it is not part of the content).
pub fn output_path(
    input: &Path,
    output: Option<&Path>,
    force: bool,
    walk: &mut WalkOptions,
) -> Result<PathBuf, Error> {
    let out = match output {
        Some(o) => o.to_path_buf(),
        None => {
            let mut n = torrent_name(input, walk)?;
            n.extend_from_slice(b".torrent");
            PathBuf::from(std::ffi::OsString::from_vec(n))
        }
    };
    if !force && fs::symlink_metadata(&out).is_ok() {
        return Err(Error::Exists(out));
    }
    if let Ok(m) = fs::metadata(&out) {
        let same = |i: fs::Metadata| (i.dev(), i.ino()) == (m.dev(), m.ino());
        if fs::metadata(input).is_ok_and(same) {
            return Err(Error::OutputIsInput(out));
        }
        walk.skip_files.push((m.dev(), m.ino()));
    }
    Ok(out)
}

/// What goes into the torrent, known before anything is hashed.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The files.
    pub layout: Layout,
    /// The piece length: the one asked for, or [`default_piece_length`].
    pub piece_length: u64,
    /// What the user may want to hear: entries skipped by the walk, a piece length larger
    /// than the data.
    pub warnings: Vec<String>,
}

impl Plan {
    /// Walk `path` and choose the piece length.
    pub fn new(path: &Path, opts: &Options) -> Result<Plan, Error> {
        let layout = walk(path, &opts.walk)?;
        let total = layout.total_length;
        let mut warnings = layout.warnings.clone();
        let piece_length = match opts.piece_length {
            Some(n) => check_piece_length(n)?,
            None => default_piece_length(total),
        };
        if opts.piece_length.is_some() && piece_length > total {
            warnings.push(format!(
                "warning: piece length {piece_length} is larger than the {total} bytes of data: the torrent has one piece"
            ));
        }
        Ok(Plan {
            layout,
            piece_length,
            warnings,
        })
    }

    /// Hash the files (`progress` is called with bytes done, from several threads) and build
    /// the torrent.
    pub fn build(&self, opts: &Options, progress: &(dyn Fn(u64) + Sync)) -> Result<Created, Error> {
        hash_and_build(&self.layout, self.piece_length, opts, progress)
    }

    /// [`Plan::build`], then read the torrent back with the strict parser: the torrent made and
    /// what it reads as.
    pub fn make(
        &self,
        opts: &Options,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<(Created, Torrent), Error> {
        let made = self.build(opts, progress)?;
        let t = Torrent::from_bytes(&made.bytes).map_err(Error::Unparsable)?;
        if t.info_hash != made.info_hash
            || t.info_hash_v2 != made.info_hash_v2
            || t.piece_count() != made.piece_count
            || t.files.iter().filter(|f| !f.pad).count() != made.file_count
            || t.content_length() != made.total_length
        {
            return Err(Error::ReadsBackDifferently);
        }
        Ok((made, t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_flags_make_tiers() {
        let given = ["a, b".to_string(), " ,".to_string(), "c".to_string()];
        let want = vec![vec!["a".to_string(), "b".into()], vec!["c".into()]];
        assert_eq!(split_urls(&given), want);
    }

    #[test]
    fn output_is_never_the_input_and_never_overwritten_unasked() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("data");
        fs::create_dir(&input).unwrap();
        fs::write(input.join("f"), b"0123456789").unwrap();
        let mut walk = WalkOptions::default();
        let old = input.join("old.torrent");
        fs::write(&old, b"x").unwrap();
        let e = output_path(&input, Some(&old), false, &mut walk).unwrap_err();
        assert!(matches!(e, Error::Exists(_)), "{e}");
        assert_eq!(
            output_path(&input, Some(&old), true, &mut walk).unwrap(),
            old
        );
        assert_eq!(walk.skip_files.len(), 1, "the old output is not content");
        let f = input.join("f");
        let e = output_path(&f, Some(&f), true, &mut walk).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{}: the output would replace the input", f.display())
        );
        let default = output_path(&input, None, false, &mut WalkOptions::default()).unwrap();
        assert_eq!(default, PathBuf::from("data.torrent"));
    }

    #[test]
    fn plan_warns_of_one_piece_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        fs::write(&f, vec![7u8; 1000]).unwrap();
        let opts = Options {
            piece_length: Some(1 << 20),
            ..Options::default()
        };
        let plan = Plan::new(&f, &opts).unwrap();
        assert_eq!(plan.piece_length, 1 << 20);
        assert!(
            plan.warnings[0].contains("larger than the 1000 bytes"),
            "{:?}",
            plan.warnings
        );
        let (made, t) = plan.make(&opts, &|_| {}).unwrap();
        assert_eq!((t.info_hash, t.piece_count()), (made.info_hash, 1));
        let plain = Plan::new(&f, &Options::default()).unwrap();
        assert!(plain.warnings.is_empty());
        assert_eq!(plain.piece_length, default_piece_length(1000));
    }
}
