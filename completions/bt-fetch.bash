_bt__fetch() {
    local i cur prev opts cmd
    COMPREPLY=()
    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
        cur="$2"
    else
        cur="${COMP_WORDS[COMP_CWORD]}"
    fi
    prev="$3"
    cmd=""
    opts=""

    for i in "${COMP_WORDS[@]:0:COMP_CWORD}"
    do
        case "${cmd},${i}" in
            ",$1")
                cmd="bt__fetch"
                ;;
            *)
                ;;
        esac
    done

    case "${cmd}" in
        bt__fetch)
            opts="-d -q -j -h -V --dir --peer --no-announce --max-peers --timeout --seed --peer-records --port --bind --upload-slots --max-download-rate --max-upload-rate --web-seed --encryption --snub-timeout --file --only --skip --stdout --no-store --sequential --keep-going --progress-json --torrent-out --force --metadata-only --dht-bootstrap --dht-state --no-dht --json --human --color --quiet --jobs --help --version"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 1 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --dir)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                -d)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --peer)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --max-peers)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --timeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --port)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --bind)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --upload-slots)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --max-download-rate)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --max-upload-rate)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --web-seed)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --encryption)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --snub-timeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --file)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --only)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --skip)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --torrent-out)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --dht-bootstrap)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --dht-state)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --color)
                    COMPREPLY=($(compgen -W "auto always never" -- "${cur}"))
                    return 0
                    ;;
                --jobs)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                -j)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
    esac
}

if [[ "${BASH_VERSINFO[0]}" -eq 4 && "${BASH_VERSINFO[1]}" -ge 4 || "${BASH_VERSINFO[0]}" -gt 4 ]]; then
    complete -F _bt__fetch -o nosort -o bashdefault -o default bt-fetch
else
    complete -F _bt__fetch -o bashdefault -o default bt-fetch
fi
