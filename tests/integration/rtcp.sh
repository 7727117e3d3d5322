#!/usr/bin/env bash
# tests/integration/rtcp.sh  RTCP and call quality in the CDR.  A baresip
# call (baresip sends and answers RTCP) through the gateway to pstnsim: the
# CDR has its RTP counts, jitter, a round trip from the reports, what
# baresip reported of our stream and a good MOS both ways, and our RTCP
# (SR, SDES CNAME, BYE) decodes in tshark with no malformed packet.  The
# same over SDES SRTP (mediaenc=srtp-mand): the reports cross as SRTCP.
# Then two tgcall calls, one clean and one over a path with 10% loss and 0-40 ms
# jitter: the lossy call's CDR shows the loss and a lower MOS.  Last a SIP ->
# SIP call between two baresips (a phone on 127.0.0.2 calls a DID of the PBX
# trunk, where the other answers): the relay terminates RTCP on each leg, so
# the CDR has jitter, RTT, their reports and MOS, and our RTCP on both legs
# (SR with a block, SDES CNAME, BYE, each leg its own SSRC) decodes cleanly;
# the same with the phone's leg over SRTP (SRTCP on it).
. "$(dirname "$0")/lib.sh"
command -v baresip >/dev/null || { log "SKIP: baresip not installed"; exit 77; }

EXTRA=$(printf '[trunk phones]\ntype = sip\npeer = 127.0.0.2:%s\naccept_from = 127.0.0.2\nsrtp = optional\n' \
	"$CLI_PORT")
write_conf
sed -i '/^\[trunk pbx\]/a srtp = optional' "$WORK/tollgate.conf"

# gw_rtcp_port PCAP LO HI: our RTCP port toward a peer whose RTP is in
# LO-HI (ours leaves from the odd port of a pair in our range).
gw_rtcp_port() {
	tshark -r "$1" -Y "udp.dstport >= $2 && udp.dstport <= $3" \
		-T fields -e udp.srcport 2>/dev/null |
		awk -v lo="$RTP_MIN" -v hi="$RTP_MAX" \
			'$1 >= lo && $1 <= hi && $1 % 2 == 1 { print; exit }'
}
# rtcp_check PCAP PORT WHO: what we sent from PORT decodes as RTCP with no
# malformed or erroneous packet, and has an SR, a report block on WHO's
# stream, an SDES CNAME and a BYE.
rtcp_check() {
	local pcap=$1 port=$2 who=$3
	decode() { tshark -r "$pcap" -d "udp.port==$port,rtcp" \
		-Y "udp.srcport == $port && ($1)" 2>/dev/null | wc -l; }
	expect_eq "malformed or erroneous RTCP to $who" \
		"$(decode '_ws.malformed || _ws.expert.severity >= warning')" 0
	[ "$(decode 'rtcp.pt == 200')" -ge 1 ] || fail "no SR to $who decoded"
	[ "$(decode 'rtcp.sdes.type == 1 && rtcp.sdes.text contains "tg-"')" -ge 1 ] ||
		fail "no SDES CNAME to $who decoded"
	[ "$(decode 'rtcp.pt == 203')" -ge 1 ] || fail "no BYE to $who decoded"
	[ "$(decode 'rtcp.ssrc.high_seq')" -ge 1 ] ||
		fail "no report block on $who's stream decoded"
}
start_pstnsim --media tone:1000 --hangup-after 11000
start_gw

start_capture "$WORK/cap.pcapng" || true
BS=$WORK/baresip
baresip_setup "$BS" "$CLI_PORT" 440 15
BS_RTP=$((RTP_MAX + 2))
echo "<sip:2125550000@127.0.0.1>;regint=0;audio_codecs=PCMU" > "$BS/accounts"

timeout 30 baresip -f "$BS" -e "/dial sip:2125551234@127.0.0.1:$SIP_PORT" -t 15 \
	> "$WORK/baresip.log" 2>&1 || true
wait_cdrs 1 15
row=$(sql "SELECT disposition, rtp_tx_packets > 400, rtp_rx_packets > 400,
	rtp_rx_lost, rtp_jitter_ms IS NOT NULL AND rtp_jitter_ms < 20,
	rtt_ms IS NOT NULL AND rtt_ms >= 0 AND rtt_ms < 100,
	remote_lost, mos_rx >= 4.0, mos_tx >= 4.0, srtp_auth_fail
	FROM cdr ORDER BY rowid DESC LIMIT 1" | tr '|' ' ')
log "baresip call: $(sql "SELECT rtp_tx_packets, rtp_rx_packets, rtp_rx_lost,
	rtp_jitter_ms, rtt_ms, remote_lost, remote_jitter_ms, mos_rx, mos_tx
	FROM cdr ORDER BY rowid DESC LIMIT 1")"
expect_eq "baresip CDR: answered, packets, no loss, jitter, RTT, its report, MOS" \
	"$row" "ANSWERED 1 1 0 1 1 0 1 1 0"

if [ -n "$TSHARK" ]; then
	sleep 1
	kill -INT "$TSHARK"
	wait "$TSHARK" || true
	gw_rtcp=$(gw_rtcp_port "$WORK/cap.pcapng" "$BS_RTP" 65535)
	[ -n "$gw_rtcp" ] || fail "no RTCP from tollgated in the capture"
	rtcp_check "$WORK/cap.pcapng" "$gw_rtcp" baresip
	log "ok: our RTCP decodes cleanly: SR with a report block, SDES CNAME, BYE"
fi

if [ -f /usr/lib/baresip/modules/srtp.so ]; then
	echo "module			srtp.so" >> "$BS/config"
	echo "<sip:2125550000@127.0.0.1>;regint=0;audio_codecs=PCMU;mediaenc=srtp-mand" \
		> "$BS/accounts"
	timeout 30 baresip -f "$BS" -e "/dial sip:2125551234@127.0.0.1:$SIP_PORT" -t 15 \
		> "$WORK/baresip-srtp.log" 2>&1 || true
	wait_cdrs 2 15
	log "baresip SRTP call: $(sql "SELECT rtp_tx_packets, rtp_rx_packets,
		rtp_rx_lost, rtp_jitter_ms, rtt_ms, remote_lost, mos_rx, mos_tx,
		srtp_auth_fail FROM cdr ORDER BY rowid DESC LIMIT 1")"
	expect_eq "baresip SRTP CDR: answered, no loss, RTT, its report, MOS, no auth failure" \
		"$(sql "SELECT disposition, rtp_rx_packets > 400, rtp_rx_lost,
		rtt_ms IS NOT NULL, remote_lost, mos_rx >= 4.0, mos_tx >= 4.0,
		srtp_auth_fail FROM cdr ORDER BY rowid DESC LIMIT 1" | tr '|' ' ')" \
		"ANSWERED 1 0 1 0 1 1 0"
fi

# $1: extra tgcall options; the CDR row's figures of that call.
tcall() {
	local n
	n=$(sql "SELECT count(*) FROM cdr")
	timeout 20 "$TGCALL" call "sip:2125551234@127.0.0.1:$SIP_PORT" \
		--local "127.0.0.1:$PBX_PORT" --tone 1000 --hold 4000 "$@" \
		>/dev/null 2>>"$WORK/tgcall.log" || fail "tgcall $*"
	wait_cdrs $((n + 1))
	sql "SELECT rtp_rx_packets, rtp_rx_lost, rtp_late, rtp_jitter_ms, mos_rx
		FROM cdr ORDER BY rowid DESC LIMIT 1"
}
clean=$(tcall)
lossy=$(tcall --jitter 40 --loss 10)
log "clean call: $clean; lossy call: $lossy"
IFS='|' read -r c_rx c_lost c_late c_jit c_mos <<< "$clean"
IFS='|' read -r l_rx l_lost l_late l_jit l_mos <<< "$lossy"
[ "$c_rx" -ge 150 ] && [ "$l_rx" -ge 150 ] || fail "too few packets: $c_rx, $l_rx"
expect_eq "clean call: lost" "$c_lost" 0
awk -v l="$l_lost" -v r="$l_rx" 'BEGIN { exit !(l >= 0.03 * r && l <= 0.2 * r) }' ||
	fail "lossy call: $l_lost lost of $l_rx (10% sent lost)"
awk -v c="$c_jit" -v l="$l_jit" 'BEGIN { exit !(l > c && l >= 3) }' ||
	fail "jitter: clean $c_jit ms, lossy $l_jit ms"
awk -v c="$c_mos" -v l="$l_mos" 'BEGIN { exit !(c >= 4.0 && l < c - 0.2) }' ||
	fail "MOS: clean $c_mos, lossy $l_mos"
log "ok: the lossy call's CDR shows $l_lost lost, jitter $l_jit ms, MOS $l_mos (clean $c_mos)"

# SIP -> SIP: baresip on 127.0.0.2 calls DID 5550150, routed to the PBX
# trunk where a second baresip answers at once; RTP of the two in ranges
# of their own above ours.
PH=$WORK/phone
PBX=$WORK/pbx
baresip_setup "$PH" "$CLI_PORT" 440 15 127.0.0.2
baresip_setup "$PBX" "$PBX_PORT" 880 25
sed -i "s/^rtp_ports.*/rtp_ports\t\t$((RTP_MAX + 202))-$((RTP_MAX + 400))/" "$PBX/config"
echo "<sip:2125550000@127.0.0.2>;regint=0;audio_codecs=PCMU" > "$PH/accounts"
echo "<sip:5550150@127.0.0.1>;regint=0;audio_codecs=PCMU;answermode=auto" > "$PBX/accounts"
# s2s_call NAME: the phone calls, the PBX's baresip answers; its CDR.
s2s_call() {
	local n pbx
	n=$(sql "SELECT count(*) FROM cdr")
	baresip -f "$PBX" -t 25 > "$WORK/baresip-pbx-$1.log" 2>&1 &
	pbx=$!
	PIDS+=("$pbx")
	sleep 1
	timeout 30 baresip -f "$PH" -e "/dial sip:5550150@127.0.0.1:$SIP_PORT" -t 12 \
		> "$WORK/baresip-phone-$1.log" 2>&1 || true
	wait_cdrs $((n + 1)) 15
	kill -TERM "$pbx" 2>/dev/null || true
	wait "$pbx" 2>/dev/null || true
}
start_capture "$WORK/s2s.pcapng" || true
s2s_call plain
log "SIP -> SIP call: $(sql "SELECT rtp_tx_packets, rtp_rx_packets, rtp_rx_lost,
	rtp_jitter_ms, rtt_ms, remote_lost, remote_jitter_ms, mos_rx, mos_tx
	FROM cdr ORDER BY rowid DESC LIMIT 1")"
expect_eq "SIP -> SIP CDR: answered, packets, no loss, jitter, RTT, reports, MOS" \
	"$(sql "SELECT disposition, rtp_rx_packets > 600, rtp_rx_lost,
	rtp_jitter_ms IS NOT NULL AND rtp_jitter_ms < 20,
	rtt_ms IS NOT NULL AND rtt_ms >= 0 AND rtt_ms < 100,
	remote_lost, remote_jitter_ms IS NOT NULL, mos_rx >= 4.0, mos_tx >= 4.0
	FROM cdr ORDER BY rowid DESC LIMIT 1" | tr '|' ' ')" \
	"ANSWERED 1 0 1 1 0 1 1 1"

if [ -n "$TSHARK" ]; then
	sleep 1
	kill -INT "$TSHARK"
	wait "$TSHARK" || true
	ssrcs=""
	for leg in "phone $((RTP_MAX + 2)) $((RTP_MAX + 200))" \
		   "pbx $((RTP_MAX + 202)) $((RTP_MAX + 400))"; do
		read -r who lo hi <<< "$leg"
		port=$(gw_rtcp_port "$WORK/s2s.pcapng" "$lo" "$hi")
		[ -n "$port" ] || fail "no RTCP from the relay to the $who"
		rtcp_check "$WORK/s2s.pcapng" "$port" "the $who"
		ssrcs="$ssrcs $(tshark -r "$WORK/s2s.pcapng" -d "udp.port==$port,rtcp" \
			-Y "udp.srcport == $port && rtcp.pt == 200" \
			-T fields -e rtcp.senderssrc 2>/dev/null | sort -u | head -1)"
	done
	# shellcheck disable=SC2086
	set -- $ssrcs
	[ $# -eq 2 ] && [ "$1" != "$2" ] || fail "the legs' SSRCs: $ssrcs"
	log "ok: the relay's RTCP on both legs decodes cleanly (SR, block, CNAME, BYE; SSRCs$ssrcs)"
fi

# The phone's leg over SDES SRTP (the PBX's plain): SRTCP on that leg, read
# and answered, so the CDR still has the RTT and both legs' reports.
if [ -f /usr/lib/baresip/modules/srtp.so ]; then
	echo "module			srtp.so" >> "$PH/config"
	echo "<sip:2125550000@127.0.0.2>;regint=0;audio_codecs=PCMU;mediaenc=srtp-mand" \
		> "$PH/accounts"
	s2s_call srtp
	log "SIP -> SIP SRTP call: $(sql "SELECT rtp_rx_packets, rtp_rx_lost, rtt_ms,
		remote_lost, mos_rx, mos_tx, srtp_auth_fail
		FROM cdr ORDER BY rowid DESC LIMIT 1")"
	expect_eq "SIP -> SIP SRTP CDR: answered, no loss, RTT, reports, MOS, no auth failure" \
		"$(sql "SELECT disposition, rtp_rx_packets > 600, rtp_rx_lost,
		rtt_ms IS NOT NULL, remote_lost, mos_rx >= 4.0, mos_tx >= 4.0,
		srtp_auth_fail FROM cdr ORDER BY rowid DESC LIMIT 1" | tr '|' ' ')" \
		"ANSWERED 1 0 1 0 1 1 0"
fi
