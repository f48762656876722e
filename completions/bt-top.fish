complete -c bt-top -s c -l control -d 'The daemon\'s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)' -r -F
complete -c bt-top -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bt-top -s V -l version -d 'Print version'
