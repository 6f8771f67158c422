# bash completion for supctl(1): its commands and their options, the names of the units of the
# supd that the command line names (--socket PATH, else $SUP_RUN_DIR's, else the default one),
# and unit files and directories for `validate`. It needs none of bash-completion's helpers.
# zsh can use it too: autoload -U bashcompinit && bashcompinit && source this file.

# _supctl_units SUPCTL [--socket PATH]: the names of the units supd has, one a line; nothing when
# no supd answers. `status --json` is printed with two spaces of indentation a level, so a unit's
# own "name" is the one four spaces in (nested objects' keys are deeper).
_supctl_units() {
        "$@" status --json 2>/dev/null </dev/null | sed -n 's/^    "name": "\([a-z0-9-]*\)",\{0,1\}$/\1/p'
}

_supctl() {
        local cur=${COMP_WORDS[COMP_CWORD]} prev=
        local commands="status reload start stop restart logs top wait exec image volume validate events"
        commands+=" metrics"
        local ctl=("${COMP_WORDS[0]/#\~\//$HOME/}") cmd= sub= positional=0 i w
        [ "$COMP_CWORD" -gt 0 ] && prev=${COMP_WORDS[COMP_CWORD - 1]}
        COMPREPLY=()

        # What was typed before the word being completed: --socket and its path (for the unit
        # names), the command, image's and volume's subcommand, and how many arguments follow.
        for ((i = 1; i < COMP_CWORD; i++)); do
                w=${COMP_WORDS[i]}
                case "$w" in
                --socket)
                        if [ -z "$cmd" ] && [ $((i + 1)) -lt "$COMP_CWORD" ]; then
                                ctl+=(--socket "${COMP_WORDS[i + 1]/#\~\//$HOME/}")
                                i=$((i + 1))
                        fi
                        ;;
                --) [ "$cmd" = exec ] && return 0 ;; # the command run in the unit: nothing to offer
                -n | --timeout | --user | --env | --workdir | --state-dir) i=$((i + 1)) ;;
                --unit | --since | --until) i=$((i + 1)) ;; # events

                -*) ;;
                *)
                        if [ -z "$cmd" ]; then
                                cmd=$w
                        elif [ -z "$sub" ] && { [ "$cmd" = image ] || [ "$cmd" = volume ]; }; then
                                sub=$w
                        else
                                positional=$((positional + 1))
                        fi
                        ;;
                esac
        done

        # Option arguments.
        case "$prev" in
        --socket)
                [ -z "$cmd" ] && { compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -f -- "$cur"); }
                return 0
                ;;
        --state-dir)
                compopt -o filenames 2>/dev/null
                mapfile -t COMPREPLY < <(compgen -d -- "$cur")
                return 0
                ;;
        -n | --timeout | --user | --env | --workdir) return 0 ;;
        --since | --until) return 0 ;; # events
        --unit)
                COMPREPLY=($(compgen -W "$(_supctl_units "${ctl[@]}")" -- "$cur"))
                return 0
                ;;
        esac

        local opts= args=
        case "$cmd" in
        "")
                opts="--socket --help --version"
                args=$commands
                ;;
        status | top)
                opts="--json"
                args=unit
                ;;
        reload) opts="--dry-run" ;;
        metrics) ;;
        start | stop | restart) args=unit ;;
        logs)
                opts="-f -n --raw"
                args=unit
                ;;
        wait)
                opts="--healthy --timeout"
                args=unit
                ;;
        exec)
                opts="-t --user --env --workdir --"
                args=unit
                ;;
        image)
                case "$sub" in
                "") args="ls inspect pull prune" ;;
                ls | inspect) opts="--json" ;;
                pull) opts="--tls-verify=false --json" ;;
                prune) opts="--dry-run --json" ;;
                esac
                ;;
        volume)
                case "$sub" in
                "") args="ls inspect rm" ;;
                ls | inspect) opts="--json" ;;
                esac
                ;;
        events) opts="--json --unit --since --until" ;;
        validate)
                opts="--json --print --state-dir"
                args=files
                ;;
        *) return 0 ;;
        esac

        if [[ "$cur" == -* ]]; then
                COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        elif [ "$args" = unit ]; then
                # One unit per command.
                [ "$positional" = 0 ] && COMPREPLY=($(compgen -W "$(_supctl_units "${ctl[@]}")" -- "$cur"))
        elif [ "$args" = files ]; then
                # Unit files, and directories to look for them in (or to validate whole); one
                # name a line, so that names with spaces stay whole.
                compopt -o filenames 2>/dev/null
                mapfile -t COMPREPLY < <(compgen -d -- "$cur"; compgen -f -X '!*.yaml' -- "$cur"; compgen -f -X '!*.yml' -- "$cur")
        elif [ -n "$args" ]; then
                COMPREPLY=($(compgen -W "$args" -- "$cur"))
        fi
        return 0
}

complete -F _supctl supctl
