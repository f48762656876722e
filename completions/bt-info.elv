
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
            cand --color 'Color human output and error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never'
            cand --pieces 'Also list the v1 piece hashes (hex)'
            cand --bytes 'Human view: exact byte counts instead of 1.2 GiB'
            cand --pad 'Human view: also list pad files (BEP 47)'
            cand --json 'Write JSON records (one object per line), even on a terminal'
            cand --human 'Write human-readable output, even on a pipe'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
    ]
    $completions[$command]
}
