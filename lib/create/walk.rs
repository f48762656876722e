//! Walking the input of a new torrent: which files go in, and in which order.
//!
//! Invariants of a [`Layout`]: every file is a regular file (or a followed symlink to one), its
//! path components are non-empty and free of `/` and NUL, files are sorted by their relative path
//! bytes joined with `/` (the order `mktorrent` writes, so both tools give the same info hash),
//! and the total length is positive. Hidden entries (a name starting with `.`) and symlinks are
//! left out unless asked for; a followed symlink that leads back into one of its own ancestor
//! directories is skipped with a warning instead of looping. `--exclude` and `--include` patterns
//! follow [`Globs`]: gitignore-like, `*` never crosses `/`.

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
    /// Glob patterns (see [`Globs`]): an entry that one matches is left out (a directory with
    /// everything below it). A single file given as the input is checked by its name.
    pub exclude: Vec<String>,
    /// Glob patterns (see [`Globs`]): when any is given, only files that one matches go in
    /// (directories are always walked into).
    pub include: Vec<String>,
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
    let filter = Filter {
        exclude: Globs::new(&opts.exclude)?,
        include: Globs::new(&opts.include)?,
    };
    let mut layout = Layout {
        name,
        single_file: meta.is_file(),
        files: Vec::new(),
        total_length: 0,
        warnings: Vec::new(),
    };
    if meta.is_file() {
        let own = default_name(root)?;
        if !filter.takes_file(&[own]) {
            return Err(Error::Filtered(root.to_path_buf()));
        }
        layout.files.push(InputFile {
            path: vec![layout.name.clone()],
            disk: root.to_path_buf(),
            length: meta.len(),
        });
    } else if meta.is_dir() {
        let mut ancestors = vec![(meta.dev(), meta.ino())];
        let mut walker = Walker {
            opts,
            filter: &filter,
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

/// `--exclude` and `--include`, compiled.
struct Filter {
    exclude: Globs,
    include: Globs,
}

impl Filter {
    /// Whether the file at `rel` goes in.
    fn takes_file(&self, rel: &[Vec<u8>]) -> bool {
        !self.exclude.matches(rel, false)
            && (self.include.is_empty() || self.include.matches(rel, false))
    }
}

struct Walker<'a> {
    opts: &'a WalkOptions,
    filter: &'a Filter,
    layout: &'a mut Layout,
    ancestors: &'a mut Vec<(u64, u64)>,
}

impl Walker<'_> {
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
            rel.push(name);
            let result = self.entry(&path, rel);
            rel.pop();
            result?;
        }
        Ok(())
    }

    fn entry(&mut self, path: &Path, rel: &mut Vec<Vec<u8>>) -> Result<(), Error> {
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
                Err(_) if self.filter.exclude.matches(rel, false) => return Ok(()),
                Err(e) => {
                    let w = format!("skipped {}: {e}", path.display());
                    self.layout.warnings.push(w);
                    return Ok(());
                }
            }
        }
        if self.filter.exclude.matches(rel, meta.is_dir()) {
            return Ok(());
        }
        if meta.is_file() {
            if self.opts.skip_files.contains(&(meta.dev(), meta.ino()))
                || !self.filter.takes_file(rel)
            {
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

/// One compiled `--exclude` or `--include` pattern.
#[derive(Debug, Clone)]
struct Rule {
    matcher: globset::GlobMatcher,
    /// The pattern holds a `/` before its end: it matches the path from the input's root.
    /// Otherwise it matches an entry's name at any depth.
    anchored: bool,
    /// The pattern ends in `/`: it matches directories only.
    dir_only: bool,
}

/// Glob patterns with gitignore-like semantics (compiled by the `globset` crate):
/// - `*` matches any run of characters and `?` one character, neither ever matching `/`;
///   `[abc]`, `[a-z]`, `[!a]` match one character of a set; `\*` is a literal `*`;
/// - `**` as a whole path component matches any number of directories, none included:
///   `**/x.bin` matches `x.bin` and `a/b/x.bin`, `cache/**` everything below `cache`;
/// - a pattern without `/` (or with only a trailing one) matches an entry's name at any depth;
///   a pattern with a `/` at its start or middle matches the path from the input's root;
/// - a trailing `/` matches directories only.
///
/// Matching is case-sensitive and on bytes (names need not be UTF-8).
#[derive(Debug, Clone, Default)]
pub struct Globs {
    rules: Vec<Rule>,
}

impl Globs {
    /// Compile `patterns`; an empty or malformed pattern is an error naming it.
    pub fn new(patterns: &[String]) -> Result<Globs, Error> {
        let mut rules = Vec::with_capacity(patterns.len());
        for p in patterns {
            let bad = |reason: String| Error::Glob {
                pattern: p.clone(),
                reason,
            };
            let (body, dir_only) = match p.strip_suffix('/') {
                Some(b) => (b, true),
                None => (p.as_str(), false),
            };
            let anchored = body.contains('/');
            let body = body.strip_prefix('/').unwrap_or(body);
            if body.is_empty() {
                return Err(bad("the pattern matches no name".into()));
            }
            let glob = globset::GlobBuilder::new(body)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map_err(|e| bad(e.kind().to_string()))?;
            rules.push(Rule {
                matcher: glob.compile_matcher(),
                anchored,
                dir_only,
            });
        }
        Ok(Globs { rules })
    }

    /// True when no pattern was given.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether some pattern matches the entry at `rel` (path components below the input's root,
    /// the last one its name), a directory when `is_dir`.
    pub fn matches(&self, rel: &[Vec<u8>], is_dir: bool) -> bool {
        let Some(name) = rel.last() else {
            return false;
        };
        let joined = rel.join(&b'/');
        let as_path = |b: &[u8]| Path::new(std::ffi::OsStr::from_bytes(b)).to_path_buf();
        let (name, joined) = (as_path(name), as_path(&joined));
        self.rules.iter().any(|r| {
            (is_dir || !r.dir_only) && r.matcher.is_match(if r.anchored { &joined } else { &name })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `patterns` match the file (or directory, with a trailing `/`) at `path`.
    fn m(pattern: &str, path: &str) -> bool {
        let g = Globs::new(&[pattern.to_string()]).unwrap();
        let (path, is_dir) = match path.strip_suffix('/') {
            Some(p) => (p, true),
            None => (path, false),
        };
        let rel: Vec<Vec<u8>> = path.split('/').map(|c| c.as_bytes().to_vec()).collect();
        g.matches(&rel, is_dir)
    }

    #[test]
    fn star_does_not_cross_slash() {
        assert!(m("a/*.bin", "a/x.bin"));
        assert!(!m("a/*.bin", "a/b/x.bin"));
        assert!(!m("a?b", "a/b"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "ac"));
    }

    #[test]
    fn double_star_matches_any_number_of_directories() {
        assert!(m("**/*.bin", "a.bin"));
        assert!(m("**/*.bin", "x/y/a.bin"));
        assert!(m("a/**/z", "a/z"));
        assert!(m("a/**/z", "a/b/c/z"));
        assert!(m("cache/**", "cache/x"));
        assert!(m("cache/**", "cache/x/y"));
        assert!(!m("cache/**", "other/cache/x"));
    }

    #[test]
    fn a_pattern_without_slash_matches_the_name_at_any_depth() {
        assert!(m("*.log", "x.log"));
        assert!(m("*.log", "a/b/x.log"));
        assert!(!m("*.log", "x.logs"));
        assert!(m("cache", "deep/down/cache/"));
        // A slash anywhere but the end anchors the pattern at the root.
        assert!(m("/top.txt", "top.txt"));
        assert!(!m("/top.txt", "sub/top.txt"));
        assert!(!m("sub/x", "a/sub/x"));
    }

    #[test]
    fn trailing_slash_matches_directories_only() {
        assert!(m("build/", "build/"));
        assert!(m("build/", "x/build/"));
        assert!(!m("build/", "build"));
    }

    #[test]
    fn sets_and_escapes() {
        assert!(m("[abc]x", "bx"));
        assert!(!m("[!abc]x", "bx"));
        assert!(m("[a-c]", "b"));
        assert!(!m("[a-c]", "d"));
        assert!(m("\\*", "*"));
        assert!(!m("\\*", "x"));
    }

    #[test]
    fn bad_patterns_are_errors_naming_them() {
        for bad in ["", "/", "a[", "{a,b"] {
            let e = Globs::new(&[bad.to_string()]).unwrap_err();
            assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
        }
    }

    #[test]
    fn non_utf8_names_match_as_bytes() {
        let g = Globs::new(&["*.bin".to_string()]).unwrap();
        assert!(g.matches(&[b"\xff\xfe.bin".to_vec()], false));
        assert!(!g.matches(&[b"\xff\xfe.txt".to_vec()], false));
    }

    #[test]
    fn names() {
        assert!(check_name(b"ok").is_ok());
        for bad in [&b""[..], b".", b"..", b"a/b", b"a\0b"] {
            assert!(check_name(bad).is_err());
        }
    }
}
