#!/usr/bin/env bash
# ClamAV daemon (Debian's clamav-daemon) that scans every uploaded file before it is kept: clamd protocol on
# 127.0.0.1:53310 (zPING, zINSTREAM). Offline by design: no signature download, freshclam never runs. Its
# database, .data/clamav/db, is generated here and holds only the EICAR test signature (development).
# Config .data/clamav/clamd.conf; log of the process .data/log/clamav.log, clamd's own (verdicts) clamd.log.
# Usage: clamav.sh start|stop|status
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CLAMAV_DIR="$DATA/clamav"
CLAMAV_DB="$CLAMAV_DIR/db"
CLAMAV_CONF="$CLAMAV_DIR/clamd.conf"
CLAMAV_LOG="$LOGS/clamav.log"

# Debian installs clamd in /usr/sbin, not on an ordinary user's PATH.
clamav_bin() {
    command -v clamd 2>/dev/null && return 0
    [[ -x /usr/sbin/clamd ]] && echo /usr/sbin/clamd
    return 0
}

clamav_install() {
    [[ -n "$(clamav_bin)" ]] && return 0
    say "clamav: not installed, installing the Debian packages clamav-daemon clamav"
    local sudo=""
    (( EUID == 0 )) || sudo="sudo"
    # the package lists are refreshed only when the install cannot find the packages
    if ! $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q clamav-daemon clamav; then
        $sudo apt-get update -q
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q clamav-daemon clamav
    fi
    [[ -n "$(clamav_bin)" ]] || die "clamav: installation failed"
}

# The EICAR test string, assembled from pieces so that this file never holds it whole (antivirus on
# developers' machines would quarantine the script).
eicar() {
    local a='X5O!P%@AP[4\PZX54' b='(P^)7CC)7}$EICAR-' c='STANDARD-ANTI' d='VIRUS-TEST-FILE!$H+H*'
    printf '%s%s%s%s' "$a" "$b" "$c" "$d"
}

# clamav_write_db: the development database, one .ndb signature (EICAR anywhere in any file, also inside
# archives). Rewritten only when it changes; prints "changed" then.
clamav_write_db() {
    local hex line
    [[ "$(eicar | md5sum | cut -d' ' -f1)" == 44d88612fea8a8f36de82e1278abb02f ]] || die "clamav: EICAR string is wrong"
    hex="$(eicar | od -An -v -tx1 | tr -d ' \n')"
    line="Eicar-Test-Signature:0:*:$hex"
    mkdir -p "$CLAMAV_DB"
    if [[ "$(cat "$CLAMAV_DB/openguichet-dev.ndb" 2>/dev/null)" != "$line" ]]; then
        printf '%s\n' "$line" >"$CLAMAV_DB/openguichet-dev.ndb.tmp"
        mv "$CLAMAV_DB/openguichet-dev.ndb.tmp" "$CLAMAV_DB/openguichet-dev.ndb"
        echo changed
    fi
}

clamav_write_conf() {
    cat >"$CLAMAV_CONF.tmp" <<EOF
# Written by deploy/local/infra/clamav.sh at each start (development settings).
DatabaseDirectory $CLAMAV_DB
TCPSocket $CLAMAV_PORT
TCPAddr 127.0.0.1
Foreground yes
LogFile $LOGS/clamd.log
LogTime yes
LogRotate yes
LogFileMaxSize 5M
# well above the 20 MB per-file upload limit: a stream over StreamMaxLength is an error, not a verdict
StreamMaxLength 64M
MaxFileSize 64M
MaxScanSize 256M
MaxRecursion 16
MaxFiles 10000
# a file that could not be scanned whole (too big, too deep, too many entries) is a finding
# (Heuristics.Limits.Exceeded.*), never "OK"
AlertExceedsMax yes
EOF
    mv "$CLAMAV_CONF.tmp" "$CLAMAV_CONF"
}

# clamav_ping: clamd answers zPING with PONG once its database is loaded.
clamav_ping() {
    (
        exec 3<>"/dev/tcp/127.0.0.1/$CLAMAV_PORT"
        printf 'zPING\0' >&3
        IFS= read -r -t 3 -d '' reply <&3
        [[ "$reply" == PONG ]]
    )
}

# clamav_finds_eicar: scan the EICAR string over zINSTREAM (one chunk of 68 = 0x44 bytes, then the end
# mark): proves the generated database is loaded, as the wallet will use it.
clamav_finds_eicar() {
    (
        exec 3<>"/dev/tcp/127.0.0.1/$CLAMAV_PORT"
        printf 'zINSTREAM\0\0\0\0\x44%s\0\0\0\0' "$(eicar)" >&3
        IFS= read -r -t 10 -d '' reply <&3
        [[ "$reply" == "stream: Eicar-Test-Signature"*" FOUND" ]]
    )
}

clamav_start() {
    with_lock clamav clamav_install
    local changed
    changed="$(clamav_write_db)"
    if is_running clamav; then
        say "clamav: already running"
        # a changed database is loaded now rather than at clamd's next self-check (10 minutes)
        if [[ -n "$changed" ]]; then
            (exec 3<>"/dev/tcp/127.0.0.1/$CLAMAV_PORT" && printf 'zRELOAD\0' >&3 && IFS= read -r -t 10 -d '' _ <&3) \
                || warn "clamav: could not ask clamd to reload its database"
        fi
    else
        port_busy "$CLAMAV_PORT" && die "clamav: port $CLAMAV_PORT is already used by another process"
        say "clamav: starting"
        clamav_write_conf
        # runs as the invoking user (no User line): it only reads what the wallet streams to it
        start_daemon clamav "$(clamav_bin)" -c "$CLAMAV_CONF"
    fi
    wait_until clamav 60 "$CLAMAV_LOG" clamav_ping
    clamav_finds_eicar || { log_tail "$CLAMAV_LOG"; die "clamav: the development signature database is not loaded"; }
}

case "${1:-start}" in
    start) clamav_start ;;
    # stop_pid waits until clamd (which shuts down asynchronously) is gone, so the port is free for a restart
    stop) stop_pid clamav 20 ;;
    status) is_running clamav ;;
    check) clamav_ping && clamav_finds_eicar ;;
    database) clamav_write_db >/dev/null; echo "$CLAMAV_DB" ;;   # for the clamav image
    *) die "usage: $0 start|stop|status|check|database" ;;
esac
