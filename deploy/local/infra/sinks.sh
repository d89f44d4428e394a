#!/usr/bin/env bash
# Development sinks: SMTP (aiosmtpd, 127.0.0.1:51025 -> .data/mail/*.eml) and SMS (HTTP, 127.0.0.1:51080
# -> .data/sms/*.json). Both run with the checkout's .venv Python.
# Usage: sinks.sh start|stop|status
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SINKS_DIR="$ROOT/deploy/local/sinks"

smtp_ok() { "$PY" - "$SMTP_PORT" <<'PY'
import socket, sys
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2) as s:
    s.settimeout(2)
    assert s.recv(512).startswith(b"220")
    s.sendall(b"QUIT\r\n")
PY
}
sms_ok() { http_ok "http://127.0.0.1:$SMS_PORT/healthz"; }

sinks_start() {
    [[ -x "$PY" ]] || die "sinks: $PY is missing; run 'make venv' first"
    if is_running smtp-sink; then
        say "smtp-sink: already running"
    else
        port_busy "$SMTP_PORT" && die "smtp-sink: port $SMTP_PORT is already used by another process"
        say "smtp-sink: starting"
        mkdir -p "$DATA/mail"
        start_daemon smtp-sink "$PY" "$SINKS_DIR/smtp_sink.py" --host 127.0.0.1 --port "$SMTP_PORT" --dir "$DATA/mail"
    fi
    if is_running sms-sink; then
        say "sms-sink: already running"
    else
        port_busy "$SMS_PORT" && die "sms-sink: port $SMS_PORT is already used by another process"
        say "sms-sink: starting"
        mkdir -p "$DATA/sms"
        start_daemon sms-sink "$PY" "$SINKS_DIR/sms_sink.py" --host 127.0.0.1 --port "$SMS_PORT" --dir "$DATA/sms"
    fi
    wait_until smtp-sink 20 "$LOGS/smtp-sink.log" smtp_ok
    wait_until sms-sink 20 "$LOGS/sms-sink.log" sms_ok
}

sinks_stop() {
    local any=1
    stop_pid sms-sink 10 && any=0
    stop_pid smtp-sink 10 && any=0
    return $any
}

case "${1:-start}" in
    start) sinks_start ;;
    stop) sinks_stop ;;
    status) is_running smtp-sink && is_running sms-sink ;;
    *) die "usage: $0 start|stop|status" ;;
esac
