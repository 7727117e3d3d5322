#!/usr/bin/env bash
# tests/integration/e911_preempt.sh  911 when every B-channel is busy.
#
# SIPp fills all 23 B-channels of the T1 with ordinary calls; a 911 call
# from the PBX then clears one of them with Q.850 cause 8 (pre-emption)
# and goes out on the freed channel. The victim's CDR says cause 8, the
# PSTN saw it cleared by us with cause 8, its SIP side got a BYE with
# Reason Q.850 cause 8 and RFC 4411 preemption, and the 911 CDR shows the
# wait.
. "$(dirname "$0")/lib.sh"

write_conf
start_pstnsim
start_gw

sipp -sf "$SIPP_DIR/uac.xml" "127.0.0.1:$SIP_PORT" -i 127.0.0.1 \
	-p "$PBX_PORT" -s 2125551234 -m 23 -r 50 -l 23 -d 20000 -nostdin -bg \
	-trace_msg -message_file "$WORK/sipp_msgs.log" \
	> "$WORK/sipp.log" 2>&1 || true
SIPP_PID=$(grep -o 'PID=\[[0-9]*\]' "$WORK/sipp.log" | tr -dc 0-9)
[ -n "$SIPP_PID" ] && PIDS+=("$SIPP_PID")
all_busy() { ctl show spans | grep -Eq '^1 +T1 .* +0 +23 +0 +0 +in-service$'; }
wait_for "23 busy B-channels" 15 all_busy

timeout 20 "$TGCALL" call "sip:911@127.0.0.1:$SIP_PORT" \
	--local "127.0.0.1:$CLI_PORT" --from 2125550000 --expect 200 \
	--hold 500 > "$WORK/911.jsonl" 2>>"$WORK/tgcall.log" ||
	fail "911 with every channel busy: $(cat "$WORK/911.jsonl")"
grep -q "pre-empted for EMERGENCY call" "$WORK/tollgated.log" ||
	fail "nothing pre-empted"
victim_ok() { grep '"event":"call"' "$WORK/pstnsim.jsonl" |
	grep -q '"called":"2125551234".*"cause":8,"cleared_by":"remote"'; }
wait_for "the victim's record at the PSTN" 10 victim_ok
cdr_911() { [ "$(sql "SELECT count(*) FROM cdr WHERE called = '911'")" = 1 ]; }
wait_for "the 911 CDR" 10 cdr_911
expect_eq "911 CDR" "$(sql "SELECT disposition || ' ' || emergency FROM cdr
	WHERE called = '911'")" "ANSWERED 1"
attempts=$(sql "SELECT group_concat(trunk || ':' || outcome, ' ') FROM
	(SELECT a.trunk, a.outcome FROM cdr_attempt a JOIN cdr c ON
	 a.cdr_id = c.id WHERE c.called = '911' ORDER BY a.n)")
echo "$attempts" | grep -Eq '^pstn:preempting (pstn:preempting )*pstn:answered$' ||
	fail "911 attempts: $attempts"
victim_cdr() { [ "$(sql "SELECT count(*) FROM cdr WHERE q850_cause = 8")" = 1 ]; }
wait_for "the victim's CDR with cause 8" 10 victim_cdr
# Its SIP side heard why: the Q.850 cause and RFC 4411's preemption.
bye_reason() { grep -q '^Reason: *Q.850;cause=8' "$WORK/sipp_msgs.log" &&
	grep -q '^Reason: *preemption *;cause=4 *;text="Non-IP Preemption"' "$WORK/sipp_msgs.log"; }
wait_for "the victim's BYE with both Reason headers" 10 bye_reason
log "ok: 911 pre-empted an ordinary call for its B-channel"
