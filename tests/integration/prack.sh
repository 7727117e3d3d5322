#!/usr/bin/env bash
# tests/integration/prack.sh  Reliable provisional responses (RFC 3262)
# both ways.  A caller that supports 100rel gets the 183 that carries the
# PRI's early media reliably (Require: 100rel, RSeq), resent until its
# PRACK and not after; a PRACK for another RSeq gets 481; the call then
# connects with audio both ways.  Toward a SIP callee our INVITE says
# Supported: 100rel, a reliable 183 is PRACKed with the right RAck, its
# retransmission is not PRACKed again, the next RSeq is.  A second 200
# from another fork of our INVITE is ACKed and its dialog ended with a
# BYE while the call goes on.  SIPp, as a PBX, PRACKs a reliable 183 and
# holds, resumes and refreshes the call with UPDATE.  tshark decodes it
# all.
. "$(dirname "$0")/lib.sh"

write_conf
start_pstnsim --rule 2125551234=progress --answer-after 4500
start_gw

UA=$SRC/tests/integration/dialog_ua.py
RTP_A=$(free_udp_port)
sip_capture_start

timeout 40 python3 "$UA" --gw "127.0.0.1:$SIP_PORT" \
	--local "127.0.0.1:$PBX_PORT" --rtp "$RTP_A" --script prack-in \
	> "$WORK/ua-in.log" 2>&1 || { cat "$WORK/ua-in.log" >&2;
	fail "100rel toward the caller"; }
log "caller side: $(grep -c '^ok:' "$WORK/ua-in.log") checks passed"
wait_cdrs 1
expect_eq "CDR of the call" "$(sql "SELECT disposition || ' ' || q850_cause
	FROM cdr ORDER BY rowid DESC LIMIT 1")" "ANSWERED 16"

kill -TERM "$PSTN_PID"; wait "$PSTN_PID" 2>/dev/null || true
timeout 40 python3 "$UA" --gw "127.0.0.1:$SIP_PORT" \
	--local "127.0.0.1:$PBX_PORT" --rtp "$RTP_A" --script prack-out \
	> "$WORK/ua-out.log" 2>&1 &
UA_PID=$!
PIDS+=("$UA_PID")
# (On a busy machine the UA binds its port a while after it starts.)
wait_for "the UA's socket" 10 sh -c "ss -Hlun 'sport = :$PBX_PORT' | grep -q ."
start_pstnsim --originate 1 --rate 1 --to 5550100 --from 2125559999 \
	--hold 20000
wait "$UA_PID" || { cat "$WORK/ua-out.log" >&2; fail "100rel from the callee"; }
log "callee side: $(grep -c '^ok:' "$WORK/ua-out.log") checks passed"
wait_cdrs 2
expect_eq "CDR of the PSTN call" "$(sql "SELECT direction || ' ' ||
	disposition FROM cdr ORDER BY rowid DESC LIMIT 1")" "inbound ANSWERED"

# A forked INVITE: two 200s with different tags (RFC 3261 13.2.2.4).
kill -TERM "$PSTN_PID"; wait "$PSTN_PID" 2>/dev/null || true
timeout 40 python3 "$UA" --gw "127.0.0.1:$SIP_PORT" \
	--local "127.0.0.1:$PBX_PORT" --rtp "$RTP_A,$(free_udp_port)" \
	--script fork > "$WORK/ua-fork.log" 2>&1 &
UA_PID=$!
PIDS+=("$UA_PID")
# (On a busy machine the UA binds its port a while after it starts.)
wait_for "the UA's socket" 10 sh -c "ss -Hlun 'sport = :$PBX_PORT' | grep -q ."
start_pstnsim --originate 1 --rate 1 --to 5550100 --from 2125559999 \
	--hold 20000
wait "$UA_PID" || { cat "$WORK/ua-fork.log" >&2; fail "forked 200s"; }
log "forked 200s: $(grep -c '^ok:' "$WORK/ua-fork.log") checks passed"
wait_cdrs 3

# The same against SIPp as the PBX: a reliable 183 PRACKed, our
# Session-Expires in the 200, hold and resume by UPDATE (RFC 3311), the
# second one refreshing the session (RFC 4028).
kill -TERM "$PSTN_PID" 2>/dev/null || true; wait "$PSTN_PID" 2>/dev/null || true
start_pstnsim --rule 2125551234=progress --answer-after 1500
wait_for "the span" 20 span_up
timeout 40 sipp -sf "$SIPP_DIR/uac_prack_update.xml" "127.0.0.1:$SIP_PORT" \
	-s 2125551234 -i 127.0.0.1 -p "$PBX_PORT" -m 1 -nostdin \
	-timeout 30 -timeout_error -trace_err -error_file "$WORK/sipp-err.log" \
	> "$WORK/sipp.log" 2>&1 ||
	fail "SIPp PRACK/UPDATE scenario: $(tail -20 "$WORK/sipp-err.log" 2>/dev/null)"
log "ok: SIPp: reliable 183 PRACKed, session timer, UPDATE hold and resume"

if [ -n "$CAP" ]; then
	sip_capture_stop
	n=$(sip_count "sip.Status-Code == 183 && sip.RSeq && sip.Require contains \"100rel\"")
	[ "$n" -ge 2 ] || fail "no reliable 183 decoded"
	n=$(sip_count "sip.Method == PRACK && udp.srcport == $SIP_PORT && sip.RAck")
	[ "$n" -ge 2 ] || fail "our PRACKs do not decode with RAck"
	log "ok: tshark decodes our reliable 183s and PRACKs"
fi
