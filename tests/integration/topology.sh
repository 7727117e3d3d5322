#!/usr/bin/env bash
# tests/integration/topology.sh  Topology hiding on a SIP -> SIP call
# through the gateway (a B2BUA): nothing of one side's addresses, Call-ID,
# tags, Via, Contact, Record-Route or private headers reaches the other;
# each side sees only the gateway.  The check reads a capture of every
# SIP packet with tshark.  Needs its own addresses: runs only in the
# test's network namespace.
. "$(dirname "$0")/lib.sh"

[ -n "${TG_IN_NETNS:-}" ] || { log "SKIP: needs a network namespace"; exit 77; }
command -v tshark >/dev/null || { log "SKIP: tshark not installed"; exit 77; }
ip addr add 127.0.0.5/8 dev lo 2>/dev/null || true
ip addr add 127.0.0.6/8 dev lo 2>/dev/null || true

EXTRA="
[trunk inside]
type = sip
peer = 127.0.0.6:5060
accept_from = 127.0.0.6

[trunk outside]
type = sip
peer = 127.0.0.5:5060
accept_from = 127.0.0.5
"
write_conf
start_pstnsim
start_gw
"$TGCTL" -s "$CTL" --db "$DB" route add out1 priority=1 kind=prefix \
	match=5559 trunks=outside >/dev/null || fail "route add"
wait_for "the route" 10 sh -c "'$TGCTL' -s '$CTL' route explain 5559001 --from inside | grep -q out1"

tshark -q -i lo -f "udp port 5060" -w "$WORK/cap.pcapng" > "$WORK/tshark.log" 2>&1 &
TSHARK=$!
PIDS+=("$TSHARK")
wait_for "tshark to capture" 10 grep -q "Capturing on" "$WORK/tshark.log"
sleep 1

"$TGCALL" answer --local 127.0.0.5:5060 --count 1 --timeout 20 --tone 1000 \
	--detect 1000 --save-invite "$WORK/inv.txt" > "$WORK/callee.json" \
	2>>"$WORK/tgcall.log" &
CALLEE=$!
PIDS+=("$CALLEE")
sleep 0.3
out=$(timeout 20 "$TGCALL" call "sip:5559001@127.0.0.1:5060" \
	--local 127.0.0.6:5060 --from 2125550000 --tone 1000 --detect 1000 \
	--hold 1500 --header "X-Inside-Host: pbx7.corp.example" \
	--header "Record-Route: <sip:10.9.8.7;lr>" 2>>"$WORK/tgcall.log") ||
	fail "the call: $out"
wait "$CALLEE" || fail "the callee: $(cat "$WORK/callee.json")"
awk -v r="$(json_field "$out" rx_tone_ratio)" 'BEGIN { exit !(r > 0.8) }' ||
	fail "no audio from the far side: $out"
sleep 0.5
kill -INT "$TSHARK"; wait "$TSHARK" || true

sipv() { tshark -r "$WORK/cap.pcapng" -d udp.port==5060,sip -V -Y "sip && $1" 2>/dev/null; }
field() { tshark -r "$WORK/cap.pcapng" -d udp.port==5060,sip -Y "$1" \
	-T fields -e "$2" 2>/dev/null | head -1; }
in_cid=$(field "ip.src == 127.0.0.6 && sip.Method == INVITE" sip.Call-ID)
in_tag=$(field "ip.src == 127.0.0.6 && sip.Method == INVITE" sip.from.tag)
out_cid=$(field "ip.src == 127.0.0.5 && sip.Status-Code == 200" sip.Call-ID)
out_tag=$(field "ip.src == 127.0.0.5 && sip.Status-Code == 200" sip.to.tag)
[ -n "$in_cid" ] && [ -n "$out_cid" ] && [ -n "$in_tag" ] && [ -n "$out_tag" ] ||
	fail "the capture lacks the call's INVITE or 200"
[ "$in_cid" != "$out_cid" ] || fail "one Call-ID on both sides"
outside=$(sipv "ip.addr == 127.0.0.5")
inside=$(sipv "ip.addr == 127.0.0.6")
[ "$(echo "$outside" | grep -c '^Session Initiation Protocol')" -ge 4 ] ||
	fail "too few SIP messages captured on the outside"
for leak in 127.0.0.6 "$in_cid" "$in_tag" pbx7.corp.example 10.9.8.7; do
	echo "$outside" | grep -qF -- "$leak" &&
		fail "the inside's '$leak' reached the outside: $(echo "$outside" | grep -F -- "$leak" | head -3)"
done
for leak in 127.0.0.5 "$out_cid" "$out_tag"; do
	echo "$inside" | grep -qF -- "$leak" &&
		fail "the outside's '$leak' reached the inside: $(echo "$inside" | grep -F -- "$leak" | head -3)"
done
grep -q '^c=IN IP4 127.0.0.1' "$WORK/inv.txt" ||
	fail "the callee was not offered the gateway's media address: $(grep '^c=' "$WORK/inv.txt")"
log "ok: no address, Call-ID, tag, Via, Record-Route or header crosses the gateway"
