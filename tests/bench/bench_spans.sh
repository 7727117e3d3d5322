#!/usr/bin/env bash
# tests/bench/bench_spans.sh  A full PRI shelf: 16 virtual E1 spans (480
# B-channels, EuroISDN, A-law) kept busy by SIPp at steady state, new calls
# replacing ended ones at RATE/s (100), each call holding its channel with
# its media bridge running (pstnsim sends silence every 20 ms; tollgated
# sends it to SIPp as RTP; SIPp sends none back, so the RTP -> B side
# runs its jitter buffer dry).  Prints the calls, failures (must be 0), the
# concurrent calls reached, tollgated CPU in % of a core and per busy
# channel, and its resident memory per call.
#
#   RATE=100 SECONDS_=60 tests/bench/bench_spans.sh
#
# Runs in a private network namespace when it can (see NOTES.md), with the
# callers on 127.0.0.2 and tollgated on 127.0.0.1.
set -euo pipefail
RATE=${RATE:-100}
DUR=${SECONDS_:-60}
NSPANS=16
HOLD_MS=${HOLD_MS:-4800}     # RATE * HOLD = the channels kept busy
LIMIT=$((NSPANS * 30))
. "$(dirname "$0")/lib.sh"

bench_conf
cat >> "$WORK/tollgate.conf" <<CONF
[trunk pstn]
type = tdm
spans = $(seq -s, 1 $NSPANS)
hunt = lru
CONF
for i in $(seq 1 $NSPANS); do
	printf '[span %d]\ntype = e1\nswitch = euroisdn_e1\ndir = %s\n' "$i" "$RUN" >> "$WORK/tollgate.conf"
done

"$BUILD/pstnsim/pstnsim" --dir "$RUN" --spans $NSPANS --type e1 \
	--switch euroisdn_e1 --answer-after 0 --media silence \
	> "$WORK/pstnsim.jsonl" 2> "$WORK/pstnsim.log" &
PIDS+=($!)
sleep 0.3
"$BUILD/gateway/tollgated" -c "$WORK/tollgate.conf" 2> "$WORK/tollgated.log" &
GW=$!
PIDS+=($GW)
wait_spans $NSPANS
GWPID=$GW
cpu() { awk '{ print $14 + $15 }' "/proc/$GWPID/stat"; }
calls=$((RATE * DUR))
busy() { "$BUILD/gateway/tollgatectl" -s "$RUN/tollgated.ctl" --json show spans |
	grep -o '"in_use":[0-9]*' | tr -dc '0-9\n' | paste -sd+ | bc; }
rc=0
timeout $((DUR + 90)) sipp -sf "$(dirname "$0")/../integration/sipp/uac.xml" \
	"127.0.0.1:$SIP_PORT" -i 127.0.0.2 -p "$PBX_PORT" -s 2125551234 \
	-m "$calls" -r "$RATE" -l "$LIMIT" -d "$HOLD_MS" -nostdin -trace_stat \
	-stf "$WORK/stat.csv" > "$WORK/sipp.log" 2>&1 &
SIPP=$!
PIDS+=($SIPP)
# Measure over the steady state: from when the shelf has filled up to
# just before the last calls are placed.
ramp=$(( (HOLD_MS + 999) / 1000 + 2 ))
sleep "$ramp"
t0=$(cpu)
start=$(date +%s.%N)
peak=0
win=$((DUR - ramp - 2))
for _ in $(seq 1 "$win"); do
	sleep 1
	b=$(busy)
	[ "$b" -gt "$peak" ] && peak=$b
done
t1=$(cpu)
end=$(date +%s.%N)
b_end=$(busy)
rss=$(awk '/VmRSS/ { print $2 }' "/proc/$GWPID/status")
wait "$SIPP" || rc=$?
hz=$(getconf CLK_TCK)
stats=$(tail -1 "$WORK/stat.csv")
ok=$(echo "$stats" | awk -F';' '{ print $16 }')   # SuccessfulCall(C)
bad=$(echo "$stats" | awk -F';' '{ print $18 }')  # FailedCall(C)
elapsed=$(echo "$end - $start" | bc -l)
cpu_s=$(echo "($t1 - $t0) / $hz" | bc -l)
pct=$(echo "$cpu_s * 100 / $elapsed" | bc -l)
printf 'spans, channels:        %d E1, %d\n' "$NSPANS" "$LIMIT"
printf 'calls offered:          %d at %d/s, %d ms each\n' "$calls" "$RATE" "$HOLD_MS"
printf 'calls succeeded:        %s\n' "$ok"
printf 'calls failed:           %s (sipp exit %d)\n' "$bad" "$rc"
printf 'busy channels:          %s at the end of the window, %s at most\n' "$b_end" "$peak"
printf 'tollgated CPU:          %.1f%% of a core over %.0f s (%.3f%% per busy channel)\n' \
	"$pct" "$elapsed" "$(echo "$pct / $b_end" | bc -l)"
printf 'tollgated RSS:          %d KiB (%.1f KiB per busy channel)\n' "$rss" \
	"$(echo "$rss / $b_end" | bc -l)"
[ "$bad" = 0 ] && [ "$rc" = 0 ]
