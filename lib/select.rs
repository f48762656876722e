//! Choosing some files of a torrent: `--file PATH|INDEX`, `--only GLOB`, `--skip GLOB`, as
//! bt-fetch and bt-verify take them.
//!
//! A choice is one flag per entry of the torrent's file list. `--file` (a path as `bt-info`
//! prints it, below the torrent's directory and joined with `/`, or an index in that list) and
//! `--only` add files; with neither, every file is chosen; `--skip` then takes files out.
//! Globs follow `bt-make`'s rules ([`crate::create::Globs`]: `*` never crosses `/`, a glob
//! without `/` matches a file's name at any depth). Pad files (BEP 47) and symlink entries are
//! never chosen: they hold no bytes of their own. Invariant: a choice that names something the
//! torrent lacks, or that leaves no file with data, is an error naming the flag, never a silent
//! empty download.

use crate::create::Globs;
use crate::metainfo::Torrent;
use std::fmt;

/// The selection flags, as given.
#[derive(Debug, Clone, Default)]
pub struct Choice {
    /// `--file PATH|INDEX`, repeatable.
    pub files: Vec<String>,
    /// `--only GLOB`, repeatable.
    pub only: Vec<String>,
    /// `--skip GLOB`, repeatable.
    pub skip: Vec<String>,
}

/// Why a choice cannot be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// `--file` names neither a path nor an index of the torrent.
    NoSuchFile(String),
    /// `--file` names a pad file or a symlink entry, which hold no data.
    NotAFile(String),
    /// A glob does not compile.
    Glob(String),
    /// `--only GLOB` matches no file.
    OnlyMatchesNothing(String),
    /// Nothing is left to choose.
    Empty,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NoSuchFile(s) => write!(
                f,
                "--file {s:?}: the torrent has no such path or file index (bt-info lists both)"
            ),
            Error::NotAFile(s) => write!(f, "--file {s:?}: a pad or symlink entry holds no data"),
            Error::Glob(e) => f.write_str(e),
            Error::OnlyMatchesNothing(g) => {
                write!(f, "--only {g:?} matches no file of the torrent")
            }
            Error::Empty => f.write_str("the selection leaves no file to download"),
        }
    }
}

impl std::error::Error for Error {}

impl Choice {
    /// Whether no selection flag was given (every file is wanted).
    pub fn is_all(&self) -> bool {
        self.files.is_empty() && self.only.is_empty() && self.skip.is_empty()
    }

    /// The chosen files of `t`, one flag per entry of `t.files`; `None` when no flag was
    /// given.
    pub fn resolve(&self, t: &Torrent) -> Result<Option<Vec<bool>>, Error> {
        if self.is_all() {
            return Ok(None);
        }
        let data = |i: usize| !t.files[i].pad && t.files[i].symlink.is_none();
        let joined: Vec<Vec<u8>> = t.files.iter().map(|f| f.path.join(&b'/')).collect();
        let mut chosen = vec![self.files.is_empty() && self.only.is_empty(); t.files.len()];
        for name in &self.files {
            let i = joined
                .iter()
                .position(|p| p == name.as_bytes())
                .or_else(|| name.parse::<usize>().ok().filter(|i| *i < t.files.len()))
                .ok_or_else(|| Error::NoSuchFile(name.clone()))?;
            if !data(i) {
                return Err(Error::NotAFile(name.clone()));
            }
            chosen[i] = true;
        }
        let globs = |g: &[String]| Globs::new(g).map_err(|e| Error::Glob(e.to_string()));
        for g in &self.only {
            let only = globs(std::slice::from_ref(g))?;
            let mut any = false;
            for (i, f) in t.files.iter().enumerate() {
                if data(i) && only.matches(&f.path, false) {
                    chosen[i] = true;
                    any = true;
                }
            }
            if !any {
                return Err(Error::OnlyMatchesNothing(g.clone()));
            }
        }
        let skip = globs(&self.skip)?;
        for (i, f) in t.files.iter().enumerate() {
            if !data(i) || skip.matches(&f.path, false) {
                chosen[i] = false;
            }
        }
        if !chosen.iter().any(|c| *c) {
            return Err(Error::Empty);
        }
        Ok(Some(chosen))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metainfo::FileEntry;

    fn torrent() -> Torrent {
        let file = |p: &str, length| FileEntry {
            path: p.split('/').map(|c| c.as_bytes().to_vec()).collect(),
            length,
            ..FileEntry::default()
        };
        Torrent {
            files: vec![
                file("a.txt", 5),
                file("sub/b.bin", 7),
                file("sub/c.bin", 0),
                FileEntry {
                    pad: true,
                    ..file(".pad/3", 3)
                },
                file("d.txt", 9),
            ],
            ..Torrent::default()
        }
    }

    fn pick(files: &[&str], only: &[&str], skip: &[&str]) -> Result<Option<Vec<bool>>, Error> {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect();
        Choice {
            files: v(files),
            only: v(only),
            skip: v(skip),
        }
        .resolve(&torrent())
    }

    #[test]
    fn paths_indices_and_globs() {
        assert_eq!(pick(&[], &[], &[]), Ok(None));
        let t = true;
        let f = false;
        assert_eq!(
            pick(&["sub/b.bin"], &[], &[]),
            Ok(Some(vec![f, t, f, f, f]))
        );
        assert_eq!(
            pick(&["4", "a.txt"], &[], &[]),
            Ok(Some(vec![t, f, f, f, t]))
        );
        assert_eq!(pick(&[], &["*.bin"], &[]), Ok(Some(vec![f, t, t, f, f])));
        assert_eq!(pick(&[], &[], &["*.txt"]), Ok(Some(vec![f, t, t, f, f])));
        assert_eq!(
            pick(&[], &["sub/*"], &["c.bin"]),
            Ok(Some(vec![f, t, f, f, f]))
        );
    }

    #[test]
    fn bad_choices_are_named() {
        assert_eq!(
            pick(&["nope"], &[], &[]),
            Err(Error::NoSuchFile("nope".into()))
        );
        assert_eq!(pick(&["5"], &[], &[]), Err(Error::NoSuchFile("5".into())));
        assert_eq!(pick(&["3"], &[], &[]), Err(Error::NotAFile("3".into())));
        assert_eq!(
            pick(&[], &["*.iso"], &[]),
            Err(Error::OnlyMatchesNothing("*.iso".into()))
        );
        assert_eq!(pick(&["a.txt"], &[], &["a.*"]), Err(Error::Empty));
        assert!(matches!(pick(&[], &["["], &[]), Err(Error::Glob(_))));
    }
}
