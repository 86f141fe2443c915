# Shared by the shell tests; source it. Background processes started here are the caller's to
# stop (its EXIT trap).

# wait_port_file FILE PID LOG WHAT: start-up only. Waits (up to 120 s) for process PID to write
# its port to FILE; if it exits or never does, prints LOG and fails naming WHAT.
wait_port_file() {
  local file="$1" pid="$2" log="$3" what="$4"
  for _ in $(seq 1 1200); do
    [[ -s "$file" ]] && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  cat "$log" >&2
  echo "FAIL: $what did not start" >&2
  return 1
}

# start_replay BINARY WORK ARGS...: `BINARY replay-exchange ARGS` in the background on an
# ephemeral port (log WORK/replay.log). Sets replay_pid and replay_port.
start_replay() {
  local bin="$1" work="$2"
  shift 2
  "$bin" replay-exchange "$@" --port-file "$work/replay.port" >"$work/replay.log" 2>&1 &
  replay_pid=$!
  wait_port_file "$work/replay.port" "$replay_pid" "$work/replay.log" "the replay exchange" ||
    return 1
  replay_port="$(cat "$work/replay.port")"
}
