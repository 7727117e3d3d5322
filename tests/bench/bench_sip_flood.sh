#!/usr/bin/env bash
# tests/bench/bench_sip_flood.sh  Real calls while other sources flood the
# gateway: SIPp places CALL_RATE (100) calls/s from the PBX (127.0.0.2)
# toward pstnsim, while OPTIONS_RATE (5000) OPTIONS/s come from a prober
# on 127.0.0.3 (two SIPp instances, half each; not a trunk: answered 403)
# and REGISTER_RATE (1000) digest-authenticated REGISTERs/s from a PBX on
# 127.0.0.4 that registers to us (401, then 200).  Each call holds 1 s,
# on 8 T1 spans (184 channels).  Prints the real calls'
# failures (must be 0), what the flood got answered, tollgated's CPU and
# its resident memory before, during and after (bounded: it must come
# back near where it started).
#
#   CALL_RATE=100 OPTIONS_RATE=5000 REGISTER_RATE=1000 SECONDS_=30 \
#       tests/bench/bench_sip_flood.sh
set -euo pipefail
CALL_RATE=${CALL_RATE:-100}
OPTIONS_RATE=${OPTIONS_RATE:-5000}
REGISTER_RATE=${REGISTER_RATE:-1000}
DUR=${SECONDS_:-30}
. "$(dirname "$0")/lib.sh"

bench_conf
sed -i 's#^accept_from = 127.0.0.0/8#accept_from = 127.0.0.2#' "$WORK/tollgate.conf"
cat >> "$WORK/tollgate.conf" <<CONF
[trunk office]
type = sip
registrar = yes
inbound_user = office
inbound_password = off1ce
inbound_digest = md5
[trunk pstn]
type = tdm
spans = 1,2,3,4,5,6,7,8
CONF
for i in 1 2 3 4 5 6 7 8; do
	printf '[span %d]\ntype = t1\nswitch = ni2\ndir = %s\n' "$i" "$RUN" >> "$WORK/tollgate.conf"
done
"$BUILD/pstnsim/pstnsim" --dir "$RUN" --spans 8 --answer-after 0 \
	--media silence > "$WORK/pstnsim.jsonl" 2> "$WORK/pstnsim.log" &
PIDS+=($!)
sleep 0.3
"$BUILD/gateway/tollgated" -c "$WORK/tollgate.conf" 2> "$WORK/tollgated.log" &
GW=$!
PIDS+=($GW)
wait_spans 8
cpu() { awk '{ print $14 + $15 }' "/proc/$GW/stat"; }
rss() { awk '/VmRSS/ { print $2 }' "/proc/$GW/status"; }
rss0=$(rss)
calls=$((CALL_RATE * DUR))
half=$((OPTIONS_RATE / 2))
FLOOD=()
for k in 0 1; do
	timeout $((DUR + 60)) sipp -sf "$(dirname "$0")/sipp/options.xml" \
		"127.0.0.1:$SIP_PORT" -i 127.0.0.3 -p $((6000 + k)) -mp $((7000 + 100 * k)) \
		-m $((half * DUR)) -r "$half" -l $((half * 4)) -nostdin \
		-trace_stat -stf "$WORK/flood$k.csv" > "$WORK/flood$k.log" 2>&1 &
	FLOOD+=($!)
	PIDS+=($!)
done
if [ "$REGISTER_RATE" -gt 0 ]; then
	timeout $((DUR + 60)) sipp -sf "$(dirname "$0")/../integration/sipp/reg_uac.xml" \
		"127.0.0.1:$SIP_PORT" -i 127.0.0.4 -p 6100 -mp 7300 -s office \
		-au office -ap off1ce -key contact_line "Contact: <sip:pbx@127.0.0.4:6100>" \
		-key expires 120 -m $((REGISTER_RATE * DUR)) -r "$REGISTER_RATE" \
		-l $((REGISTER_RATE * 4)) -nostdin -trace_stat -stf "$WORK/reg.csv" \
		> "$WORK/reg.log" 2>&1 &
	FLOOD+=($!)
	PIDS+=($!)
fi
sleep 1
t0=$(cpu)
start=$(date +%s.%N)
rc=0
timeout $((DUR + 60)) sipp -sf "$(dirname "$0")/../integration/sipp/uac.xml" \
	"127.0.0.1:$SIP_PORT" -i 127.0.0.2 -p "$PBX_PORT" -s 2125551234 \
	-m "$calls" -r "$CALL_RATE" -l $((CALL_RATE * 4)) -d 1000 -nostdin \
	-trace_stat -stf "$WORK/stat.csv" > "$WORK/sipp.log" 2>&1 || rc=$?
end=$(date +%s.%N)
t1=$(cpu)
rss1=$(rss)
frc=0
for p in "${FLOOD[@]}"; do wait "$p" || frc=$?; done
sleep 2
rss2=$(rss)
hz=$(getconf CLK_TCK)
field() { tail -1 "$1" | awk -F';' -v f="$2" '{ print $f }'; }
ok=$(field "$WORK/stat.csv" 16)
bad=$(field "$WORK/stat.csv" 18)
fok=$(( $(field "$WORK/flood0.csv" 16) + $(field "$WORK/flood1.csv" 16) ))
fbad=$(( $(field "$WORK/flood0.csv" 18) + $(field "$WORK/flood1.csv" 18) ))
rok=0 rbad=0
if [ "$REGISTER_RATE" -gt 0 ]; then
	rok=$(field "$WORK/reg.csv" 16)
	rbad=$(field "$WORK/reg.csv" 18)
fi
elapsed=$(echo "$end - $start" | bc -l)
printf 'real calls:             %s of %d at %d/s succeeded, %s failed (sipp exit %d)\n' \
	"$ok" "$calls" "$CALL_RATE" "$bad" "$rc"
printf 'OPTIONS flood:          %d answered, %d unanswered, at %d/s offered (sipp exit %d)\n' \
	"$fok" "$fbad" "$OPTIONS_RATE" "$frc"
printf 'REGISTER flood:         %d registered (401 then 200), %d failed, at %d/s offered\n' \
	"$rok" "$rbad" "$REGISTER_RATE"
printf 'tollgated CPU:          %.1f%% of a core over %.0f s\n' \
	"$(echo "($t1 - $t0) / $hz * 100 / $elapsed" | bc -l)" "$elapsed"
printf 'tollgated RSS:          %d KiB before, %d KiB at the end of the load, %d KiB 2 s after\n' \
	"$rss0" "$rss1" "$rss2"
[ "$bad" = 0 ] && [ "$rc" = 0 ]
