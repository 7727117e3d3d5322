#!/usr/bin/env bash
# tests/integration/e911_profiles.sh  What each E911 provider profile puts
# in the INVITE, read back from a tshark capture.
#
#  - bandwidth (static 911): one sip: P-Asserted-Identity with the ELIN,
#    no location in the INVITE (the address is provisioned), plain SDP.
#  - bandwidth-dlr: the zone's endpoint id (location_id) in From and PAI,
#    no user=phone on it; a schema-valid PIDF-LO by value.  A numeric id
#    gets ;user=phone.
#  - generic with e911_pai = tel written before the profile: the explicit
#    key wins (tel: PAI), the profile gives the PIDF-LO.
#  - a member's own floor and room (flr=, room=) refine the zone's address
#    for that caller: e911 test and the PIDF-LO show them.
#  Nothing malformed in Wireshark's decoding.
. "$(dirname "$0")/lib.sh"
command -v tshark >/dev/null || { log "SKIP: tshark not installed"; exit 77; }
command -v xmllint >/dev/null || { log "SKIP: xmllint not installed"; exit 77; }

SCHEMA=$SRC/tests/schema/pidf-lo.xsd
EXTRA="
[trunk bw]
type = sip
peer = 127.0.0.2:5070
accept_from = 127.0.0.2
e911_profile = bandwidth

[trunk dlr]
type = sip
peer = 127.0.0.3:5070
accept_from = 127.0.0.3
e911_profile = bandwidth-dlr

[trunk gen]
type = sip
peer = 127.0.0.4:5070
accept_from = 127.0.0.4
e911_pai = tel
e911_profile = generic

[e911]
holdoff = 0
"
write_conf
nanp_plans
start_pstnsim
start_gw
tgdb() { "$TGCTL" -s "$CTL" --db "$DB" "$@"; }
tgdb e911 zone add z1 country=US a1=NY a3="New York" hno=350 rd=5th sts=Ave \
	flr=3 location_id=ep-4711 elins=12125550911 >/dev/null || fail "zone z1"
tgdb e911 zone add z2 country=US a1=NY a3="New York" hno=1 rd=Main \
	location_id=5554711 elins=12125550922 >/dev/null || fail "zone z2"
tgdb e911 member add z1 calling 12125552000-12125552049 >/dev/null || fail "member z1"
tgdb e911 member add z2 calling 12125552050-12125552099 >/dev/null || fail "member z2"
# One caller's own floor and room in zone z1 (RAY BAUM's Act).
tgdb e911 member add z1 calling 12125552003 flr=7 room=712 >/dev/null ||
	fail "member with a floor and room"
tgdb e911 member add z1 calling 12125552004 shelf=2 >/dev/null 2>&1 &&
	fail "a member with an unknown key was saved"
tgdb e911 member list | grep -qP '\tz1\tcalling\t12125552003\t7\t\t712$' ||
	fail "member list: $(tgdb e911 member list)"
n=1
for t in bw dlr gen dlr; do
	tgdb route add "r$n" priority=1 kind=prefix match="1212555000$n" \
		trunks="$t" >/dev/null || fail "route r$n"
	n=$((n + 1))
done
wait_for "the routes" 10 sh -c "'$TGCTL' -s '$CTL' route explain 2125550004 | grep -q r4"
ctl e911 test 12125552003 | grep -q "location: 350 5th Ave, Floor 7, Room 712, New York" ||
	fail "e911 test: $(ctl e911 test 12125552003)"
ctl e911 test 12125552001 | grep -q "location: 350 5th Ave, Floor 3, New York" ||
	fail "e911 test of a neighbour: $(ctl e911 test 12125552001)"

tshark -q -i lo -f "udp port 5070" -w "$WORK/cap.pcapng" > "$WORK/tshark.log" 2>&1 &
TSHARK=$!
PIDS+=("$TSHARK")
wait_for "tshark to capture" 10 grep -q "Capturing on" "$WORK/tshark.log"
sleep 1

# call N PROVIDER_IP FROM: an emergency call to 212555000N, answered there.
call() {
	"$TGCALL" answer --local "$2:5070" --count 1 --timeout 20 \
		--save-invite "$WORK/inv$1.txt" > "$WORK/prov$1.jsonl" \
		2>>"$WORK/provider.log" &
	PIDS+=($!)
	sleep 0.3
	timeout 20 "$TGCALL" call "sip:212555000$1@127.0.0.1:$SIP_PORT" \
		--local "127.0.0.1:$PBX_PORT" --from "$3" --expect 200 --hold 200 \
		--header "Priority: emergency" > "$WORK/c$1.json" \
		2>>"$WORK/tgcall.log" || fail "call $1: $(cat "$WORK/c$1.json")"
	wait_for "provider $1's INVITE" 5 test -s "$WORK/inv$1.txt"
}
call 1 127.0.0.2 2125552001
call 2 127.0.0.3 2125552002
call 3 127.0.0.4 2125552003
call 4 127.0.0.3 2125552051
sleep 1
kill -INT "$TSHARK"
wait "$TSHARK" || true

decode() { tshark -r "$WORK/cap.pcapng" -d "udp.port==5070,sip" "$@" 2>/dev/null; }
expect_eq "malformed or erroneous packets" \
	"$(decode -Y "_ws.malformed || _ws.expert.severity == error" | wc -l)" 0
# field DST FIELD: that field of the INVITE sent to DST, as decoded.
field() { decode -Y "sip.Method == \"INVITE\" && ip.dst == $1 && !sip.to.tag" \
	-T fields -e "$2" | head -1; }
# The same INVITE twice (4 and 2 both go to .3): take the n-th.
field_n() { decode -Y "sip.Method == \"INVITE\" && ip.dst == $1" -T fields \
	-e sip.Call-ID -e "$2" | awk -F'\t' '!seen[$1]++ {print $2}' | sed -n "${3}p"; }

# bandwidth: one sip: PAI, the ELIN, no location.
expect_eq "bandwidth: P-Asserted-Identity" "$(field 127.0.0.2 sip.P-Asserted-Identity)" \
	"<sip:+12125550911@127.0.0.1>"
expect_eq "bandwidth: Priority" "$(field 127.0.0.2 sip.Priority)" emergency
expect_eq "bandwidth: Geolocation" "$(field 127.0.0.2 sip.Geolocation)" ""
expect_eq "bandwidth: body" "$(field 127.0.0.2 sip.Content-Type)" application/sdp

# bandwidth-dlr: the endpoint id, no user=phone on it; PIDF-LO by value.
expect_eq "dlr: From user" "$(field_n 127.0.0.3 sip.from.user 1)" ep-4711
expect_eq "dlr: P-Asserted-Identity" "$(field_n 127.0.0.3 sip.P-Asserted-Identity 1)" \
	"<sip:ep-4711@127.0.0.1>"
expect_eq "dlr: Geolocation-Routing" "$(field_n 127.0.0.3 sip.Geolocation-Routing 1)" yes
field_n 127.0.0.3 sip.Content-Type 1 | grep -q '^multipart/mixed' ||
	fail "dlr: no multipart body"
# ... a numeric endpoint id gets user=phone.
expect_eq "dlr (numeric id): P-Asserted-Identity" \
	"$(field_n 127.0.0.3 sip.P-Asserted-Identity 2)" "<sip:5554711@127.0.0.1;user=phone>"

# generic, e911_pai = tel before the profile: tel: wins; PIDF-LO.
expect_eq "generic: P-Asserted-Identity" "$(field 127.0.0.4 sip.P-Asserted-Identity)" \
	"<tel:+12125550911>"
field 127.0.0.4 sip.Geolocation | grep -q '^<cid:' || fail "generic: no Geolocation cid"

# The PIDF-LOs (saved INVITEs) are valid against our schemas.
for i in 2 3 4; do
	sed -n '/^<?xml/,/<\/presence>/p' "$WORK/inv$i.txt" > "$WORK/pidf$i.xml"
	[ -s "$WORK/pidf$i.xml" ] || fail "INVITE $i has no PIDF-LO"
	xmllint --noout --schema "$SCHEMA" "$WORK/pidf$i.xml" 2>>"$WORK/xmllint.log" ||
		fail "PIDF-LO $i is not valid: $(cat "$WORK/xmllint.log")"
done
grep -q '<ca:HNO>350</ca:HNO>' "$WORK/pidf2.xml" || fail "dlr: not zone z1's address"
# Call 3 came from 2125552003: its own floor and room went out.
grep -q '<ca:FLR>7</ca:FLR>' "$WORK/pidf3.xml" && grep -q '<ca:ROOM>712</ca:ROOM>' "$WORK/pidf3.xml" ||
	fail "the caller's floor and room are not in the PIDF-LO: $(cat "$WORK/pidf3.xml")"
grep -q '<ca:FLR>3</ca:FLR>' "$WORK/pidf2.xml" || fail "a neighbour got someone else's floor"
log "ok: bandwidth, bandwidth-dlr and generic profiles, as tshark decodes them"
