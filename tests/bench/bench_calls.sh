#!/usr/bin/env bash
# tests/bench/bench_calls.sh  Calls per second: SIPp -> tollgated -> pstnsim
# over 4 virtual T1 spans.  Prints calls/s sustained with zero failures,
# tollgated CPU seconds per 1000 calls, and (with CALLGRIND=1) callgrind
# instructions per call.  TRANSPORT=tcp: SIPp over one TCP connection
# (-t t1); TRANSPORT=tls: the same through tls_relay.py to the gateway's
# TLS port (one TLS connection; SIPp has no TLS of its own).
#
#   RATE=500 SECONDS_=30 tests/bench/bench_calls.sh
#   TRANSPORT=tcp RATE=300 SECONDS_=30 tests/bench/bench_calls.sh
#
# Runs in a private network namespace when it can (see NOTES.md), with the
# callers on 127.0.0.2 and tollgated on 127.0.0.1.
set -euo pipefail
RATE=${RATE:-500}
DUR=${SECONDS_:-30}
TRANSPORT=${TRANSPORT:-udp}
. "$(dirname "$0")/lib.sh"

bench_conf
SIPP_T=(-t u1)
SIPP_TO=$SIP_PORT
case $TRANSPORT in
udp) ;;
tcp)
	sed -i '/^\[sip\]/a tcp = yes' "$WORK/tollgate.conf"
	SIPP_T=(-t t1) ;;
tls)
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		-nodes -days 1 -subj /CN=127.0.0.1 -keyout "$WORK/gw.key" \
		-out "$WORK/gw.pem" > "$WORK/openssl.log" 2>&1
	sed -i "/^\[sip\]/a tls = yes\ntls_port = $((SIP_PORT + 1))\ntls_cert = $WORK/gw.pem\ntls_key = $WORK/gw.key" \
		"$WORK/tollgate.conf"
	SIPP_T=(-t t1)
	SIPP_TO=$((SIP_PORT + 2)) ;;
*) echo "TRANSPORT is udp, tcp or tls" >&2; exit 2 ;;
esac
cat >> "$WORK/tollgate.conf" <<CONF
[trunk pstn]
type = tdm
spans = 1,2,3,4
CONF
for i in 1 2 3 4; do
	printf '[span %d]\ntype = t1\nswitch = ni2\ndir = %s\n' "$i" "$RUN" >> "$WORK/tollgate.conf"
done

"$BUILD/pstnsim/pstnsim" --dir "$RUN" --spans 4 --answer-after 0 \
	--media silence > "$WORK/pstnsim.jsonl" 2> "$WORK/pstnsim.log" &
PIDS+=($!)
sleep 0.3
WRAP=()
if [ -n "${CALLGRIND:-}" ]; then
	# Instrument only the call window: switched on just before SIPp.
	WRAP=(valgrind --tool=callgrind --instr-atstart=no
		--callgrind-out-file="$WORK/callgrind.out")
fi
"${WRAP[@]}" "$BUILD/gateway/tollgated" -c "$WORK/tollgate.conf" 2> "$WORK/tollgated.log" &
GW=$!
PIDS+=($GW)
wait_spans 4
if [ "$TRANSPORT" = tls ]; then
	python3 "$(dirname "$0")/tls_relay.py" "$SIPP_TO" $((SIP_PORT + 1)) \
		> "$WORK/relay.log" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 1 50); do grep -q ready "$WORK/relay.log" && break; sleep 0.1; done
fi
GWPID=$GW
if [ -n "${CALLGRIND:-}" ]; then
	GWPID=$(pgrep -P "$GW" || echo "$GW")
fi
cpu() { awk '{ print $14 + $15 }' "/proc/$GWPID/stat"; }
if [ -n "${CALLGRIND:-}" ]; then
	callgrind_control -i on "$GWPID" >/dev/null
fi
calls=$((RATE * DUR))
t0=$(cpu)
start=$(date +%s.%N)
rc=0
timeout $((DUR + 60)) sipp -sf "$(dirname "$0")/../integration/sipp/uac.xml" \
	"127.0.0.$([ "$TRANSPORT" = tls ] && echo 2 || echo 1):$SIPP_TO" \
	"${SIPP_T[@]}" -i 127.0.0.2 -p "$PBX_PORT" -s 2125551234 \
	-m "$calls" -r "$RATE" -l $((RATE * 2)) -d 0 -nostdin -trace_stat -trace_err \
	-stf "$WORK/stat.csv" > "$WORK/sipp.log" 2>&1 || rc=$?
end=$(date +%s.%N)
t1=$(cpu)
hz=$(getconf CLK_TCK)
stats=$(tail -1 "$WORK/stat.csv")
ok=$(echo "$stats" | awk -F';' '{ print $16 }')   # SuccessfulCall(C)
bad=$(echo "$stats" | awk -F';' '{ print $18 }')  # FailedCall(C)
elapsed=$(echo "$end - $start" | bc -l)
cps=$(echo "$ok / $elapsed" | bc -l)
cpu_s=$(echo "($t1 - $t0) / $hz" | bc -l)
printf 'transport:              %s\n' "$TRANSPORT"
printf 'calls offered:          %d at %d/s\n' "$calls" "$RATE"
printf 'calls succeeded:        %s\n' "$ok"
printf 'calls failed:           %s (sipp exit %d)\n' "$bad" "$rc"
printf 'achieved calls/s:       %.1f\n' "$cps"
printf 'tollgated CPU s/1000:   %.3f  (%.0f us per call)\n' \
	"$(echo "$cpu_s * 1000 / $ok" | bc -l)" "$(echo "$cpu_s * 1000000 / $ok" | bc -l)"
if [ -n "${CALLGRIND:-}" ]; then
	kill -TERM "$GW"; wait "$GW" 2>/dev/null || true
	ir=$(callgrind_annotate "$WORK/callgrind.out" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
	printf 'callgrind Ir per call:  %.0f (call window and shut-down / %s calls)\n' \
		"$(echo "$ir / $ok" | bc -l)" "$ok"
fi
[ "$bad" = 0 ] && [ "$rc" = 0 ]
