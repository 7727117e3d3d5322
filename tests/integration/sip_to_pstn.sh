#!/usr/bin/env bash
# tests/integration/sip_to_pstn.sh  (a) SIPp -> tollgated -> pstnsim:
# 100 calls at 20/s all succeed, and 100 ANSWERED CDRs carry the numbers,
# trunks and B-channels.  (i) tollgatectl shows the span up and idle.
. "$(dirname "$0")/lib.sh"

write_conf
start_pstnsim --answer-after 50
start_gw

# (i) span 1 is up with 23 idle channels.
spans=$(ctl show spans)
echo "$spans" | grep -Eq '^1 +T1 +ni2 +cpe +up +up +23 +0 +0 +0 +in-service$' ||
	fail "show spans: $spans"
log "ok: show spans reports span 1 up, 23 idle"

timeout 60 sipp -sf "$SIPP_DIR/uac.xml" "127.0.0.1:$SIP_PORT" \
	-i 127.0.0.1 -p "$PBX_PORT" -s 2125551234 -m 100 -r 20 -l 40 -d 300 \
	-nostdin -trace_stat -stf "$WORK/sipp.csv" \
	> "$WORK/sipp.log" 2>&1 || fail "sipp reported failed calls"
log "ok: sipp placed 100 calls, none failed"

wait_cdrs 100
expect_eq "answered outbound CDRs with the right fields" "$(sql "
	SELECT count(*) FROM cdr WHERE disposition = 'ANSWERED'
	AND direction = 'outbound' AND calling = '2125550000'
	AND called = '2125551234' AND in_trunk = 'pbx' AND out_trunk = 'pstn'
	AND span = 1 AND chan BETWEEN 1 AND 23 AND sip_call_id <> ''
	AND q850_cause = 16 AND sip_status = 200 AND codec = 'PCMU'
	AND answer_ms >= start_ms AND end_ms >= answer_ms")" 100
expect_eq "distinct Call-IDs" "$(sql 'SELECT count(DISTINCT sip_call_id) FROM cdr')" 100

# pstnsim saw the same 100 calls, answered, cleared by the gateway.
wait_for "pstnsim call records" 5 pstnsim_calls_ge 100
expect_eq "pstnsim answered calls from the gateway" \
	"$(grep '"event":"call"' "$WORK/pstnsim.jsonl" | grep '"dir":"in"' |
		grep '"answered":true' | grep '"called":"2125551234"' |
		grep -c '"cleared_by":"remote"')" 100

# All channels are idle again.
wait_for "channels idle" 5 sh -c "'$TGCTL' -s '$CTL' --json show spans | grep -q '\"idle\":23'"
log "ok: all channels idle after the run"
