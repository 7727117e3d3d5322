#!/usr/bin/env bash
# tests/integration/tshark_decode.sh  What tollgated puts on the wire decodes
# cleanly in Wireshark's dissectors: SIP (answered, busy, cancelled calls and
# OPTIONS) and RTP, with no malformed packet and no expert error.
. "$(dirname "$0")/lib.sh"
command -v tshark >/dev/null || { log "SKIP: tshark not installed"; exit 77; }

write_conf
# Capture span 1's D-channel as pcap (LINUX_LAPD) for the Q.931 check.
sed -i "/^\[span 1\]/a pcap = $WORK/dchan.pcap" "$WORK/tollgate.conf"
start_pstnsim --rule 5551700=busy --rule 5551703=noanswer
start_gw

tshark -q -i lo -f "udp" -w "$WORK/cap.pcapng" > "$WORK/tshark.log" 2>&1 &
TSHARK=$!
PIDS+=("$TSHARK")
wait_for "tshark to capture" 10 grep -q "Capturing on" "$WORK/tshark.log"
sleep 1 # "Capturing on" comes a moment before packets are taken

"$TGCALL" call "sip:2125551234@127.0.0.1:$SIP_PORT" --local "127.0.0.1:$PBX_PORT" \
	--hold 600 --diversion '<sip:2125550199@127.0.0.1>;reason=no-answer' \
	>/dev/null 2>>"$WORK/tgcall.log" || fail "answered call"
"$TGCALL" call "sip:5551700@127.0.0.1:$SIP_PORT" --local "127.0.0.1:$PBX_PORT" \
	--expect 486 >/dev/null 2>>"$WORK/tgcall.log" || fail "busy call"
"$TGCALL" call "sip:5551703@127.0.0.1:$SIP_PORT" --local "127.0.0.1:$PBX_PORT" \
	--cancel-after 500 --expect 487 >/dev/null 2>>"$WORK/tgcall.log" ||
	fail "cancelled call"
sleep 1
kill -INT "$TSHARK"
wait "$TSHARK" || true

decode() { tshark -r "$WORK/cap.pcapng" -d "udp.port==$SIP_PORT,sip" \
	-d "udp.port==$PBX_PORT,sip" "$@" 2>/dev/null; }
bad=$(decode -Y "_ws.malformed || _ws.expert.severity == error" | wc -l)
expect_eq "malformed or erroneous packets" "$bad" 0
from_gw() { decode -Y "sip && udp.srcport == $SIP_PORT && $1" | wc -l; }
[ "$(from_gw 'sip.Status-Code == 100')" -ge 3 ] || fail "no 100 Trying decoded"
[ "$(from_gw 'sip.Status-Code == 180')" -ge 1 ] || fail "no 180 decoded"
[ "$(from_gw 'sip.Status-Code == 200 && sdp')" -ge 1 ] || fail "no 200 with SDP decoded"
[ "$(from_gw 'sip.Status-Code == 486 && sip.Reason contains "cause=17"')" -ge 1 ] ||
	fail "no 486 with its Reason decoded"
[ "$(from_gw 'sip.Status-Code == 487')" -ge 1 ] || fail "no 487 decoded"
log "ok: SIP from tollgated decodes: 100, 180, 200+SDP, 486+Reason, 487"
rtp=$(tshark -r "$WORK/cap.pcapng" -o rtp.heuristic_rtp:TRUE \
	-Y "rtp && rtp.p_type == 0 && udp.srcport >= $RTP_MIN && udp.srcport <= $RTP_MAX" 2>/dev/null | wc -l)
[ "$rtp" -ge 20 ] || fail "only $rtp RTP packets from tollgated decoded"
log "ok: $rtp PCMU RTP packets from tollgated decode as RTP"

# Q.931 as captured by the span: clean decode, our SETUPs, their answers.
q931() { tshark -r "$WORK/dchan.pcap" "$@" 2>/dev/null; }
expect_eq "malformed Q.931 frames" "$(q931 -Y "_ws.malformed || _ws.expert.severity == error" | wc -l)" 0
expect_eq "called numbers of our SETUPs" "$(q931 -Y 'q931.message_type == 0x05' \
	-T fields -e q931.called_party_number.digits | sort | tr '\n' ' ')" "2125551234 5551700 5551703 "
[ "$(q931 -Y 'q931.message_type == 0x07' | wc -l)" -ge 1 ] || fail "no CONNECT decoded"
[ "$(q931 -Y 'q931.cause_value == 17' | wc -l)" -ge 1 ] || fail "no cause 17 decoded"
expect_eq "redirecting number of the forwarded call's SETUP" "$(q931 \
	-Y 'q931.message_type == 0x05 && q931.redirecting_number.digits' \
	-T fields -e q931.redirecting_number.digits)" 2125550199
log "ok: the D-channel capture decodes as Q.931 with our SETUPs, CONNECT and cause 17"
