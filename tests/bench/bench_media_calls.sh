#!/usr/bin/env bash
# tests/bench/bench_media_calls.sh  Concurrent TDM <-> RTP calls with every
# frame checked: rtpload places CALLS (480) calls through tollgated onto 16
# virtual E1 spans (A-law, EuroISDN); pstnsim echoes every B-channel, so
# each numbered frame rtpload sends crosses RTP -> B-channel -> pstnsim ->
# B-channel -> RTP and is checked when it comes back (lost, doubled, late,
# damaged; RTP sequence gaps).  Prints rtpload's figures, the round trip
# (p50/p99: both directions plus pstnsim's two-frame (40 ms) echo), and tollgated's
# CPU (% of a core) and resident memory while all calls are up.
#
#   CALLS=480 SECONDS_=300 tests/bench/bench_media_calls.sh
#   EC=yes CALLS=480 SECONDS_=60 tests/bench/bench_media_calls.sh
#
# EC=yes turns the echo canceller on (128 ms tail unless TAIL is set).
# STAMP=1 measures each direction on its own instead of the loop: pstnsim
# and rtpload send time-stamped probe frames and check the other's
# (pstnsim/stamp.h); B -> RTP comes from rtpload, RTP -> B from pstnsim's
# call records (median of the calls' p50, worst call's p99).
# SRTP=1 puts every call's media in SRTP (SDES, AES_CM_128_HMAC_SHA1_80).
# JB=adaptive uses the adaptive jitter buffer instead of the fixed one;
# JB_MIN (40) is its jb_min.
set -euo pipefail
CALLS=${CALLS:-480}
DUR=${SECONDS_:-300}
RATE=${RATE:-40}
EC=${EC:-no}
STAMP=${STAMP:-}
MEDIA=echo LOADOPT=()
if [ -n "$STAMP" ]; then MEDIA=stamp LOADOPT=(--stamp); fi
[ -z "${SRTP:-}" ] || LOADOPT+=(--srtp)
TAIL=${TAIL:-128}
NSPANS=$(( (CALLS + 29) / 30 ))
. "$(dirname "$0")/lib.sh"

bench_conf
[ -z "${SRTP:-}" ] || sed -i '/^\[trunk pbx\]/a srtp = optional' "$WORK/tollgate.conf"
# The fixed jitter buffer passes octets as they came, so every probe can
# be checked whole; JB=adaptive measures the adaptive one, whose
# time-scaling (not heard) shows as damaged probes.
sed -i '/^\[trunk pbx\]/a jb_mode = '"${JB:-fixed}"'\njb_min = '"${JB_MIN:-40}" "$WORK/tollgate.conf"
cat >> "$WORK/tollgate.conf" <<CONF
[trunk pstn]
type = tdm
spans = $(seq -s, 1 $NSPANS)
hunt = lru
CONF
for i in $(seq 1 $NSPANS); do
	printf '[span %d]\ntype = e1\nswitch = euroisdn_e1\ndir = %s\necho_cancel = %s\necho_tail = %s\n' \
		"$i" "$RUN" "$EC" "$TAIL" >> "$WORK/tollgate.conf"
done

"$BUILD/pstnsim/pstnsim" --dir "$RUN" --spans $NSPANS --type e1 \
	--switch euroisdn_e1 --answer-after 0 --media $MEDIA \
	> "$WORK/pstnsim.jsonl" 2> "$WORK/pstnsim.log" &
PIDS+=($!)
sleep 0.3
"$BUILD/gateway/tollgated" -c "$WORK/tollgate.conf" 2> "$WORK/tollgated.log" &
GW=$!
PIDS+=($GW)
wait_spans $NSPANS
cpu() { awk '{ print $14 + $15 }' "/proc/$GW/stat"; }
busy() { "$BUILD/gateway/tollgatectl" -s "$RUN/tollgated.ctl" --json show spans |
	grep -o '"in_use":[0-9]*' | tr -dc '0-9\n' | paste -sd+ | bc; }

rss0=$(awk '/VmRSS/ { print $2 }' "/proc/$GW/status")
ramp=$(( CALLS / RATE + 3 ))
"$BUILD/tests/tools/rtpload" --gw "127.0.0.1:$SIP_PORT" --local 127.0.0.2 \
	--sip-port "$PBX_PORT" --rtp-port 40000 --calls "$CALLS" --rate "$RATE" \
	--hold "$((DUR + ramp))" --max-time "$((DUR + 2 * ramp + 60))" "${LOADOPT[@]}" \
	> "$WORK/rtpload.out" 2> "$WORK/rtpload.log" &
LOAD=$!
PIDS+=($LOAD)
# The window: every call up (after the ramp), ending before the first
# call's media stops.
sleep "$ramp"
up=$(busy)
t0=$(cpu)
start=$(date +%s.%N)
sleep "$DUR"
t1=$(cpu)
end=$(date +%s.%N)
up_end=$(busy)
rss=$(awk '/VmRSS/ { print $2 }' "/proc/$GW/status")
rc=0
wait "$LOAD" || rc=$?
hz=$(getconf CLK_TCK)
elapsed=$(echo "$end - $start" | bc -l)
pct=$(echo "($t1 - $t0) / $hz * 100 / $elapsed" | bc -l)
printf 'spans, calls:           %d E1, %d calls (%s up at the start of the window, %s at its end)\n' \
	"$NSPANS" "$CALLS" "$up" "$up_end"
printf 'echo canceller:         %s, SRTP: %s, jitter buffer: %s\n' "$EC" "$([ -n "${SRTP:-}" ] && echo yes || echo no)" "${JB:-fixed}"
printf 'tollgated CPU:          %.1f%% of a core over %.0f s (%.4f%% per call)\n' \
	"$pct" "$elapsed" "$(echo "$pct / $CALLS" | bc -l)"
printf 'tollgated RSS:          %d KiB with the calls up, %d KiB idle (%.1f KiB per call)\n' \
	"$rss" "$rss0" "$(echo "($rss - $rss0) / $CALLS" | bc -l)"
cat "$WORK/rtpload.out"
if [ -n "$STAMP" ]; then
	for _ in $(seq 1 100); do
		[ "$(grep -c '"played":"stamp"' "$WORK/pstnsim.jsonl")" -ge "$CALLS" ] && break
		sleep 0.1
	done
	grep '"played":"stamp"' "$WORK/pstnsim.jsonl" |
		sed 's/.*"stamp_rx":\([0-9]*\),"stamp_lost":\([0-9]*\),"stamp_dup":\([0-9]*\),"stamp_damaged":\([0-9]*\),"stamp_p50_ms":\([0-9.]*\),"stamp_p99_ms":\([0-9.]*\),"stamp_max_ms":\([0-9.]*\).*/\1 \2 \3 \4 \5 \6 \7/' |
		sort -k5 -n | awk '{ n++; rx += $1; lost += $2; dup += $3; dmg += $4; p50[n] = $5;
			if ($6 > p99) p99 = $6; if ($7 > mx) mx = $7 }
		END { printf "RTP -> B (pstnsim):     %d calls, %d probes, lost %d, dup %d, damaged %d; p50 %.2f ms (median call), p99 %.2f ms (worst call), max %.2f ms\n",
			n, rx, lost, dup, dmg, p50[int((n + 1) / 2)], p99, mx;
			exit !(lost == 0 && dup == 0 && dmg == 0) }' || rc=1
fi
[ "$rc" = 0 ] || { echo "rtpload exit $rc: $(tail -3 "$WORK/rtpload.log")"; exit 1; }
