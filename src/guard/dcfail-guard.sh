#!/bin/sh
# dcfail-guard: the return guard of a DC/OS master (installed by dcfail; see src/guard/README.md).
# dcfail-guard-version: 1
#
# Modes:
#   check <unit> <cluster> [whenUnsure]  run by each guarded unit's ExecStartPre (drop-in dcfail-guard.conf):
#                                        exit 0 = start the unit, exit 1 = stay down (systemd retries after
#                                        RestartSec). <cluster> is exhibitor, mesos or etcd. One log line on stderr.
#   beacon                               run by dcfail-guard-beacon@.service (socket-activated, stdin/stdout =
#                                        the connection): answers one HTTP request with this node's failover state.
#   version                              prints the version.
#
# Decision of `check`, in this order:
#   1. held: $STATE_DIR/hold or $STATE_DIR/hold.<unit> exists (dcfail guard hold, failback's quarantine): down.
#   2. this node holds the failover state of a failover away from the OTHER DC (it is a survivor): start.
#      The state of a failover away from its own DC: down.
#   3. the other DC's masters, asked side by side (curl, a few seconds at most):
#      - a beacon answering "failover=failed-over lost=<this DC>": down (the failover published it before
#        its first change on the survivors);
#      - a survivor's own membership without this node: down (Exhibitor's cluster/list without this node's IP,
#        for exhibitor and mesos; etcd's member list without this node's peer URL, for etcd);
#      - anything else that answered (a beacon "normal" or "failing-back", a membership with this node): start;
#      - nothing answered: asked again, ROUNDS rounds in all (1 s apart), then WHEN_UNSURE (start, or
#        wait = down and retried).
# A check that cannot run (no config, no curl) behaves as WHEN_UNSURE says and logs why.

GUARD_SCRIPT_VERSION=1
CONF=${DCFAIL_GUARD_CONF:-/etc/dcfail/guard.conf}

UNIT=guard
log() {
  printf 'dcfail-guard[%s]: %s\n' "$UNIT" "$*" >&2
}

# The decision of a check that cannot look: whenUnsure.
unsure() {
  if [ "$WHEN_UNSURE" = wait ]; then
    log "staying down: $1 (whenUnsure=wait)"
    exit 1
  fi
  log "starting: $1 (whenUnsure=start)"
  exit 0
}

# First line of the failover state file: "failed-over <lost dc> <run>", "failing-back <dc> <run>", or nothing.
read_state() {
  STATE_KIND=normal
  STATE_DC=-
  STATE_RUN=-
  if [ -r "$STATE_DIR/failover" ]; then
    # shellcheck disable=SC2034
    read -r STATE_KIND STATE_DC STATE_RUN _rest <"$STATE_DIR/failover" || true
    case "$STATE_KIND" in
      failed-over | failing-back) ;;
      *) STATE_KIND=normal ;;
    esac
    [ -n "$STATE_DC" ] || STATE_DC=-
    [ -n "$STATE_RUN" ] || STATE_RUN=-
  fi
}

get() {
  "$CURL" -s --connect-timeout "$CONNECT_TIMEOUT" --max-time "$MAX_TIME" "$@" 2>/dev/null
}

# One probe of one peer: writes one word to $2 (a file of the temporary directory).
probe_beacon() {
  body=$(get "http://$1:$BEACON_PORT/") || body=
  case "$body" in
    *"dcfail-guard beacon"*"failover=failed-over lost=$NODE_DC "*) echo "failover" >"$2" ;;
    *"dcfail-guard beacon"*) echo "answered" >"$2" ;;
    *) echo "none" >"$2" ;;
  esac
}

probe_exhibitor() {
  body=$(get "http://$1:$EXHIBITOR_PORT/exhibitor/v1/cluster/list") || body=
  case "$body" in
    *'"servers"'*"\"$NODE_ADDRESS\""*) echo "member" >"$2" ;;
    *'"servers"'*) echo "without" >"$2" ;;
    *) echo "none" >"$2" ;;
  esac
}

probe_etcd() {
  body=$(get -X POST -d '{}' "http://$1:$ETCD_CLIENT_PORT/v3/cluster/member/list") || body=
  case "$body" in
    *'"members"'*"\"$ETCD_PEER_URL\""*) echo "member" >"$2" ;;
    *'"members"'*) echo "without" >"$2" ;;
    *) echo "none" >"$2" ;;
  esac
}

check() {
  UNIT=${1:-unknown}
  cluster=${2:-}
  WHEN_UNSURE=${3:-start}
  if [ ! -r "$CONF" ]; then
    unsure "cannot run the check: no config $CONF"
  fi
  # shellcheck source=/dev/null
  . "$CONF"
  [ "$WHEN_UNSURE" = wait ] || WHEN_UNSURE=start
  STATE_DIR=${STATE_DIR:-/var/lib/dcfail/guard}
  CONNECT_TIMEOUT=${CONNECT_TIMEOUT:-1}
  MAX_TIME=${MAX_TIME:-2}
  ROUNDS=${ROUNDS:-3}
  case "$ROUNDS" in
    [1-9]) ;;
    *) ROUNDS=3 ;;
  esac

  if [ -e "$STATE_DIR/hold" ] || [ -e "$STATE_DIR/hold.$UNIT" ]; then
    log "staying down: held by dcfail ($STATE_DIR/hold or hold.$UNIT); lift it to start"
    exit 1
  fi

  read_state
  if [ "$STATE_KIND" != normal ]; then
    if [ "$STATE_DC" = "$NODE_DC" ]; then
      log "staying down: this node's state says $STATE_KIND away from its own DC $NODE_DC (run $STATE_RUN)"
      exit 1
    fi
    log "starting: this node is a survivor ($STATE_KIND away from $STATE_DC, run $STATE_RUN)"
    exit 0
  fi

  case "$cluster" in
    exhibitor | mesos) probe=probe_exhibitor ;;
    etcd) probe=probe_etcd ;;
    *) unsure "cannot run the check: unknown cluster '$cluster'" ;;
  esac
  if [ "$cluster" = etcd ] && [ -z "${ETCD_PEER_URL:-}" ]; then
    unsure "cannot run the check: no ETCD_PEER_URL in $CONF"
  fi
  if [ -z "${CURL:-}" ] || [ ! -x "$CURL" ]; then
    unsure "cannot run the check: curl missing (${CURL:-unset})"
  fi
  if [ -z "${OTHER_MASTERS:-}" ]; then
    unsure "cannot run the check: no OTHER_MASTERS in $CONF"
  fi
  # At boot the unit may start before this node's network is up: an unreachable other DC must not be
  # concluded from a network that is not there yet. Wait for this node's address and a route to the first
  # of the other DC's masters (10 s at most; no `ip`: skip).
  if command -v ip >/dev/null 2>&1; then
    first=${OTHER_MASTERS%% *}
    n=0
    while [ "$n" -lt 10 ]; do
      if ip -4 -o addr show 2>/dev/null | grep -q " $NODE_ADDRESS/" && ip route get "$first" >/dev/null 2>&1; then
        break
      fi
      sleep 1
      n=$((n + 1))
    done
  fi
  tmp=$(mktemp -d 2>/dev/null) || unsure "cannot run the check: mktemp failed"
  trap 'rm -rf "$tmp"' EXIT
  # Every master of the other DC, beacon and membership side by side; asked again (1 s apart) while
  # nothing at all answered: one slow answer at boot on a loaded host is not a DC that is gone.
  round=0
  while :; do
    round=$((round + 1))
    rm -f "$tmp"/b.* "$tmp"/m.*
    i=0
    for ip in $OTHER_MASTERS; do
      i=$((i + 1))
      probe_beacon "$ip" "$tmp/b.$i.$ip" &
      "$probe" "$ip" "$tmp/m.$i.$ip" &
    done
    wait
    if grep -qv '^none$' "$tmp"/b.* "$tmp"/m.* 2>/dev/null || [ "$round" -ge "$ROUNDS" ]; then
      break
    fi
    sleep 1
  done

  answered=
  for f in "$tmp"/b.*; do
    [ -r "$f" ] || continue
    ip=${f#"$tmp"/b.*.}
    case "$(cat "$f")" in
      failover)
        log "staying down: failover marker on $ip ($OTHER_DC): the cluster runs failed over away from $NODE_DC"
        exit 1
        ;;
      answered) answered="$answered beacon@$ip" ;;
    esac
  done
  for f in "$tmp"/m.*; do
    [ -r "$f" ] || continue
    ip=${f#"$tmp"/m.*.}
    case "$(cat "$f")" in
      without)
        if [ "$cluster" = etcd ]; then
          log "staying down: etcd on $ip ($OTHER_DC) has no member $ETCD_PEER_URL: the cluster runs failed over without this node"
        else
          log "staying down: the ZooKeeper ensemble on $ip ($OTHER_DC, Exhibitor cluster/list) does not include $NODE_ADDRESS: the cluster runs failed over without this node"
        fi
        exit 1
        ;;
      member) answered="$answered $cluster@$ip" ;;
    esac
  done
  if [ -z "$answered" ]; then
    unsure "$OTHER_DC ($OTHER_MASTERS) does not answer (rounds: $round)"
  fi
  log "starting: no failover evidence in $OTHER_DC (answered:$answered)"
  exit 0
}

beacon() {
  if [ -r "$CONF" ]; then
    # shellcheck source=/dev/null
    . "$CONF"
  fi
  STATE_DIR=${STATE_DIR:-/var/lib/dcfail/guard}
  cr=$(printf '\r')
  # Read the request up to its blank line (closing with unread data would reset the connection).
  while IFS= read -r line; do
    line=${line%"$cr"}
    [ -n "$line" ] || break
  done
  read_state
  printf 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n'
  printf 'dcfail-guard beacon version=%s node=%s dc=%s failover=%s lost=%s run=%s \n' \
    "$GUARD_SCRIPT_VERSION" "${NODE_NAME:-unknown}" "${NODE_DC:-unknown}" "$STATE_KIND" "$STATE_DC" "$STATE_RUN"
}

case "${1:-}" in
  check)
    shift
    check "$@"
    ;;
  beacon) beacon ;;
  version) echo "dcfail-guard $GUARD_SCRIPT_VERSION" ;;
  *)
    echo "usage: $0 check <unit> <exhibitor|mesos|etcd> [start|wait] | beacon | version" >&2
    exit 2
    ;;
esac
