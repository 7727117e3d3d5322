#!/usr/bin/env bash
# tests/integration/scenario.sh  pstnsim --scenario: per-number behaviour
# from a file (contrib/pstnsim/lab.scenario's format), against tollgated.
#
#  - 5551 answer ring=1200 hangup=800 media=tone: answered after ~1.2 s,
#    the caller hears the tone, pstnsim clears after 0.8 s (cause 16).
#  - 5552 busy -> 486; 5553 reject:21 -> 403, cause 21.
#  - A bad line is refused with the file and line number.
#  - The sample file in contrib/ loads.
. "$(dirname "$0")/lib.sh"

cat > "$WORK/lab.scenario" <<'SCN'
# a test lab
5551  answer  ring=1200 hangup=800 media=tone
5552  busy
5553  reject:21   # a comment
SCN
write_conf
start_pstnsim --scenario "$WORK/lab.scenario"
start_gw

t0=$(date +%s%3N)
out=$(timeout 20 "$TGCALL" call "sip:5551000@127.0.0.1:$SIP_PORT" --local 127.0.0.1 \
	--from 2125550000 --expect 200 --hold 5000 --tone 0 --detect 1000 \
	2>>"$WORK/tgcall.log") || fail "answered call: $out"
t1=$(date +%s%3N)
[ $((t1 - t0)) -ge 1900 ] && [ $((t1 - t0)) -lt 4500 ] ||
	fail "ring 1.2 s + hang-up 0.8 s took $((t1 - t0)) ms"
expect_eq "who hung up" "$(json_field "$out" bye_by)" remote
awk -v r="$(json_field "$out" rx_tone_ratio)" 'BEGIN { exit !(r > 0.8) }' ||
	fail "no tone heard: $out"
rec=$(grep '"called":"5551000"' "$WORK/pstnsim.jsonl" | head -1)
expect_eq "pstnsim cleared it" "$(json_field "$rec" cleared_by)" local

out=$(timeout 20 "$TGCALL" call "sip:5552000@127.0.0.1:$SIP_PORT" --local 127.0.0.1 \
	--from 2125550000 --expect 486 2>>"$WORK/tgcall.log") || fail "busy: $out"
out=$(timeout 20 "$TGCALL" call "sip:5553000@127.0.0.1:$SIP_PORT" --local 127.0.0.1 \
	--from 2125550000 --expect 403 2>>"$WORK/tgcall.log") || fail "rejected: $out"
expect_eq "the rejection's cause" "$(json_field "$out" reason_cause)" 21
log "ok: per-number ring, hang-up, media and causes from a scenario file"

printf '5554 answer ring=soon\n' > "$WORK/bad.scenario"
rc=0
"$PSTNSIM" --dir "$WORK/x" --scenario "$WORK/bad.scenario" > /dev/null 2> "$WORK/bad.err" || rc=$?
expect_eq "exit status on a bad scenario" "$rc" 2
grep -q "bad.scenario:1: want PREFIX ACTION" "$WORK/bad.err" || fail "message: $(cat "$WORK/bad.err")"
rc=0
timeout 5 "$PSTNSIM" --dir "$WORK/y" --scenario "$SRC/contrib/pstnsim/lab.scenario" \
	--duration 1 > "$WORK/lab.jsonl" 2>/dev/null || rc=$?
expect_eq "the sample scenario loads" "$rc" 0
log "ok: scenario files checked"
