#!/usr/bin/env bash
# tests/integration/overlap_send.sh  Overlap sending (Q.931 5.1.3) toward
# an E1 EuroISDN span with overlap_send, and RFC 3578 overlap from a SIP
# trunk; pstnsim receives in overlap (--overlap-receive 10: SETUP
# ACKNOWLEDGE, then INFORMATION digits until it has 10).
#
#  (i)   An en-bloc INVITE for 2125551234 with overlap_send_digits = 4: the
#        SETUP carries 2125 without Sending Complete, the other 6 digits
#        come in 6 INFORMATION messages; the call connects.  A 7-digit
#        number is too short for the network: it clears at its T302 with
#        cause 28, and the SIP caller gets 484.  With overlap_send_digits
#        = 0 the SETUP has all 10 and Sending Complete.
#  (ii)  RFC 3578: INVITE 212555 -> SETUP 212555 (no Sending Complete),
#        SETUP ACKNOWLEDGE -> 484; INVITE 2125551234 (same Call-ID and From
#        tag, CSeq 2) -> 4 INFORMATION; 180/200, ACK, BYE.  One ANSWERED CDR
#        with 2125551234.  SIP and Q.931 decode cleanly in tshark.
#  (iii) A caller who never sends the next INVITE: after overlap_timeout
#        the PRI call is cleared with cause 28 and one CDR says so (484).
#  (iv)  A follow-up INVITE that does not continue the number clears the
#        waiting PRI call (cause 28) and is a call of its own.
#  (v)   PRI -> SIP: pstnsim sends 555 in the SETUP and 0100 in INFORMATION;
#        555 routes to the RFC 3578 PBX, so INVITE 555 goes at once; the
#        PBX answers 484 to numbers under 7 digits, and every new digit
#        makes a new INVITE (same Call-ID and From tag, CSeq + 1) until
#        5550100 rings and is answered.  One ANSWERED CDR with 5550100.
#  (iv-b) Three INVITEs: the middle one is not enough for the network,
#        which does not proceed on it; after overlap_wait it gets 484.
SPAN_TYPE=e1 SWITCH=euroisdn_e1
export SPAN_TYPE SWITCH
. "$(dirname "$0")/lib.sh"

write_conf
sed -i "/^\[span 1\]/a overlap = yes\noverlap_send = yes\noverlap_send_digits = 4\npcap = $WORK/dchan.pcap" \
	"$WORK/tollgate.conf"
start_pstnsim --overlap-receive 10 --t302 2500 --answer-after 100
start_gw

# uac SCENARIO ARGS...: one SIPp call from the PBX.
uac() {
	local sf=$1
	shift
	timeout 30 sipp -sf "$SIPP_DIR/$sf" "127.0.0.1:$SIP_PORT" -i 127.0.0.1 \
		-p "$PBX_PORT" -m 1 -d 300 -nostdin "$@" \
		>> "$WORK/sipp.log" 2>&1
}
# last_rec: pstnsim's newest call record.
last_rec() { grep '"event":"call"' "$WORK/pstnsim.jsonl" | tail -1; }
expect_rec() { expect_eq "$1" "$(json_field "$REC" "$2")" "$3"; }

# (i) en-bloc, split at 4 digits.
uac uac.xml -s 2125551234 || fail "en-bloc call over overlap sending failed"
wait_for "pstnsim's record" 10 pstnsim_calls_ge 1
REC=$(last_rec)
expect_rec "(i) number pstnsim completed" called 2125551234
expect_rec "(i) digits in the SETUP" setup_digits 4
expect_rec "(i) Sending Complete in the SETUP" setup_complete false
expect_rec "(i) SETUP ACKNOWLEDGE sent" overlap true
expect_rec "(i) INFORMATION messages with digits" info_msgs 6
expect_rec "(i) answered" answered true
wait_cdrs 1
expect_eq "(i) CDR" "$(sql "SELECT disposition, called FROM cdr")" \
	"ANSWERED|2125551234"

# (i) a number too short for the network: 555 in the SETUP, 1234 in
# INFORMATION, and pstnsim clears with cause 28 at its T302 (2.5 s); the
# SIP caller hears 484 (RFC 3398).
"$TGCALL" call "sip:5551234@127.0.0.1:$SIP_PORT" --local "127.0.0.1:$PBX_PORT" \
	--expect 484 >/dev/null 2>>"$WORK/tgcall.log" ||
	fail "too short a number: no 484"
wait_for "pstnsim's record" 10 pstnsim_calls_ge 2
REC=$(last_rec)
expect_rec "(i) too short: cause" cause 28
expect_rec "(i) too short: cleared by" cleared_by local
expect_rec "(i) too short: INFORMATION messages" info_msgs 3

sed -i 's/^overlap_send_digits = 4$/overlap_send_digits = 0/' "$WORK/tollgate.conf"
ctl reload >/dev/null || fail "reload"
uac uac.xml -s 2125551234 || fail "en-bloc call, whole number in the SETUP"
wait_for "pstnsim's record" 10 pstnsim_calls_ge 3
REC=$(last_rec)
expect_rec "(i) whole number: digits in the SETUP" setup_digits 10
expect_rec "(i) whole number: Sending Complete" setup_complete true
expect_rec "(i) whole number: no SETUP ACKNOWLEDGE" overlap false

# (ii) RFC 3578 from the PBX.
sed -i '/^\[trunk pbx\]/a overlap = rfc3578\noverlap_timeout = 1500\noverlap_wait = 800' \
	"$WORK/tollgate.conf"
ctl reload >/dev/null || fail "reload"
tshark -q -i lo -f "udp port $SIP_PORT" -w "$WORK/sip.pcapng" \
	> "$WORK/tshark.log" 2>&1 &
TSHARK=$!
PIDS+=("$TSHARK")
wait_for "tshark to capture" 10 grep -q "Capturing on" "$WORK/tshark.log"
sleep 1
uac uac_overlap.xml -key first 212555 -s 2125551234 ||
	fail "RFC 3578 call: 484, then the longer INVITE, did not complete"
wait_for "pstnsim's record" 10 pstnsim_calls_ge 4
REC=$(last_rec)
expect_rec "(ii) number pstnsim completed" called 2125551234
expect_rec "(ii) digits in the SETUP" setup_digits 6
expect_rec "(ii) Sending Complete in the SETUP" setup_complete false
expect_rec "(ii) INFORMATION messages with digits" info_msgs 4
expect_rec "(ii) answered" answered true
wait_cdrs 4
CID=$(sql "SELECT sip_call_id FROM cdr ORDER BY start_ms DESC LIMIT 1")
expect_eq "(ii) CDR rows of the call" \
	"$(sql "SELECT count(*), disposition, called, sip_status FROM cdr WHERE sip_call_id = '$CID'")" \
	"1|ANSWERED|2125551234|200"
sleep 0.5
kill -INT "$TSHARK"
wait "$TSHARK" || true
decode() { tshark -r "$WORK/sip.pcapng" -d "udp.port==$SIP_PORT,sip" "$@" 2>/dev/null; }
expect_eq "(ii) malformed or erroneous SIP" \
	"$(decode -Y "_ws.malformed || _ws.expert.severity == error" | wc -l)" 0
expect_eq "(ii) 484 decoded (with Reason cause 28)" \
	"$(decode -Y 'sip.Status-Code == 484 && sip.Reason contains "cause=28"' | wc -l)" 1
invites=$(decode -Y 'sip.Method == "INVITE"' -T fields -e sip.Call-ID \
	-e sip.from.tag -e sip.CSeq.seq -e sip.r-uri.user | sort -u)
expect_eq "(ii) INVITEs: CSeq and number" \
	"$(echo "$invites" | awk '{print $3":"$4}' | tr '\n' ' ')" \
	"1:212555 2:2125551234 "
expect_eq "(ii) INVITEs: one Call-ID and From tag" \
	"$(echo "$invites" | awk '{print $1" "$2}' | sort -u | wc -l)" 1
# The D-channel: SETUP without Sending Complete, SETUP ACKNOWLEDGE, and the
# INFORMATION digits, as Wireshark reads them.
q931() { tshark -r "$WORK/dchan.pcap" "$@" 2>/dev/null; }
expect_eq "(ii) Q.931 malformed" \
	"$(q931 -Y "_ws.malformed || _ws.expert.severity == error" | wc -l)" 0
expect_eq "(ii) Q.931 INFORMATION digits (6 and 3 of (i), 4 of (ii))" \
	"$(q931 -Y 'q931.message_type == 0x7b' -T fields \
		-e q931.called_party_number.digits | tr -d '\n')" "5512342341234"

# (iii) the caller never completes the number.
uac uac_484.xml -key first 212555 || fail "no 484 for the incomplete number"
wait_for "pstnsim's record" 10 pstnsim_calls_ge 5
REC=$(last_rec)
expect_rec "(iii) PRI call cleared by the gateway, cause" cause 28
expect_rec "(iii) cleared by" cleared_by remote
expect_rec "(iii) number" called 212555
wait_cdrs 5
expect_eq "(iii) CDR" "$(sql "SELECT disposition, q850_cause, sip_status, called
	FROM cdr ORDER BY start_ms DESC LIMIT 1")" "FAILED|28|484|212555"
grep -q 'no INVITE with more digits after the 484' "$WORK/tollgated.log" ||
	fail "no log line for the caller who gave up"

# (iv) a follow-up INVITE with other digits: the waiting call is cleared,
# the new INVITE routed as a call of its own (313 is answered en bloc).
uac uac_overlap.xml -key first 212555 -s 3135551234 ||
	fail "a follow-up INVITE with another number was not taken as a call"
wait_for "pstnsim's records" 10 pstnsim_calls_ge 7
REC=$(grep '"event":"call"' "$WORK/pstnsim.jsonl" | grep '"called":"212555"' | tail -1)
expect_rec "(iv) the waiting PRI call cleared, cause" cause 28
wait_cdrs 7
expect_eq "(iv) CDRs" "$(sql "SELECT disposition || ':' || called FROM cdr
	ORDER BY start_ms DESC LIMIT 2" | sort | tr '\n' ' ')" \
	"ANSWERED:3135551234 FAILED:212555 "

# (iv-b) three INVITEs: 2125551 is not enough for pstnsim (10 digits), so
# after overlap_wait the gateway answers it 484 too.
uac uac_overlap3.xml -key first 212555 -key second 2125551 -s 2125551234 ||
	fail "RFC 3578 in three INVITEs did not complete"
wait_for "pstnsim's record" 10 pstnsim_calls_ge 8
REC=$(last_rec)
expect_rec "(iv-b) number pstnsim completed" called 2125551234
expect_rec "(iv-b) INFORMATION messages with digits" info_msgs 4
expect_rec "(iv-b) answered" answered true
wait_cdrs 8
expect_eq "(iv-b) CDR" "$(sql "SELECT disposition, called, sip_status FROM cdr
	ORDER BY start_ms DESC LIMIT 1")" "ANSWERED|2125551234|200"
grep -q ': 2125551: the network waits for more digits: 484' "$WORK/tollgated.log" ||
	fail "no 484 for 2125551"
log "ok: (iv-b) the INVITE the network did not proceed on got 484 after overlap_wait"

# (iv-c) the next INVITE crosses the ACK of the 484: a new request with a
# higher CSeq, not a retransmission of the refused one (answered at once).
uac uac_overlap_early.xml -key first 212555 -s 2125551234 ||
	fail "an INVITE that overtook the ACK of its 484 was not answered"
wait_for "pstnsim's record" 10 pstnsim_calls_ge 9
REC=$(last_rec)
expect_rec "(iv-c) number pstnsim completed" called 2125551234
expect_rec "(iv-c) answered" answered true

# (v) PRI -> SIP overlap toward the RFC 3578 PBX.
"$TGCTL" -s "$CTL" --db "$DB" route add r555 priority=1 kind=prefix match=555 \
	trunks=pbx >/dev/null || fail "route add"
ctl reload >/dev/null || fail "reload"
tshark -q -i lo -f "udp port $PBX_PORT" -w "$WORK/pbx.pcapng" \
	> "$WORK/tshark2.log" 2>&1 &
TSHARK=$!
PIDS+=("$TSHARK")
wait_for "tshark to capture" 10 grep -q "Capturing on" "$WORK/tshark2.log"
sleep 1
"$TGCALL" answer --local "127.0.0.1:$PBX_PORT" --incomplete 7 --count 1 \
	--timeout 20 > "$WORK/pbx.jsonl" 2>>"$WORK/pbx.log" &
PBX=$!
PIDS+=("$PBX")
sleep 0.2
kill -TERM "$PSTN_PID" 2>/dev/null || true; wait "$PSTN_PID" 2>/dev/null || true
start_pstnsim --originate 1 --rate 1 --to 5550100 --overlap 3 \
	--from 2125559999 --hold 300 --exit-when-done
wait_for "pstnsim's call to 5550100" 20 sh -c "! kill -0 $PSTN_PID"
wait "$PBX" || fail "the PBX did not get its call: $(cat "$WORK/pbx.jsonl")"
REC=$(last_rec)
expect_rec "(v) answered" answered true
expect_rec "(v) number" called 5550100
wait_cdrs 9
expect_eq "(v) CDR" "$(sql "SELECT count(*), disposition, called, sip_status FROM cdr
	WHERE direction = 'inbound'")" "1|ANSWERED|5550100|200"
sleep 0.5
kill -INT "$TSHARK"
wait "$TSHARK" || true
pbxcap() { tshark -r "$WORK/pbx.pcapng" -d "udp.port==$PBX_PORT,sip" "$@" 2>/dev/null; }
expect_eq "(v) malformed or erroneous SIP" \
	"$(pbxcap -Y "_ws.malformed || _ws.expert.severity == error" | wc -l)" 0
invites=$(pbxcap -Y 'sip.Method == "INVITE"' -T fields -e sip.Call-ID \
	-e sip.from.tag -e sip.CSeq.seq -e sip.r-uri.user | sort -u -k3,3n)
expect_eq "(v) INVITEs: one Call-ID and From tag" \
	"$(echo "$invites" | awk '{print $1" "$2}' | sort -u | wc -l)" 1
expect_eq "(v) INVITEs' numbers, each longer" \
	"$(echo "$invites" | awk '{print $4}' | tr '\n' ' ')" \
	"555 5550 55501 555010 5550100 "
cseqs=$(echo "$invites" | awk 'NR == 1 {c = $3} {printf "%d ", $3 - c}')
expect_eq "(v) their CSeqs, one up each time" "$cseqs" "0 1 2 3 4 "
expect_eq "(v) 484s to the short ones" \
	"$(pbxcap -Y 'sip.Status-Code == 484' | wc -l)" 4
