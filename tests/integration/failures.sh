#!/usr/bin/env bash
# tests/integration/failures.sh  (c) busy -> 486 with Reason cause 17 (SIPp
# checks the header); unallocated -> 404; congestion -> 503.  (e) CANCEL
# before answer -> DISCONNECT at pstnsim, 487 to the caller, NO ANSWER;
# SIPp's CANCEL sent the moment the 100 Trying comes: 200, then 487.
. "$(dirname "$0")/lib.sh"

write_conf
start_pstnsim --rule 5551700=busy --rule 5551701=unallocated \
	--rule 5551702=congestion --rule 5551703=noanswer
start_gw

timeout 30 sipp -sf "$SIPP_DIR/uac_busy.xml" "127.0.0.1:$SIP_PORT" \
	-i 127.0.0.1 -p "$PBX_PORT" -s 5551700 -m 1 -nostdin \
	> "$WORK/sipp.log" 2>&1 || fail "SIPp did not get 486 with Reason cause 17"
log "ok: SIPp got 486 with Reason: Q.850;cause=17"

# tgcall reports the final status and the Reason cause it carried.
check_call() { # NUMBER STATUS CAUSE
	local out
	out=$(timeout 20 "$TGCALL" call "sip:$1@127.0.0.1:$SIP_PORT" \
		--local "127.0.0.1:$PBX_PORT" --expect "$2" 2>>"$WORK/tgcall.log") ||
		fail "call to $1: $out"
	expect_eq "$1 status" "$(json_field "$out" status)" "$2"
	expect_eq "$1 Reason cause" "$(json_field "$out" reason_cause)" "$3"
}
check_call 5551701 404 1
check_call 5551702 503 34

# (e) CANCEL while pstnsim rings.
out=$(timeout 20 "$TGCALL" call "sip:5551703@127.0.0.1:$SIP_PORT" \
	--local "127.0.0.1:$PBX_PORT" --cancel-after 800 --expect 487 \
	2>>"$WORK/tgcall.log") || fail "cancelled call: $out"
expect_eq "cancelled call status" "$(json_field "$out" status)" 487
wait_for "pstnsim record of the cancelled call" 5 grep -q '"called":"5551703"' "$WORK/pstnsim.jsonl"
rec=$(grep '"called":"5551703"' "$WORK/pstnsim.jsonl")
expect_eq "pstnsim: cancelled call answered" "$(json_field "$rec" answered)" false
expect_eq "pstnsim: cleared by the gateway" "$(json_field "$rec" cleared_by)" remote

wait_cdrs 4
expect_eq "CDRs" "$(sql "SELECT group_concat(called || ':' || disposition
	|| ':' || q850_cause || ':' || sip_status, ' ') FROM
	(SELECT * FROM cdr ORDER BY start_ms)")" \
	"5551700:BUSY:17:486 5551701:FAILED:1:404 5551702:CONGESTION:34:503 5551703:NO ANSWER:16:487"

# The race the other way: SIPp cancels while the SETUP is just out.
timeout 30 sipp -sf "$SIPP_DIR/uac_cancel.xml" "127.0.0.1:$SIP_PORT" \
	-i 127.0.0.1 -p "$PBX_PORT" -s 5551703 -m 1 -nostdin \
	> "$WORK/sipp_cancel.log" 2>&1 ||
	fail "SIPp's early CANCEL: $(tail -5 "$WORK/sipp_cancel.log")"
wait_cdrs 5
expect_eq "the early-cancelled call's CDR" "$(sql "SELECT disposition || ':'
	|| sip_status FROM cdr ORDER BY start_ms DESC LIMIT 1")" "NO ANSWER:487"
log "ok: CANCEL at the 100 Trying: 200, 487, ACK"

# And the CANCEL that crosses the 200: it changes nothing.  The call
# stays up until the PBX's BYE a second later, and the CDR says so.
timeout 30 sipp -sf "$SIPP_DIR/uac_cancel_late.xml" "127.0.0.1:$SIP_PORT" \
	-i 127.0.0.1 -p "$PBX_PORT" -s 2125551234 -m 1 -nostdin \
	-trace_logs -log_file "$WORK/sipp_cancel_late.actions" \
	> "$WORK/sipp_cancel_late.log" 2>&1 ||
	fail "SIPp's late CANCEL: $(tail -5 "$WORK/sipp_cancel_late.log")"
wait_cdrs 6
expect_eq "the late-cancelled call's CDR" "$(sql "SELECT disposition || ':'
	|| q850_cause || ':' || (end_ms - answer_ms >= 900) FROM cdr
	ORDER BY start_ms DESC LIMIT 1")" "ANSWERED:16:1"
log "ok: CANCEL after the 200: $(grep -h -o 'late CANCEL got 200.*' \
	"$WORK/sipp_cancel_late.actions" 2>/dev/null || echo 481), call kept, BYE ends it"
