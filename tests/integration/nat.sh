#!/usr/bin/env bash
# tests/integration/nat.sh  A phone behind NAT: its Via, Contact and SDP
# name a private address we cannot reach (10.255.255.1, tgcall
# --advertise) while it sends from 127.0.0.1.  With nat = yes on its trunk
# the answers reach its source port even without ;rport (forced rport),
# the gateway's BYE reaches it too, and its audio arrives because the RTP
# bridge latched to where its RTP comes from.  Without nat, ;rport alone
# gets the answers there but no audio (no latching), and without ;rport
# nothing reaches it.  Then [sip] external_address, external_media_address
# and local_nets: a peer outside the local nets is told the external
# addresses in Via, Contact and SDP, one inside them (after a reload) the
# bound ones.  Last a SIP -> SIP call: the relay latches toward the phone.
. "$(dirname "$0")/lib.sh"

PRIVATE=10.255.255.1

write_conf
sed -i '/^\[trunk pbx\]/a nat = yes' "$WORK/tollgate.conf"
start_pstnsim --media tone:1000 --detect 1000 --hangup-after 2500
start_gw

ratio_ok() { awk -v r="$1" 'BEGIN { exit !(r > 0.8) }'; }
# pbx_answer NAME ARGS...: tgcall answering one call as the PBX, output in
# $WORK/NAME.json; returns once it listens, its PID in ANS.
pbx_answer() {
	local name=$1
	shift
	"$TGCALL" answer --local "127.0.0.1:$PBX_PORT" --count 1 \
		--timeout 20 "$@" > "$WORK/$name.json" 2>"$WORK/$name.log" &
	ANS=$!
	PIDS+=("$ANS")
	wait_for "the PBX listening" 10 grep -q \
		"listening on 127.0.0.1:$PBX_PORT" "$WORK/$name.log"
}

# 1. nat = yes: no ;rport, a private Via/Contact/SDP; pstnsim hangs up
#    first, so the gateway's BYE must find the phone too.
out=$(timeout 20 "$TGCALL" call "sip:2125551234@127.0.0.1:$SIP_PORT" \
	--local "127.0.0.1:$PBX_PORT" --advertise "$PRIVATE:5999" --no-rport \
	--tone 1000 --detect 1000 --hold 6000 2>>"$WORK/tgcall.log") ||
	fail "nat call: $out"
expect_eq "answered behind NAT (forced rport)" "$(json_field "$out" status)" 200
echo "$out" | grep -q '"provisional":\[100' ||
	fail "100 Trying did not reach the source port: $out"
expect_eq "the gateway's BYE reached the phone's source" \
	"$(json_field "$out" bye_by)" remote
ratio=$(json_field "$out" rx_tone_ratio)
ratio_ok "$ratio" || fail "nat call: the phone heard tone ratio $ratio: $out"
log "ok: the phone behind NAT hears pstnsim's 1 kHz (ratio $ratio): latched"
grep -q "RTP latched to 127.0.0.1:" "$WORK/tollgated.log" ||
	fail "no latching logged"
grep -q "RTP latched to 127.0.0.1:[0-9]* (SDP said $PRIVATE:" \
	"$WORK/tollgated.log" || fail "the latch notice does not name the SDP address"
wait_for "pstnsim call record" 5 pstnsim_calls_ge 1
rec=$(grep '"event":"call"' "$WORK/pstnsim.jsonl" | tail -1)
ratio=$(json_field "$rec" rx_tone_ratio)
ratio_ok "$ratio" || fail "pstnsim heard tone ratio $ratio: $rec"
log "ok: pstnsim hears the phone (ratio $ratio)"

# 2. The same trunk without nat: ;rport still gets the answers to the
#    source port, but RTP goes where the SDP said (nowhere).
sed -i '/^nat = yes$/d' "$WORK/tollgate.conf"
n=$(grep -c "reloaded:" "$WORK/tollgated.log" || true)
kill -HUP "$GW_PID"
wait_for "reload" 10 sh -c "[ \$(grep -c 'reloaded:' '$WORK/tollgated.log') -gt $n ]"
out=$(timeout 20 "$TGCALL" call "sip:2125551234@127.0.0.1:$SIP_PORT" \
	--local "127.0.0.1:$PBX_PORT" --advertise "$PRIVATE:5999" \
	--tone 1000 --detect 1000 --hold 2000 2>>"$WORK/tgcall.log") || true
expect_eq "answered with ;rport (RFC 3581)" "$(json_field "$out" status)" 200
ratio=$(json_field "$out" rx_tone_ratio)
awk -v r="$ratio" 'BEGIN { exit !(r < 0.2) }' ||
	fail "without nat the phone should hear nothing, ratio $ratio: $out"
log "ok: without latching no audio reaches the private address (ratio $ratio)"
expect_eq "latched once only" "$(grep -c 'RTP latched' "$WORK/tollgated.log")" 1

# 3. ... and without ;rport the transaction's answers (100 Trying) go to
#    the received address and the Via's port (RFC 3261 18.2.2): lost.
out=$(timeout 20 "$TGCALL" call "sip:2125551234@127.0.0.1:$SIP_PORT" \
	--local "127.0.0.1:$PBX_PORT" --advertise "$PRIVATE:5999" --no-rport \
	--timeout 4 --hold 500 2>>"$WORK/tgcall.log") || true
echo "$out" | grep -q '"provisional":\[\]' ||
	fail "100 Trying reached a private Via without rport or nat: $out"
grep -q "127.0.0.1:5999 unreachable" "$WORK/tollgated.log" ||
	fail "no answer went to the Via's port"
log "ok: without rport or nat = yes the 100 Trying goes to the Via's port"

# 4. external_address: the gateway's INVITE to the PBX (not in
#    local_nets) names the public addresses.
kill -TERM "$GW_PID"; wait "$GW_PID" 2>/dev/null || true
kill -TERM "$PSTN_PID"; wait "$PSTN_PID" 2>/dev/null || true
sed -i '/^\[sip\]/a external_address = 192.0.2.10\nexternal_media_address = 192.0.2.11\nlocal_nets = 10.0.0.0/8' \
	"$WORK/tollgate.conf"
pbx_answer ans_ext --save-invite "$WORK/invite_ext.txt"
start_pstnsim --originate 1 --rate 1 --to 5550142 --from 2125559999 \
	--hold 500 --exit-when-done
start_gw
wait "$ANS" || true
[ -s "$WORK/invite_ext.txt" ] || fail "no INVITE reached the PBX"
grep -q "^Via: SIP/2.0/UDP 192.0.2.10:$SIP_PORT;rport" "$WORK/invite_ext.txt" ||
	fail "Via does not name the external address: $(cat "$WORK/invite_ext.txt")"
grep -qi "^Contact: <sip:[^@]*@192.0.2.10:$SIP_PORT>" "$WORK/invite_ext.txt" ||
	fail "Contact does not name the external address"
grep -q "^c=IN IP4 192.0.2.11" "$WORK/invite_ext.txt" ||
	fail "SDP c= is not the external media address"
grep -q "^o=.* IN IP4 192.0.2.11" "$WORK/invite_ext.txt" ||
	fail "SDP o= is not the external media address"
log "ok: toward a peer outside local_nets: Via, Contact 192.0.2.10, SDP 192.0.2.11"

# 5. The PBX's net becomes local (reload): the bound addresses again.
sed -i 's|^local_nets = .*|local_nets = 10.0.0.0/8, 127.0.0.0/8|' \
	"$WORK/tollgate.conf"
n=$(grep -c "reloaded:" "$WORK/tollgated.log" || true)
kill -HUP "$GW_PID"
wait_for "reload" 10 sh -c "[ \$(grep -c 'reloaded:' '$WORK/tollgated.log') -gt $n ]"
wait_for "pstnsim gone" 10 sh -c "! kill -0 $PSTN_PID"
pbx_answer ans_loc --tone 1000 --detect 1000 \
	--save-invite "$WORK/invite_loc.txt"
start_pstnsim --originate 1 --rate 1 --to 5550142 --from 2125559999 \
	--hold 1500 --media tone:1000 --detect 1000 --exit-when-done
wait "$ANS" || fail "call to a local PBX: $(cat "$WORK/ans_loc.json")"
out=$(cat "$WORK/ans_loc.json")
grep -q "^Via: SIP/2.0/UDP 127.0.0.1:$SIP_PORT;rport" "$WORK/invite_loc.txt" ||
	fail "Via toward a local net: $(cat "$WORK/invite_loc.txt")"
grep -q "^c=IN IP4 127.0.0.1" "$WORK/invite_loc.txt" ||
	fail "SDP toward a local net is not the media address"
ratio=$(json_field "$out" rx_tone_ratio)
ratio_ok "$ratio" || fail "local PBX heard tone ratio $ratio: $out"
log "ok: toward a peer in local_nets: the bound addresses, and audio (ratio $ratio)"

# 6. SIP -> SIP: a phone behind NAT (from 127.0.0.2, its SDP private)
#    calls the PBX through the relay; it hears the PBX's tone only if the
#    relay's side toward it latched.
kill -TERM "$GW_PID"; wait "$GW_PID" 2>/dev/null || true
sed -i -e 's/^outbound = pstn$/outbound = pbx/' "$WORK/tollgate.conf"
printf '\n[trunk phone]\ntype = sip\npeer = 127.0.0.2:%s\naccept_from = 127.0.0.2\nnat = yes\n' \
	"$CLI_PORT" >> "$WORK/tollgate.conf"
start_pstnsim
start_gw
pbx_answer ans_relay --tone 1000 --detect 1000
out=$(timeout 20 "$TGCALL" call "sip:2125557777@127.0.0.1:$SIP_PORT" \
	--local "127.0.0.2:$CLI_PORT" --advertise "$PRIVATE:5999" --no-rport \
	--tone 1000 --detect 1000 --hold 3000 2>>"$WORK/tgcall.log") ||
	fail "relay call behind NAT: $out"
ratio=$(json_field "$out" rx_tone_ratio)
ratio_ok "$ratio" || fail "the phone behind NAT heard the PBX at $ratio: $out"
wait "$ANS" || true
ratio=$(json_field "$(cat "$WORK/ans_relay.json")" rx_tone_ratio)
ratio_ok "$ratio" || fail "the PBX heard the phone at $ratio"
grep -q "relay [0-9]*: RTP latched to 127.0.0.2:" "$WORK/tollgated.log" ||
	fail "the relay did not log its latch"
log "ok: SIP -> SIP relay latched toward the phone behind NAT: audio both ways"
