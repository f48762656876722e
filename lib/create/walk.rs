//! Walking the input of a new torrent: which files go in, and in which order.
//!
//! Invariants of a [`Layout`]: every file is a regular file (or a followed symlink to one), its
//! path components are non-empty and free of `/` and NUL, files are sorted by their relative path
//! bytes joined with `/` (the order `mktorrent` writes, so both tools give the same info hash),
//! and the total length is positive. Hidden entries (a name starting with `.`) and symlinks are
//! left out unless asked for; a followed symlink that leads back into one of its own ancestor
//! directories is skipped with a warning instead of looping.

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::Error;

/// Which entries of the input go into the torrent.
#[derive(Debug, Clone, Default)]
pub struct WalkOptions {
    /// Include files and directories whose name starts with `.`.
    pub include_hidden: bool,
    /// Follow symlinks (otherwise they are skipped).
    pub follow_symlinks: bool,
    /// Glob patterns (see [`glob_match`]); an entry is left out when a pattern matches its path
    /// relative to the input, or its name.
    pub exclude: Vec<String>,
    /// The torrent's name instead of the input's file name.
    pub name: Option<Vec<u8>>,
    /// Files to leave out, by (device, inode): the torrent being written, when it lies inside
    /// the input (a rerun with `--force` must not hash its previous output).
    pub skip_files: Vec<(u64, u64)>,
}

/// One file of the torrent to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    /// Path components below the torrent's root; `[name]` for a single-file torrent.
    pub path: Vec<Vec<u8>>,
    /// Where the file is on disk.
    pub disk: PathBuf,
    /// Length in bytes when walked.
    pub length: u64,
}

/// The files of a torrent to be, in piece-stream order.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The torrent's name: one plain path component.
    pub name: Vec<u8>,
    /// True when the input is one file (the info dictionary then has `length`, not `files`).
    pub single_file: bool,
    /// The files, sorted by path bytes.
    pub files: Vec<InputFile>,
    /// Sum of the file lengths (positive).
    pub total_length: u64,
    /// Entries skipped for a reason the user may want to hear (loops, dangling links, devices).
    pub warnings: Vec<String>,
}

/// Walk `root` (a file or a directory; a symlink given as `root` is always followed).
pub fn walk(root: &Path, opts: &WalkOptions) -> Result<Layout, Error> {
    let io = |e| Error::Io {
        path: root.to_path_buf(),
        source: e,
    };
    let meta = fs::metadata(root).map_err(io)?;
    let name = torrent_name(root, opts)?;
    let mut layout = Layout {
        name,
        single_file: meta.is_file(),
        files: Vec::new(),
        total_length: 0,
        warnings: Vec::new(),
    };
    if meta.is_file() {
        layout.files.push(InputFile {
            path: vec![layout.name.clone()],
            disk: root.to_path_buf(),
            length: meta.len(),
        });
    } else if meta.is_dir() {
        let mut ancestors = vec![(meta.dev(), meta.ino())];
        let mut walker = Walker {
            opts,
            layout: &mut layout,
            ancestors: &mut ancestors,
        };
        walker.dir(root, &mut Vec::new())?;
        let mut keyed: Vec<(Vec<u8>, InputFile)> = layout
            .files
            .drain(..)
            .map(|f| (f.path.join(&b'/'), f))
            .collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        layout.files = keyed.into_iter().map(|(_, f)| f).collect();
    } else {
        return Err(Error::NotFileOrDir(root.to_path_buf()));
    }
    let mut total: u64 = 0;
    for f in &layout.files {
        total = total.checked_add(f.length).ok_or_else(|| Error::Io {
            path: root.to_path_buf(),
            source: std::io::Error::other("total size does not fit in 64 bits"),
        })?;
    }
    if total == 0 {
        return Err(Error::Empty(root.to_path_buf()));
    }
    layout.total_length = total;
    Ok(layout)
}

/// The name a torrent of `root` gets: [`WalkOptions::name`], else the input's own file name
/// (`.` and `..` resolved through the real path); checked to be one plain path component.
pub fn torrent_name(root: &Path, opts: &WalkOptions) -> Result<Vec<u8>, Error> {
    let name = match &opts.name {
        Some(n) => n.clone(),
        None => default_name(root)?,
    };
    check_name(&name)?;
    Ok(name)
}

/// The input's own file name, resolving `.` and `..` through the real path.
fn default_name(root: &Path) -> Result<Vec<u8>, Error> {
    let plain = root
        .file_name()
        .filter(|n| n.as_bytes() != b"." && n.as_bytes() != b"..");
    if let Some(n) = plain {
        return Ok(n.as_bytes().to_vec());
    }
    let real = fs::canonicalize(root).map_err(|e| Error::Io {
        path: root.to_path_buf(),
        source: e,
    })?;
    match real.file_name() {
        Some(n) => Ok(n.as_bytes().to_vec()),
        None => Err(Error::BadName(real.display().to_string())),
    }
}

/// A torrent name must be one plain path component.
fn check_name(name: &[u8]) -> Result<(), Error> {
    if name.is_empty() || name == b"." || name == b".." || name.contains(&b'/') || name.contains(&0)
    {
        return Err(Error::BadName(String::from_utf8_lossy(name).into_owned()));
    }
    Ok(())
}

struct Walker<'a> {
    opts: &'a WalkOptions,
    layout: &'a mut Layout,
    ancestors: &'a mut Vec<(u64, u64)>,
}

impl Walker<'_> {
    fn excluded(&self, rel: &[Vec<u8>], name: &[u8]) -> bool {
        let joined = rel.join(&b'/');
        self.opts
            .exclude
            .iter()
            .any(|g| glob_match(g.as_bytes(), &joined) || glob_match(g.as_bytes(), name))
    }

    fn dir(&mut self, dir: &Path, rel: &mut Vec<Vec<u8>>) -> Result<(), Error> {
        let io = |e| Error::Io {
            path: dir.to_path_buf(),
            source: e,
        };
        for entry in fs::read_dir(dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            let name = entry.file_name().as_bytes().to_vec();
            if name.first() == Some(&b'.') && !self.opts.include_hidden {
                continue;
            }
            let path = entry.path();
            rel.push(name.clone());
            let result = self.entry(&path, &name, rel);
            rel.pop();
            result?;
        }
        Ok(())
    }

    fn entry(&mut self, path: &Path, name: &[u8], rel: &mut Vec<Vec<u8>>) -> Result<(), Error> {
        if self.excluded(rel, name) {
            return Ok(());
        }
        let io = |e| Error::Io {
            path: path.to_path_buf(),
            source: e,
        };
        let mut meta = fs::symlink_metadata(path).map_err(io)?;
        if meta.file_type().is_symlink() {
            if !self.opts.follow_symlinks {
                return Ok(());
            }
            match fs::metadata(path) {
                Ok(m) => meta = m,
                Err(e) => {
                    let w = format!("skipped {}: {e}", path.display());
                    self.layout.warnings.push(w);
                    return Ok(());
                }
            }
        }
        if meta.is_file() {
            if self.opts.skip_files.contains(&(meta.dev(), meta.ino())) {
                return Ok(());
            }
            self.layout.files.push(InputFile {
                path: rel.clone(),
                disk: path.to_path_buf(),
                length: meta.len(),
            });
        } else if meta.is_dir() {
            let id = (meta.dev(), meta.ino());
            if self.ancestors.contains(&id) {
                let w = format!("skipped {}: symlink loop", path.display());
                self.layout.warnings.push(w);
                return Ok(());
            }
            self.ancestors.push(id);
            let result = self.dir(path, rel);
            self.ancestors.pop();
            result?;
        } else {
            let w = format!("skipped {}: not a regular file", path.display());
            self.layout.warnings.push(w);
        }
        Ok(())
    }
}

/// Shell-style glob match over bytes: `*` matches any run of bytes (`/` included), `?` one byte,
/// `[abc]`, `[a-z]` and `[!a]` (or `[^a]`) one byte of a set, `\x` the byte `x` itself. An
/// unclosed `[` is an ordinary byte.
pub fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    // Where to resume after the last `*`: pattern index after it, text index it covers up to.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if let Some((matched, next)) = step(pattern, p, text[t]) {
            if matched {
                p = next;
                t += 1;
                continue;
            }
        } else if p < pattern.len() && pattern[p] == b'*' {
            p += 1;
            star = Some((p, t));
            continue;
        }
        match star {
            Some((sp, st)) => {
                p = sp;
                t = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    while p < pattern.len() && pattern[p] == b'*' {
        p += 1;
    }
    p == pattern.len()
}

/// Match one text byte against the pattern element at `p`: `Some((matched, next p))`, or `None`
/// at the end of the pattern or at a `*`.
fn step(pattern: &[u8], p: usize, byte: u8) -> Option<(bool, usize)> {
    match *pattern.get(p)? {
        b'*' => None,
        b'?' => Some((true, p + 1)),
        b'\\' if p + 1 < pattern.len() => Some((pattern[p + 1] == byte, p + 2)),
        b'[' => match class(pattern, p + 1, byte) {
            Some(r) => Some(r),
            None => Some((byte == b'[', p + 1)),
        },
        c => Some((c == byte, p + 1)),
    }
}

/// A `[...]` set starting after the `[` at `start`; `None` if it is never closed.
fn class(pattern: &[u8], start: usize, byte: u8) -> Option<(bool, usize)> {
    let mut i = start;
    let negate = matches!(pattern.get(i), Some(b'!') | Some(b'^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let c = *pattern.get(i)?;
        if c == b']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        if pattern.get(i + 1) == Some(&b'-') && pattern.get(i + 2).is_some_and(|&e| e != b']') {
            let end = pattern[i + 2];
            matched |= c <= byte && byte <= end;
            i += 3;
        } else {
            matched |= c == byte;
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        let m = |p: &str, t: &str| glob_match(p.as_bytes(), t.as_bytes());
        assert!(m("*.log", "x.log"));
        assert!(m("*.log", "a/b/x.log"));
        assert!(!m("*.log", "x.logs"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "ac"));
        assert!(m("[abc]x", "bx"));
        assert!(!m("[!abc]x", "bx"));
        assert!(m("[^abc]x", "dx"));
        assert!(m("[a-c]", "b"));
        assert!(!m("[a-c]", "d"));
        assert!(m("[]]", "]"));
        assert!(m("[a-]", "-"));
        assert!(m("a[b", "a[b"));
        assert!(m("\\*", "*"));
        assert!(!m("\\*", "x"));
        assert!(m("*", ""));
        assert!(m("**a*b*", "xxaybz"));
        assert!(!m("*a*b", "xxaybz"));
        assert!(m("cache/*", "cache/x/y"));
        assert!(!m("", "x"));
        assert!(m("", ""));
    }

    #[test]
    fn glob_is_not_exponential() {
        let text = vec![b'a'; 2000];
        let pat = b"*a*a*a*a*a*a*a*a*a*b";
        assert!(!glob_match(pat, &text));
    }

    #[test]
    fn names() {
        assert!(check_name(b"ok").is_ok());
        for bad in [&b""[..], b".", b"..", b"a/b", b"a\0b"] {
            assert!(check_name(bad).is_err());
        }
    }
}
