#!/usr/bin/env bash
# tests/integration/line_loss.sh  The line (pstnsim) goes away during a
# call: the SIP side gets a BYE with cause 38, the CDR is written, the span
# shows down; when the line returns the span comes back by itself and the
# next call connects.
. "$(dirname "$0")/lib.sh"

write_conf
start_pstnsim
start_gw

timeout 30 "$TGCALL" call "sip:2125551234@127.0.0.1:$SIP_PORT" --local 127.0.0.1 \
	--hold 20000 --tone 0 > "$WORK/call.json" 2>>"$WORK/tgcall.log" &
CALL=$!
PIDS+=("$CALL")
wait_for "the call to be answered" 10 sh -c "'$TGCTL' -s '$CTL' --json show calls | grep -q '\"answered\":true'"

kill -KILL "$PSTN_PID"
wait_for "the span to go down" 5 sh -c "'$TGCTL' -s '$CTL' --json show spans | grep -q '\"dchan\":\"down\"'"
wait "$CALL" || true
out=$(cat "$WORK/call.json")
expect_eq "call ended by" "$(json_field "$out" bye_by)" remote
expect_eq "BYE Reason cause" "$(json_field "$out" reason_cause)" 38
wait_cdrs 1
expect_eq "CDR" "$(sql "SELECT disposition || ',' || q850_cause FROM cdr")" "ANSWERED,38"
expect_eq "channels out of service" \
	"$(ctl --json show spans | grep -o '"out_of_service":[0-9]*' | tr -dc 0-9)" 23

start_pstnsim
wait_for "the span to come back" 10 sh -c "'$TGCTL' -s '$CTL' --json show spans | grep -q '\"dchan\":\"up\"'"
out=$(timeout 20 "$TGCALL" call "sip:2125551234@127.0.0.1:$SIP_PORT" \
	--local 127.0.0.1 --hold 500 2>>"$WORK/tgcall.log") ||
	fail "call after the line returned: $out"
log "ok: the span recovered and carries calls again"
