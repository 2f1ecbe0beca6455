#!/bin/sh
# API-key proxy entrypoint (busybox sh in nginx-unprivileged).
# Turns the mounted Secret (one key per entry) into an nginx map of accepted
# "Authorization: Bearer <key>" values, starts nginx, and reloads it whenever the
# keys or the TLS certificate change (the kubelet refreshes the mounts), so keys rotate
# and certificates renew without a restart.
set -eu

KEYS_DIR=${LIMA_KEYS_DIR:-/etc/lima-keys}
TLS_DIR=${LIMA_TLS_DIR:-/etc/lima-tls}
MAP_DIR=${LIMA_MAP_DIR:-/tmp/keys}
CONF=${LIMA_PROXY_CONF:-/etc/lima-proxy/nginx.conf}
RELOAD_SECONDS=${LIMA_RELOAD_SECONDS:-15}

render_keys() {
    mkdir -p "$MAP_DIR"
    : > "$MAP_DIR/keys.map.new"
    count=0
    for entry in "$KEYS_DIR"/*; do
        [ -f "$entry" ] || continue
        key=$(tr -d ' \r\n' < "$entry")
        name=$(basename "$entry")
        case "$key" in
            ""|*[!A-Za-z0-9_-]*)
                echo "proxy: ignoring key '$name': only A-Z a-z 0-9 _ - are allowed" >&2
                continue ;;
        esac
        if [ "${#key}" -lt 16 ]; then
            echo "proxy: ignoring key '$name': shorter than 16 characters" >&2
            continue
        fi
        # Anchored regular expression: the scheme in any case (RFC 7235), the key exact
        # and case-sensitive.
        printf '"~^[Bb][Ee][Aa][Rr][Ee][Rr] %s$" 1;\n' "$key" >> "$MAP_DIR/keys.map.new"
        count=$((count + 1))
    done
    mv "$MAP_DIR/keys.map.new" "$MAP_DIR/keys.map"
    echo "proxy: $count API key(s) loaded" >&2
}

keys_state() {
    cat "$KEYS_DIR"/* "$TLS_DIR"/* 2>/dev/null | md5sum
}

render_keys
last=$(keys_state)
(
    while sleep "$RELOAD_SECONDS"; do
        now=$(keys_state)
        if [ "$now" != "$last" ]; then
            render_keys && nginx -e stderr -c "$CONF" -s reload && last=$now
        fi
    done
) &
exec nginx -e stderr -c "$CONF" -g "daemon off;"
