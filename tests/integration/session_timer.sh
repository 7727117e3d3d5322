#!/usr/bin/env bash
# tests/integration/session_timer.sh  RFC 4028 session timers, with a short
# interval ([sip] session_expires = min_se = 6):
# - a caller that asks us to refresh and allows UPDATE gets an UPDATE
#   without a body at half the interval, again and again, with its
#   Record-Route as the Route set (copied into our 200 too);
# - without UPDATE the refresh is a re-INVITE with the SDP unchanged;
#   crossed by the caller's own re-INVITE it answers 491, and after the
#   caller's 491 it sends its re-INVITE again within 0-2 s (RFC 3261 14.1);
# - a caller that is to refresh and never does is sent BYE with Reason
#   Q.850 cause 102 before the interval is over; the PRI side is released
#   with 102 and the CDR says 102;
# - a Session-Expires under our Min-SE gets 422 with Min-SE;
# - tshark decodes what we sent without errors;
# - toward a SIP callee our INVITE asks for the timer (Supported: timer,
#   Session-Expires, Min-SE), asks again for more after a 422, and
#   refreshes with a re-INVITE when the callee's 200 leaves it to us; the
#   ACK and the refresh carry the 200's Record-Route reversed.
. "$(dirname "$0")/lib.sh"

write_conf
sed -i "/^\[general\]/a debug = call,sip-msg" "$WORK/tollgate.conf"
sed -i '/^\[sip\]/a session_expires = 6\nmin_se = 6' "$WORK/tollgate.conf"
start_pstnsim
start_gw

UA=$SRC/tests/integration/dialog_ua.py
RTP_A=$(free_udp_port)
sip_capture_start
ua() {
	local script=$1
	shift
	timeout 40 python3 "$UA" --gw "127.0.0.1:$SIP_PORT" \
		--local "127.0.0.1:$PBX_PORT" --rtp "$RTP_A" --script "$script" \
		"$@" > "$WORK/ua-$script.log" 2>&1 || {
		cat "$WORK/ua-$script.log" >&2; fail "script $script"; }
	log "$script: $(grep -c '^ok:' "$WORK/ua-$script.log") checks passed"
}

ua refresh-update
ua refresh-glare
wait_cdrs 2
expect_eq "CDRs of the refreshed calls" "$(sql "SELECT group_concat(
	disposition || ' ' || q850_cause, ',') FROM cdr")" "ANSWERED 16,ANSWERED 16"

ua expire
wait_cdrs 3
expect_eq "CDR of the unrefreshed call" "$(sql "SELECT disposition || ' ' ||
	q850_cause FROM cdr ORDER BY rowid DESC LIMIT 1")" "ANSWERED 102"
wait_for "pstnsim's record of the call" 5 pstnsim_calls_ge 3
rec=$(grep '"event":"call"' "$WORK/pstnsim.jsonl" | tail -1)
expect_eq "cause the PSTN got" "$(json_field "$rec" cause)" 102

ua 422 --se 3
wait_cdrs 4
expect_eq "CDR of the 422" "$(sql "SELECT disposition || ' ' || sip_status
	FROM cdr ORDER BY rowid DESC LIMIT 1")" "FAILED 422"
expect_eq "no PSTN call for the 422" \
	"$(grep -c '"event":"call"' "$WORK/pstnsim.jsonl")" 3

# Toward a SIP callee: the INVITE asks for the timer, a 422 makes it ask
# for more, and we refresh when the callee leaves it to us.
kill -TERM "$PSTN_PID"; wait "$PSTN_PID" 2>/dev/null || true
timeout 40 python3 "$UA" --gw "127.0.0.1:$SIP_PORT" \
	--local "127.0.0.1:$PBX_PORT" --rtp "$RTP_A" --script uas-timer \
	> "$WORK/ua-uas-timer.log" 2>&1 &
UA_PID=$!
PIDS+=("$UA_PID")
start_pstnsim --originate 1 --rate 1 --to 5550100 --from 2125559999 \
	--hold 30000
wait "$UA_PID" || { cat "$WORK/ua-uas-timer.log" >&2; fail "callee timer"; }
log "uas-timer: $(grep -c '^ok:' "$WORK/ua-uas-timer.log") checks passed"

# Glare with SIPp as the PBX: its re-INVITE crosses our refresh; ours gets
# its 491, its gets ours, and our retry 2.1-4 s later is taken.  (A 20 s
# session: with 6 s the retry would come after the session had expired.)
kill -TERM "$PSTN_PID" 2>/dev/null || true; wait "$PSTN_PID" 2>/dev/null || true
sed -i '/^\[trunk pbx\]/a session_expires = 20\nmin_se = 20' "$WORK/tollgate.conf"
ctl reload >/dev/null || fail "reload for the glare call"
( timeout 50 sipp -sf "$SIPP_DIR/uas_glare.xml" -i 127.0.0.1 -p "$PBX_PORT" \
	-m 1 -nostdin -trace_err -error_file "$WORK/sipp_glare_err.log" \
	> "$WORK/sipp_glare.out" 2>&1; echo $? > "$WORK/sipp_glare.rc" ) &
PIDS+=($!)
wait_for "SIPp's socket" 10 sh -c "ss -Hlun 'sport = :$PBX_PORT' | grep -q ."
start_pstnsim --originate 1 --rate 1 --to 5550100 --from 2125559999 \
	--hold 30000
wait_for "SIPp's glare scenario" 40 test -s "$WORK/sipp_glare.rc"
expect_eq "SIPp glare scenario exit status" "$(cat "$WORK/sipp_glare.rc")" 0
log "ok: SIPp glare: 491 both ways, our retry taken"

if [ -n "$CAP" ]; then
	sip_capture_stop
	n=$(sip_count "sip.Method == UPDATE && udp.srcport == $SIP_PORT && sip.Session-Expires")
	[ "$n" -ge 2 ] || fail "our UPDATE refreshes do not decode with Session-Expires"
	n=$(sip_count "sip.Method == BYE && sip.Reason contains \"cause=102\"")
	[ "$n" -ge 1 ] || fail "no BYE with cause 102 decoded"
	n=$(sip_count "sip.Status-Code == 422 && sip.Min-SE")
	[ "$n" -ge 1 ] || fail "no 422 with Min-SE decoded"
	log "ok: tshark decodes our refreshes, the cause 102 BYE and the 422"
fi
