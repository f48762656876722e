
use builtin;
use str;

set edit:completion:arg-completer[bt-verify] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'bt-verify'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'bt-verify'= {
            cand -d 'Directory holding the torrent''s content as `DIR/<name>`'
            cand --dir 'Directory holding the torrent''s content as `DIR/<name>`'
            cand --content 'The content itself (the file of a single-file torrent, or the directory of a multi-file one), instead of `DIR/<name>`'
            cand --file 'Only this file: its path as bt-info shows it (below the torrent''s directory) or its index there (repeatable)'
            cand --only 'Only the files this glob matches (repeatable; bt-make''s glob rules: `*` never crosses `/`, a glob without `/` matches a file name at any depth)'
            cand --skip 'Leave out the files this glob matches (repeatable)'
            cand --color 'Color human output and error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never'
            cand -j 'Worker threads for hashing (default: one per core)'
            cand --jobs 'Worker threads for hashing (default: one per core)'
            cand --bad-pieces 'List the bad piece indices (in file records and the summary)'
            cand --extra 'Also report files in the content directory that the torrent does not list'
            cand --no-mmap 'Read with pread instead of memory maps (same results)'
            cand --bytes 'Human view: exact byte counts instead of 1.2 GiB'
            cand --json 'Write JSON records (one object per line), even on a terminal'
            cand --human 'Write human-readable output, even on a pipe'
            cand -q 'No progress bars and no diagnostics on stderr except errors'
            cand --quiet 'No progress bars and no diagnostics on stderr except errors'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
    ]
    $completions[$command]
}
