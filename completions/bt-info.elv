
use builtin;
use str;

set edit:completion:arg-completer[bt-info] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'bt-info'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'bt-info'= {
            cand -j 'Worker threads for hashing (default: one per core)'
            cand --jobs 'Worker threads for hashing (default: one per core)'
            cand --color 'When to use color in human output'
            cand --pieces 'Also list the v1 piece hashes (hex)'
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
