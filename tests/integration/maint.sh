#!/usr/bin/env bash
# tests/integration/maint.sh  Maintenance without restarts, and what it
# must never do to an emergency call.
#
#  1. `channel block 1/1`: calls hunt from channel 2; `show channels` says
#     blocked; unblock gives it back.
#  2. `channel reset 1/C` on a live call: the PSTN gets a RESTART for that
#     channel (pstnsim logs it), the call is cleared with cause 41 on both
#     sides (CDR, the caller's BYE), the channel comes back idle.
#  3. `span drain 1`: live calls go on, a new ordinary call gets 503 (cause
#     34), a 911 call still goes out on the drained span; `span resume 1`.
#  4. `trunk drain pstn`: the same for a trunk.
#  5. A 911 call is up: `span restart 1`, `span drain 1` and a reset of its
#     channel are deferred and say why; the 911 call is not touched; the
#     reset runs when the call has ended, the restart and the drain once
#     the hold-off has passed too (RESTART at the PSTN, the ordinary call
#     cleared with cause 41).
#  6. `span restart 1` with no emergency: at once, every call cleared.
#  7. [span 1] e911_reserve = 2: with 21 channels busy an ordinary call is
#     refused, a 911 call takes a reserved channel.
. "$(dirname "$0")/lib.sh"

EXTRA="
[e911]
holdoff = 3
"
write_conf
sed -i "/^\[span 1\]/a e911_reserve = 2" "$WORK/tollgate.conf"
start_pstnsim
start_gw
# The span came up: each idle channel was restarted (Q.931 5.5).
expect_eq "RESTARTs at start" "$(grep -c '"event":"restart"' "$WORK/pstnsim.jsonl")" 23

# call NUMBER HOLD_MS OUT: an ordinary call from the PBX in the background.
call_bg() {
	timeout 60 "$TGCALL" call "sip:$1@127.0.0.1:$SIP_PORT" \
		--local 127.0.0.1 --from 2125550000 --hold "$2" --tone 0 \
		> "$3" 2>>"$WORK/tgcall.log" &
	PIDS+=($!)
}
busy() { ctl --json show spans | grep -o '"in_use":[0-9]*' | tr -dc 0-9; }
chan_of() { # NUMBER: the channel pstnsim-bound call to NUMBER holds
	ctl --json show channels | tr '}' '\n' | grep "\"called\":\"$1\"" |
		grep -o '"chan":[0-9]*' | tr -dc 0-9
}
restarts() { grep -c '"event":"restart"' "$WORK/pstnsim.jsonl"; }
answered() { # N: wait until N calls are answered
	wait_for "$1 answered call(s)" 15 sh -c "[ \$('$TGCTL' -s '$CTL' --json show calls | grep -o '\"answered\":true' | wc -l) -eq $1 ]"
}

# 1. Block an idle channel.
out=$(ctl channel block 1/1) || fail "channel block: $out"
expect_eq "block reply" "$out" "channel 1/1: blocked"
ctl show channels 1 | grep -Eq '^1 +1 +blocked +blocked ' ||
	fail "show channels: $(ctl show channels 1 | head -3)"
call_bg 2125551001 30000 "$WORK/c1.json"
answered 1
expect_eq "the call hunted past the blocked channel" "$(chan_of 2125551001)" 2
ctl --json show spans | grep -q '"blocked":1' || fail "show spans: $(ctl --json show spans)"
out=$(ctl channel unblock 1/1) || fail "channel unblock: $out"
expect_eq "unblock reply" "$out" "channel 1/1: unblocked (idle)"
ctl channel block 1/99 >/dev/null 2>&1 && fail "blocked a channel that does not exist"

# 2. Reset the live call's channel.
c2() { grep -c '"event":"restart","span":1,"chan":2}' "$WORK/pstnsim.jsonl"; }
n2=$(c2)
out=$(ctl channel reset 1/2) || fail "channel reset: $out"
wait_for "the RESTART at the PSTN" 5 sh -c "[ \$(grep -c '\"event\":\"restart\",\"span\":1,\"chan\":2}' '$WORK/pstnsim.jsonl') -gt $n2 ]"
wait_for "the reset call's CDR" 10 sh -c "[ \"\$(sqlite3 '$DB' \"SELECT q850_cause FROM cdr WHERE called = '2125551001'\")\" = 41 ]"
wait_for "tgcall's end" 10 test -s "$WORK/c1.json"
grep -q '"reason_cause":41' "$WORK/c1.json" ||
	fail "the caller did not hear cause 41: $(cat "$WORK/c1.json")"
wait_for "channel 2 idle again" 5 sh -c "'$TGCTL' -s '$CTL' show channels 1 | grep -Eq '^1 +2 +idle .* 41\$'"
log "ok: block, unblock and reset of a channel"

# 3. Drain the span.
call_bg 2125551002 30000 "$WORK/c2.json"
answered 1
out=$(ctl span drain 1) || fail "span drain: $out"
echo "$out" | grep -q "^span 1: draining (1 call(s) up" || fail "drain reply: $out"
ctl show spans | grep -Eq '^1 +T1 .* drained$' || fail "show spans: $(ctl show spans)"
timeout 20 "$TGCALL" call "sip:2125551003@127.0.0.1:$SIP_PORT" --local 127.0.0.1 \
	--from 2125550000 --expect 503 > "$WORK/c3.json" 2>>"$WORK/tgcall.log" ||
	fail "an ordinary call on a drained span: $(cat "$WORK/c3.json")"
timeout 20 "$TGCALL" call "sip:911@127.0.0.1:$SIP_PORT" --local 127.0.0.1 \
	--from 2125550000 --expect 200 --hold 200 > "$WORK/e1.json" \
	2>>"$WORK/tgcall.log" || fail "911 on a drained span: $(cat "$WORK/e1.json")"
expect_eq "the live call went on" "$(busy)" 1
out=$(ctl span resume 1) || fail "span resume: $out"
expect_eq "resume reply" "$out" "span 1: back in service"
timeout 20 "$TGCALL" call "sip:2125551004@127.0.0.1:$SIP_PORT" --local 127.0.0.1 \
	--from 2125550000 --expect 200 --hold 200 > "$WORK/c4.json" \
	2>>"$WORK/tgcall.log" || fail "a call after resume: $(cat "$WORK/c4.json")"
log "ok: span drain and resume"

# 4. Drain the trunk: the 911 call above used it, so the drain waits for
#    the hold-off first.
out=$(ctl trunk drain pstn) || fail "trunk drain: $out"
echo "$out" | grep -q "^drain of trunk pstn deferred: an emergency call on trunk pstn ended" ||
	fail "trunk drain in the hold-off: $out"
wait_for "the deferred trunk drain" 8 grep -q "deferred drain of trunk pstn runs now" "$WORK/tollgated.log"
timeout 20 "$TGCALL" call "sip:2125551005@127.0.0.1:$SIP_PORT" --local 127.0.0.1 \
	--from 2125550000 --expect 503 > "$WORK/c5.json" 2>>"$WORK/tgcall.log" ||
	fail "an ordinary call on a drained trunk: $(cat "$WORK/c5.json")"
drained_attempt() { [ "$(sql "SELECT a.outcome FROM cdr_attempt a JOIN cdr c
	ON a.cdr_id = c.id WHERE c.called = '2125551005'")" = "skipped: drained" ]; }
wait_for "the attempt on the drained trunk in the CDR" 10 drained_attempt
ctl trunk drain nosuch >/dev/null 2>&1 && fail "drained a trunk that does not exist"
ctl trunk resume pstn >/dev/null || fail "trunk resume"
log "ok: trunk drain and resume"

# 5. A 911 call protects its span.
timeout 40 "$TGCALL" call "sip:911@127.0.0.1:$SIP_PORT" --local 127.0.0.1 \
	--from 2125550001 --expect 200 --hold 4000 > "$WORK/e2.json" \
	2>>"$WORK/tgcall.log" &
E911_PID=$!
PIDS+=("$E911_PID")
wait_for "the 911 call" 10 sh -c "'$TGCTL' -s '$CTL' show channels 1 | grep -q EMERGENCY"
r0=$(restarts)
out=$(ctl span restart 1) || fail "deferred restart must not be an error: $out"
echo "$out" | grep -Eq '^restart of span 1 deferred: emergency call [0-9a-f]{8} is up on span 1' ||
	fail "restart reply: $out"
out=$(ctl span drain 1) || fail "deferred drain: $out"
echo "$out" | grep -q '^drain of span 1 deferred: emergency call' || fail "drain reply: $out"
e911chan=$(chan_of 911)
out=$(ctl channel reset "1/$e911chan") || fail "deferred reset: $out"
echo "$out" | grep -q "^reset of channel 1/$e911chan deferred: emergency call" ||
	fail "reset reply: $out"
out=$(ctl span restart 1)
echo "$out" | grep -q "already deferred" || fail "a second restart: $out"
ctl show spans | grep -Eq '^1 +T1 .* in-service$' || fail "the drain took effect: $(ctl show spans)"
expect_eq "RESTARTs during the 911 call" "$(restarts)" "$r0"
wait "$E911_PID" || fail "the 911 call was disturbed: $(cat "$WORK/e2.json")"
grep -q '"answered":true' "$WORK/e2.json" || fail "911: $(cat "$WORK/e2.json")"
# The channel's reset waited only for its own call; the span's restart
# waits for the hold-off after it too.
wait_for "the deferred channel reset" 5 grep -q "deferred reset of channel 1/$e911chan runs now" "$WORK/tollgated.log"
[ "$(restarts)" -eq $((r0 + 1)) ] ||
	fail "the span was restarted within the hold-off: $(restarts) RESTARTs"
wait_for "the deferred restart" 8 grep -q "deferred restart of span 1 runs now" "$WORK/tollgated.log"
wait_for "a RESTART of every channel" 5 sh -c "[ \$(grep -c '\"event\":\"restart\"' '$WORK/pstnsim.jsonl') -ge $((r0 + 1 + 23)) ]"
wait_for "the drain after it" 5 grep -q "deferred drain of span 1 runs now" "$WORK/tollgated.log"
wait_for "the ordinary call cleared by the restart" 10 sh -c "[ \"\$(sqlite3 '$DB' \"SELECT q850_cause FROM cdr WHERE called = '2125551002'\")\" = 41 ]"
ctl span resume 1 >/dev/null || fail "resume"
wait_for "23 idle channels" 10 sh -c "'$TGCTL' -s '$CTL' --json show spans | grep -q '\"idle\":23'"
log "ok: a 911 call holds off restart, drain and reset until after its hold-off"

# 6. Restart with nothing to protect: at once.
call_bg 2125551006 30000 "$WORK/c6.json"
call_bg 2125551007 30000 "$WORK/c7.json"
answered 2
out=$(ctl span restart 1) || fail "restart: $out"
expect_eq "restart reply" "$out" "span 1: restarted: calls cleared, RESTART sent"
wait_for "both calls' CDRs" 10 sh -c "[ \"\$(sqlite3 '$DB' \"SELECT count(*) FROM cdr WHERE called IN ('2125551006', '2125551007') AND q850_cause = 41\")\" = 2 ]"
wait_for "23 idle channels" 10 sh -c "'$TGCTL' -s '$CTL' --json show spans | grep -q '\"idle\":23'"
log "ok: span restart"

# 7. Channels kept for emergency calls.
sipp -sf "$SIPP_DIR/uac.xml" "127.0.0.1:$SIP_PORT" -i 127.0.0.1 \
	-p "$PBX_PORT" -s 2125551234 -m 21 -r 50 -l 21 -d 15000 -nostdin -bg \
	> "$WORK/sipp.log" 2>&1 || true
SIPP_PID=$(grep -o 'PID=\[[0-9]*\]' "$WORK/sipp.log" | tr -dc 0-9)
[ -n "$SIPP_PID" ] && PIDS+=("$SIPP_PID")
wait_for "21 busy channels" 15 sh -c "[ \"\$('$TGCTL' -s '$CTL' --json show spans | grep -o '\"in_use\":[0-9]*' | tr -dc 0-9)\" = 21 ]"
timeout 20 "$TGCALL" call "sip:2125551008@127.0.0.1:$SIP_PORT" --local 127.0.0.1 \
	--from 2125550000 --expect 503 > "$WORK/c8.json" 2>>"$WORK/tgcall.log" ||
	fail "an ordinary call took a reserved channel: $(cat "$WORK/c8.json")"
timeout 20 "$TGCALL" call "sip:911@127.0.0.1:$SIP_PORT" --local 127.0.0.1 \
	--from 2125550000 --expect 200 --hold 200 > "$WORK/e3.json" \
	2>>"$WORK/tgcall.log" || fail "911 with only reserved channels: $(cat "$WORK/e3.json")"
grep -q "pre-empted" "$WORK/tollgated.log" && fail "911 pre-empted although a reserved channel was idle"
log "ok: reserved channels"
