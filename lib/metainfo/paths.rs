//! Path safety: every name, path component and symlink target component must be joinable under
//! a download directory without leaving it, on Unix and on Windows; no two files may share a
//! path, and no file may also be a directory of another. Checks are linear in the number of
//! components times log n (one sort, neighbours compared), so 100,000-file torrents stay fast.

use super::Error;

/// Why one component cannot be joined safely, or `None` when it can.
pub(crate) fn component_problem(c: &[u8]) -> Option<&'static str> {
    match c {
        b"" => Some("is empty"),
        b"." | b".." => Some("is not allowed"),
        _ if c.contains(&b'/') => Some("contains a slash"),
        _ if c.contains(&b'\\') => Some("contains a backslash"),
        _ if c.contains(&0) => Some("contains a NUL byte"),
        [d, b':', ..] if d.is_ascii_alphabetic() => Some("starts with a drive prefix"),
        _ => None,
    }
}

/// Components joined with `/`, lossily, for messages and display.
pub(crate) fn display(path: &[Vec<u8>]) -> String {
    let mut s = String::new();
    for (i, c) in path.iter().enumerate() {
        if i > 0 {
            s.push('/');
        }
        s.push_str(&String::from_utf8_lossy(c));
    }
    s
}

/// Check the torrent's `name`: one plain component.
pub(crate) fn check_name(name: &[u8]) -> Result<(), Error> {
    match component_problem(name) {
        None => Ok(()),
        Some(reason) => Err(Error::UnsafeName {
            name: String::from_utf8_lossy(name).into_owned(),
            reason: match reason {
                "is empty" => "is empty",
                "is not allowed" => "is not a plain file name",
                other => other,
            },
        }),
    }
}

/// Check every component of a file path (or a symlink target).
pub(crate) fn check_path(path: &[Vec<u8>]) -> Result<(), Error> {
    for c in path {
        if let Some(reason) = component_problem(c) {
            return Err(Error::UnsafeComponent {
                component: String::from_utf8_lossy(c).into_owned(),
                path: display(path),
                reason,
            });
        }
    }
    Ok(())
}

/// No duplicate paths, and no file that is also a directory prefix of another file. Only the
/// paths given are compared (pad files are left out by the caller).
///
/// Sorted by components, every path that extends `p` (or equals it) comes right after `p`, so
/// comparing neighbours finds every clash in O(n log n) without hashing.
pub(crate) fn check_unique<'a>(paths: impl Iterator<Item = &'a [Vec<u8>]>) -> Result<(), Error> {
    let mut sorted: Vec<&[Vec<u8>]> = paths.collect();
    sorted.sort_unstable();
    for pair in sorted.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if a == b {
            return Err(Error::DuplicatePath(display(a)));
        }
        if b.starts_with(a) {
            return Err(Error::FileIsDirectory(display(a)));
        }
    }
    Ok(())
}
