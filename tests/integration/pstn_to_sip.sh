#!/usr/bin/env bash
# tests/integration/pstn_to_sip.sh  (b) pstnsim originates 50 calls to DIDs
# -> tollgated -> SIPp UAS (the PBX): all succeed; CDRs say inbound.
# (d) an unknown DID is released with cause 1 and recorded FAILED.
. "$(dirname "$0")/lib.sh"

write_conf
start_pstnsim
start_gw

sipp -sn uas -i 127.0.0.1 -p "$PBX_PORT" -m 50 -nostdin -bg \
	-trace_stat -stf "$WORK/sipp.csv" > "$WORK/sipp.log" 2>&1 || true
SIPP_PID=$(grep -o 'PID=\[[0-9]*\]' "$WORK/sipp.log" | tr -dc 0-9)
[ -n "$SIPP_PID" ] && PIDS+=("$SIPP_PID")

# A second pstnsim process cannot share the span, so the originating run
# is its own pstnsim: stop the first and start an originating one.
kill -TERM "$PSTN_PID"; wait "$PSTN_PID" 2>/dev/null || true
start_pstnsim --originate 50 --rate 10 --to 5550100 --to-step 100 \
	--from 2125559999 --hold 500 --exit-when-done
wait_for "pstnsim to finish its 50 calls" 60 sh -c "! kill -0 $PSTN_PID"

summary=$(grep '"event":"summary"' "$WORK/pstnsim.jsonl")
expect_eq "pstnsim originated" "$(json_field "$summary" calls_out)" 50
expect_eq "pstnsim answered" "$(json_field "$summary" answered)" 50
wait_cdrs 50
expect_eq "inbound ANSWERED CDRs" "$(sql "
	SELECT count(*) FROM cdr WHERE direction = 'inbound'
	AND disposition = 'ANSWERED' AND calling = '2125559999'
	AND called BETWEEN '5550100' AND '5550149' AND in_trunk = 'pstn'
	AND out_trunk = 'pbx' AND span = 1 AND sip_status = 200
	AND sip_call_id <> ''")" 50

# (d) unknown DID: pstnsim hears cause 1; CDR FAILED with cause 1.
start_pstnsim --originate 1 --rate 1 --to 5559999 --from 2125559999 \
	--exit-when-done
wait_for "pstnsim to finish" 20 sh -c "! kill -0 $PSTN_PID"
call=$(grep '"event":"call"' "$WORK/pstnsim.jsonl" | head -1)
expect_eq "unknown DID cause at pstnsim" "$(json_field "$call" cause)" 1
wait_cdrs 51
expect_eq "unknown DID CDR" "$(sql "SELECT disposition || ',' || q850_cause
	|| ',' || direction FROM cdr WHERE called = '5559999'")" "FAILED,1,inbound"
