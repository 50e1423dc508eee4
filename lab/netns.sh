# shellcheck shell=bash
# netns_destroy NS... : ends every process still inside each namespace, then deletes it.
# Deleting a namespace does not end its processes: they keep it alive, unnamed and unreachable.
# A test that kills only the pid of `ip netns exec ... &` (often a subshell's, not the program's)
# would leave the program running after the test, so cleanup goes by namespace membership.
netns_destroy() {
  local ns pid pids
  for ns in "$@"; do
    [ -n "$ns" ] || continue
    ip netns list 2>/dev/null | grep -qw -- "$ns" || continue
    pids=$(ip netns pids "$ns" 2>/dev/null)
    if [ -n "$pids" ]; then
      for pid in $pids; do kill -TERM "$pid" 2>/dev/null; done
      sleep 0.2
      for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    fi
    ip netns del "$ns" 2>/dev/null
  done
  return 0
}
