#!/usr/bin/env bash
# tests/integration/dialog.sh  Re-INVITE and UPDATE on an answered call
# (RFC 3261 14, RFC 3264 8, RFC 3311), both call directions: a new port
# moves where tollgated sends RTP (nothing goes to the old one), hold
# (sendonly -> recvonly, inactive, c=0.0.0.0) stops its RTP and resume
# brings it back, PCMU -> PCMA changes the payload, an offer-less
# re-INVITE gets our offer and its answer in the ACK; each answer keeps
# the o= session id with the version one up.  Audio goes round through
# pstnsim's loop (loud RTP comes back), so it flows both ways after each
# change.  SIPp holds and resumes too.  On a SIP -> SIP call tollgated
# answers the caller's re-INVITEs itself and the relay follows.  What tollgated sent decodes in tshark without errors.
. "$(dirname "$0")/lib.sh"

EXTRA="
[trunk carrier]
type = sip
peer = 127.0.0.1:$CLI_PORT
"
write_conf
start_pstnsim
start_gw

UA=$SRC/tests/integration/dialog_ua.py
RTP_A=$(free_udp_port)
RTP_B=$(free_udp_port)
sip_capture_start

# 1. SIP -> PSTN: the caller changes the session again and again.
timeout 60 python3 "$UA" --gw "127.0.0.1:$SIP_PORT" \
	--local "127.0.0.1:$PBX_PORT" --rtp "$RTP_A,$RTP_B" --script media \
	> "$WORK/ua-media.log" 2>&1 || { cat "$WORK/ua-media.log" >&2;
	fail "re-INVITE/UPDATE checks (caller side)"; }
log "caller side: $(grep -c '^ok:' "$WORK/ua-media.log") checks passed"
log "$(grep '^measured:' "$WORK/ua-media.log")"
wait_cdrs 1
expect_eq "CDR of the changed call" "$(sql "SELECT disposition || ' ' ||
	q850_cause FROM cdr ORDER BY rowid DESC LIMIT 1")" "ANSWERED 16"
wait_for "pstnsim's record of the call" 5 pstnsim_calls_ge 1
rec=$(grep '"event":"call"' "$WORK/pstnsim.jsonl" | tail -1)
expect_eq "cause the PSTN got" "$(json_field "$rec" cause)" 16

# SIPp's view of a hold and resume: recvonly, then sendrecv, each answer
# with our session id and a higher version (the scenario checks them).
timeout 30 sipp -sf "$SIPP_DIR/uac_reinvite.xml" "127.0.0.1:$SIP_PORT" \
	-i 127.0.0.1 -p "$PBX_PORT" -s 2125551234 -m 1 -nostdin -timeout 20 \
	-timeout_error -trace_err -error_file "$WORK/sipp-err.log" \
	> "$WORK/sipp.log" 2>&1 || fail "SIPp hold/resume scenario failed"
log "ok: SIPp hold/resume scenario passed"
wait_cdrs 2

# 2. PSTN -> SIP: the callee holds (inactive) and resumes on a new port.
kill -TERM "$PSTN_PID"; wait "$PSTN_PID" 2>/dev/null || true
timeout 60 python3 "$UA" --gw "127.0.0.1:$SIP_PORT" \
	--local "127.0.0.1:$PBX_PORT" --rtp "$RTP_A,$RTP_B" \
	--script uas-hold > "$WORK/ua-uas.log" 2>&1 &
UA_PID=$!
PIDS+=("$UA_PID")
start_pstnsim --originate 1 --rate 1 --to 5550100 --from 2125559999 \
	--hold 20000
wait "$UA_PID" || { cat "$WORK/ua-uas.log" >&2;
	fail "re-INVITE checks (callee side)"; }
log "callee side: $(grep -c '^ok:' "$WORK/ua-uas.log") checks passed"
wait_cdrs 3
expect_eq "CDR of the held PSTN call" "$(sql "SELECT direction || ' ' ||
	disposition || ' ' || q850_cause FROM cdr ORDER BY rowid DESC
	LIMIT 1")" "inbound ANSWERED 16"

# 3. SIP -> SIP: tollgated answers the caller's re-INVITEs itself and the
# relay follows (tgcall, the callee, sends a tone and hears nothing new).
"$TGCALL" answer --local "127.0.0.1:$CLI_PORT" --count 1 --timeout 60 \
	> "$WORK/callee.jsonl" 2> "$WORK/callee.log" &
CALLEE=$!
PIDS+=("$CALLEE")
"$TGCTL" -s "$CTL" --db "$DB" route add r-sip priority=10 kind=prefix \
	match=2125557 trunks=carrier >/dev/null || fail "route add r-sip"
wait_for "the route in the snapshot" 10 sh -c \
	"'$TGCTL' -s '$CTL' route explain 2125557000 | grep -q r-sip"
timeout 60 python3 "$UA" --gw "127.0.0.1:$SIP_PORT" \
	--local "127.0.0.1:$PBX_PORT" --rtp "$RTP_A,$RTP_B" --script relay \
	--number 2125557000 > "$WORK/ua-relay.log" 2>&1 || {
	cat "$WORK/ua-relay.log" >&2; fail "re-INVITE on a SIP -> SIP call"; }
log "SIP -> SIP: $(grep -c '^ok:' "$WORK/ua-relay.log") checks passed"
wait "$CALLEE" || fail "the SIP callee's call did not end well"
rx=$(json_field "$(cat "$WORK/callee.jsonl")" rtp_rx)
[ "${rx:-0}" -ge 100 ] || fail "the SIP callee got $rx RTP packets from the caller"
log "ok: the SIP callee got $rx RTP packets from the caller"
wait_cdrs 4
expect_eq "CDR of the relayed call" "$(sql "SELECT out_trunk || ' ' ||
	disposition FROM cdr ORDER BY rowid DESC LIMIT 1")" "carrier ANSWERED"

if [ -n "$CAP" ]; then
	sip_capture_stop
	n=$(sip_count "sip.Status-Code == 200 && sip.CSeq.method == INVITE && sdp.media_attr == \"recvonly\"")
	[ "$n" -ge 1 ] || fail "no 200 (recvonly) to a re-INVITE decoded"
	n=$(sip_count "sip.Status-Code == 200 && sip.CSeq.method == UPDATE && sdp")
	[ "$n" -ge 1 ] || fail "no 200 with SDP to an UPDATE decoded"
	log "ok: tshark decodes our answers to re-INVITE and UPDATE"
fi
