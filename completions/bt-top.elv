
use builtin;
use str;

set edit:completion:arg-completer[bt-top] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'bt-top'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'bt-top'= {
            cand -c 'The daemon''s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)'
            cand --control 'The daemon''s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)'
            cand --connect 'Attach to the daemon''s TCP control address instead (bt-seed --control-tcp)'
            cand --token-file 'The file holding the daemon''s token (with --connect)'
            cand --color 'Color error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
    ]
    $completions[$command]
}
