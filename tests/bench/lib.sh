# tests/bench/lib.sh  What the call benchmarks share (sourced): a private
# network namespace when it can (NOTES.md), the work directory, clean-up
# of what was started, and the [general]..[trunk pbx] part of the config.
if [ -z "${TG_IN_NETNS:-}" ] && [ "$(id -u)" = 0 ] && unshare -n true 2>/dev/null; then
	export TG_IN_NETNS=1
	exec unshare -n bash -c 'ip link set lo up && exec bash "$0" "$@"' "$0" "$@"
fi
BUILD=${TG_BUILD:-$(cd "$(dirname "$0")/../.." && pwd)}
WORK=$(mktemp -d /tmp/tg-bench.XXXXXX)
RUN=$WORK/run
mkdir -p "$RUN"
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	sleep 0.5
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	[ -n "${TG_KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

SIP_PORT=5060
PBX_PORT=5080
if [ -z "${TG_IN_NETNS:-}" ]; then SIP_PORT=35060; PBX_PORT=35080; fi

# bench_conf: $WORK/tollgate.conf up to the PBX trunk (SIPp on 127.0.0.2).
bench_conf() {
	cat > "$WORK/tollgate.conf" <<CONF
[general]
log_level = warning
control_socket = $RUN/tollgated.ctl
[sip]
bind = 127.0.0.1
port = $SIP_PORT
rtp_port_min = 20000
rtp_port_max = 39999
[database]
path = $RUN/tollgate.db
[trunk pbx]
type = sip
peer = 127.0.0.2:$PBX_PORT
accept_from = 127.0.0.0/8
[routing]
outbound = pstn
CONF
}

# wait_spans N: until tollgated has N D-channels up and every idle
# channel's RESTART acknowledged (at most 30 s).
wait_spans() {
	local ctl=("$BUILD/gateway/tollgatectl" -s "$RUN/tollgated.ctl" --json)
	for _ in $(seq 1 300); do
		[ "$("${ctl[@]}" show spans 2>/dev/null |
			grep -o '"dchan":"up"' | wc -l)" -eq "$1" ] &&
		! "${ctl[@]}" show channels 2>/dev/null | grep -q restarting &&
			return 0
		sleep 0.1
	done
}
