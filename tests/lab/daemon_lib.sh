# shellcheck shell=bash
# Helpers shared by the daemon lab tests (tests/lab/daemon_*_test.sh). Source after lab/lib.sh.

# dmn_start NAME POLICY [extra args...]: start `portcullis run` in the gateway namespace with its
# control socket, state and events under $LAB_DIR; waits until the control socket answers.
DMN_CONTROL= DMN_STATE= DMN_EVENTS=
dmn_start() {
  local name=$1 policy=$2; shift 2
  DMN_CONTROL=$LAB_DIR/run-dmn/control.sock
  DMN_STATE=${DMN_STATE:-$LAB_DIR/state/state.json}
  DMN_EVENTS=$LAB_DIR/events.jsonl
  mkdir -p "$(dirname "$DMN_STATE")" "$LAB_DIR/pc-run-$LAB_NS_GW"
  lab_bg "$name" "$LAB_NS_GW" env PORTCULLIS_RUN_DIR="$LAB_DIR/pc-run-$LAB_NS_GW" "$PORTCULLIS" run "$policy" \
    --control "$DMN_CONTROL" --state-file "$DMN_STATE" --events-file "$DMN_EVENTS" "$@" >/dev/null
  wait_until 15 dmn_ctl status >/dev/null 2>&1
}

# dmn_ctl ARGS...: a portcullis client subcommand against the running daemon's control socket.
# The --control option goes after the (sub)subcommand words.
dmn_ctl() {
  local words=()
  while [ $# -gt 0 ] && [[ $1 != -* ]] && [ ${#words[@]} -lt 2 ]; do
    case $1 in status|reload|grants|bans|list|add|remove|revoke) words+=("$1"); shift ;; *) break ;; esac
  done
  ns_exec "$LAB_NS_GW" "$PORTCULLIS" "${words[@]}" "$@" --control "$DMN_CONTROL"
}

# dmn_raw LINE: send one raw line to the control socket and print the reply line.
dmn_raw() { printf '%s\n' "$1" | ns_exec "$LAB_NS_GW" timeout 5 socat -t3 - "UNIX-CONNECT:$DMN_CONTROL"; }

# dmn_status_field FIELD: one top-level field of `status --json`.
dmn_status_field() {
  dmn_ctl status --json | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"
}

# dmn_event_count TYPE: how many events of TYPE the events file holds.
dmn_event_count() { grep -c "\"type\":\"$1\"" "$DMN_EVENTS" 2>/dev/null || true; }

# dmn_has_event TYPE: at least one event of TYPE.
dmn_has_event() { [ "$(dmn_event_count "$1")" -gt 0 ]; }

# dmn_pid NAME: pid of the daemon started as NAME (`ip netns exec` and env exec into it).
dmn_pid() { cat "$LAB_DIR/$1.pid"; }

# dmn_stop NAME: SIGTERM and wait for a clean exit.
dmn_stop() { lab_stop "$1"; }

# set_has SET ELEMENT: the kernel set in our table lists ELEMENT.
set_has() { ns_exec "$LAB_NS_GW" nft list set inet portcullis "$1" 2>/dev/null | grep -qF -- "$2"; }

# ban_has ADDRESS_OR_PREFIX: any ban set of its family holds it (hosts: banh4/banh6, prefixes and
# hosts of older versions: ban4/ban6).
ban_has() {
  case $1 in
    *:*) set_has banh6 "$1" || set_has ban6 "$1" ;;
    *) set_has banh4 "$1" || set_has ban4 "$1" ;;
  esac
}

# table_exists: our table is in the gateway's kernel.
table_exists() { ns_exec "$LAB_NS_GW" nft list table inet portcullis >/dev/null 2>&1; }

# dmn_answers: the daemon answers a status request.
dmn_answers() { dmn_ctl status >/dev/null 2>&1; }
