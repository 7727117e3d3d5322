#!/usr/bin/env bash
# tests/integration/nat_netns.sh  A real NAT: the phone lives in a network
# namespace of its own on a private address (10.0.0.2) behind an nft
# masquerade with random source ports, and reaches the gateway
# (203.0.113.1, in the test's namespace) over a veth pair.  Its Via,
# Contact and SDP name 10.0.0.2, which the gateway cannot route to.  With
# nat = yes the answers reach it through the NAT's mapping (forced rport),
# its audio arrives (RTP latched to the mapped port) and so does the
# gateway's BYE.  Both namespaces are the test's own; needs root, nft and
# NAT in the kernel, else it is skipped.
. "$(dirname "$0")/lib.sh"

skip() { log "SKIP: $*"; exit 77; }
[ -n "${TG_IN_NETNS:-}" ] || skip "needs a private network namespace (root)"
command -v nft >/dev/null || skip "no nft"
command -v nsenter >/dev/null || skip "no nsenter"

PUB=203.0.113.1 NATADDR=203.0.113.2 PHONE=10.0.0.2
# The phone's namespace, held by a sleeper we end on exit.
unshare -n sleep 600 &
NS_PID=$!
PIDS+=("$NS_PID")
in_phone() { nsenter -t "$NS_PID" -n "$@"; }
sleep 0.1
ip link add tgnat0 type veth peer name tgnat1 ||
	skip "no veth pairs here"
ip link set tgnat1 netns "$NS_PID"
ip addr add "$PUB/24" dev tgnat0
ip link set tgnat0 up
in_phone ip link set lo up
in_phone ip addr add "$PHONE/32" dev lo
in_phone ip addr add "$NATADDR/24" dev tgnat1
in_phone ip link set tgnat1 up
# Masquerade what leaves toward the gateway, with random source ports:
# what the gateway sees is never what the phone wrote.
in_phone nft add table ip tgnat &&
	in_phone nft add chain ip tgnat post \
		'{ type nat hook postrouting priority 100 ; }' &&
	in_phone nft add rule ip tgnat post oifname tgnat1 masquerade random ||
	skip "no NAT (nft masquerade) in this kernel"

write_conf
sed -i -e "s/^bind = 127.0.0.1\$/bind = $PUB/" \
	-e "s/^media_addr = 127.0.0.1\$/media_addr = $PUB/" \
	-e "s/^peer = 127.0.0.1:$PBX_PORT\$/peer = $NATADDR:$PBX_PORT/" \
	-e "s/^accept_from = 127.0.0.1\$/accept_from = $NATADDR\nnat = yes/" \
	"$WORK/tollgate.conf"
start_pstnsim --media tone:1000 --detect 1000 --hangup-after 2500 \
	--rule 2125559999=answer,hangup=16000
start_gw

out=$(in_phone timeout 20 "$TGCALL" call "sip:2125551234@$PUB:$SIP_PORT" \
	--local "$PHONE:$CLI_PORT" --no-rport --tone 1000 --detect 1000 \
	--hold 6000 2>>"$WORK/tgcall.log") || fail "call through the NAT: $out"
expect_eq "answered through the NAT" "$(json_field "$out" status)" 200
expect_eq "the gateway's BYE came through the NAT" \
	"$(json_field "$out" bye_by)" remote
ratio=$(json_field "$out" rx_tone_ratio)
awk -v r="$ratio" 'BEGIN { exit !(r > 0.8) }' ||
	fail "the phone heard tone ratio $ratio: $out"
line=$(grep "RTP latched to $NATADDR:" "$WORK/tollgated.log") ||
	fail "no latching to the NAT's address"
log "ok: $line"
wait_for "pstnsim call record" 5 pstnsim_calls_ge 1
rec=$(grep '"event":"call"' "$WORK/pstnsim.jsonl" | tail -1)
ratio=$(json_field "$rec" rx_tone_ratio)
awk -v r="$ratio" 'BEGIN { exit !(r > 0.8) }' ||
	fail "pstnsim heard tone ratio $ratio: $rec"
log "ok: audio both ways through a masquerading NAT (pstnsim ratio $ratio)"

# RTCP through the NAT (symmetric RTCP, RFC 4961): baresip's reports leave
# through a mapping of their own, not its RTP port + 1, so ours must go
# back to where they come from.  A round trip in the CDR says baresip got
# our SRs (its LSR/DLSR name one of them).
LATCHED=1
if command -v baresip >/dev/null; then
	LATCHED=2
	BS=$WORK/baresip
	baresip_setup "$BS" "$CLI_PORT" 440 15 "$PHONE"
	echo "<sip:2125550000@$PHONE>;regint=0;audio_codecs=PCMU" > "$BS/accounts"
	in_phone timeout 35 baresip -f "$BS" \
		-e "/dial sip:2125559999@$PUB:$SIP_PORT" -t 20 \
		> "$WORK/baresip.log" 2>&1 || true
	wait_cdrs 2 15
	row=$(sql "SELECT disposition, rtp_rx_packets > 300,
		remote_lost IS NOT NULL, rtt_ms IS NOT NULL FROM cdr
		WHERE called = '2125559999'" | tr '|' ' ')
	log "baresip behind the NAT: $(sql "SELECT rtp_tx_packets,
		rtp_rx_packets, rtt_ms, remote_lost FROM cdr
		WHERE called = '2125559999'")"
	expect_eq "baresip behind the NAT: answered, RTP, its report, RTT" \
		"$row" "ANSWERED 1 1 1"
	log "ok: RTCP both ways through the NAT"
fi

# The same trunk without nat = yes: nothing answers at the NAT's mapping
# but the 2xx (sent where the INVITE came from), and no RTP is latched.
sed -i '/^nat = yes$/d' "$WORK/tollgate.conf"
n=$(grep -c "reloaded:" "$WORK/tollgated.log" || true)
kill -HUP "$GW_PID"
wait_for "reload" 10 sh -c "[ \$(grep -c 'reloaded:' '$WORK/tollgated.log') -gt $n ]"
out=$(in_phone timeout 20 "$TGCALL" call "sip:2125551234@$PUB:$SIP_PORT" \
	--local "$PHONE:$CLI_PORT" --no-rport --tone 1000 --detect 1000 \
	--hold 2000 2>>"$WORK/tgcall.log") || true
echo "$out" | grep -q '"provisional":\[\]' ||
	fail "without nat = yes the 100 Trying should be lost: $out"
ratio=$(json_field "$out" rx_tone_ratio)
awk -v r="$ratio" 'BEGIN { exit !(r < 0.2) }' ||
	fail "without nat = yes the phone should hear nothing, ratio $ratio"
expect_eq "latched once a NAT call only" \
	"$(grep -c 'RTP latched' "$WORK/tollgated.log")" "$LATCHED"
log "ok: without nat = yes the phone behind the NAT hears nothing (ratio $ratio)"
