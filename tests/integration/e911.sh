#!/usr/bin/env bash
# tests/integration/e911.sh  911 over PRI with the zone's ELIN, and the
# PSAP calling back.
#
#  - Zone hq-3 (a civic address, ELINs 212-555-0911 and -0912) holds the
#    PBX's extensions 212-555-2000..2099. A 911 call from 212-555-2001
#    leaves on the PRI with an ELIN as Calling Party Number (national) and
#    called 911; the CDR has the zone, the ELIN and the caller.
#  - ELINs rotate: the idle one whose last call ended longest ago.
#  - The PSAP (pstnsim) calls 2125550911 back: the call reaches 2002 at the
#    PBX, not the ELIN's DID destination; CDR callback = 1.
#  - tollgated restarts: a callback to 2125550912 still reaches 2001.
#  - Once the window is over (the CDRs aged by an hour, then a restart),
#    a callback goes to the zone's destination (the security desk, 2999);
#    CDR callback = 2.
#  - `tollgatectl e911 validate` names an ELIN that is not a DID.
#  - The building's web hook hears of each emergency call (Kari's Law):
#    a JSON POST with caller, callback number and address, retried when
#    the hook answers 500.
#  - 933 (the test call) routed to a SIP E911 provider trunk carries
#    Priority: emergency, one sip: P-Asserted-Identity with the ELIN,
#    Geolocation by cid with Geolocation-Routing, and a multipart body whose
#    PIDF-LO is well-formed XML holding the zone's civic address.
. "$(dirname "$0")/lib.sh"
command -v xmllint >/dev/null || { log "SKIP: xmllint not installed"; exit 77; }
command -v python3 >/dev/null || { log "SKIP: python3 not installed"; exit 77; }

# The security desk's web hook: the first POST gets 500, later ones 200.
python3 - "$WORK/hook.jsonl" > "$WORK/hook.log" 2>&1 <<'PY' &
import http.server, sys
out = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    n = 0
    def do_POST(self):
        body = self.rfile.read(int(self.headers['Content-Length']))
        H.n += 1
        with open(out, 'a') as f:
            f.write('%s %s %s\n' % (H.n, self.path, body.decode()))
        self.send_response(500 if H.n == 1 else 200)
        self.send_header('Content-Length', '0')
        self.end_headers()
http.server.HTTPServer(('127.0.0.1', 8911), H).serve_forever()
PY
PIDS+=($!)

EXTRA="
[trunk e911sip]
type = sip
peer = 127.0.0.2:5070
accept_from = 127.0.0.2
e911_location = pidf

[trunk e911ref]
type = sip
peer = 127.0.0.3:5070
accept_from = 127.0.0.3
e911_location = reference

[e911]
notify = http://127.0.0.1:8911/e911?site=hq
notify_sip = sip:desk@127.0.0.1:5099
holdoff = 1
location = prefer_incoming
"
write_conf
nanp_plans
# The D-channel as pcap, for Wireshark's view of the SETUPs.
sed -i "/^\[span 1\]/a pcap = $WORK/dchan.pcap" "$WORK/tollgate.conf"
start_pstnsim
start_gw

tgdb() { "$TGCTL" -s "$CTL" --db "$DB" "$@"; }
tgdb e911 zone add hq-3 country=US a1=NY a3="New York" hno=350 rd=5th \
	sts=Ave flr=3 nam="ACME HQ" pc=10118 \
	elins=12125550911,12125550912 callback_trunk=pbx callback_user=2999 \
	>/dev/null || fail "zone add"
out=$(tgdb e911 zone add bad country=USA a1=NY elins=1 2>&1) &&
	fail "an incomplete zone was saved: $out"
echo "$out" | grep -q "the address needs country" || fail "refusal: $out"
tgdb e911 member add hq-3 calling 12125552000-12125552099 >/dev/null ||
	fail "member add"
tgdb e911 zones | grep -q '^hq-3	12125550911,12125550912	' || fail "e911 zones: $(tgdb e911 zones)"
out=$(tgdb e911 member add nowhere trunk pbx 2>&1) && fail "member of no zone"
echo "$out" | grep -q "no zone 'nowhere'" || fail "refusal: $out"
out=$(tgdb e911 validate) && fail "validate passed with ELINs that are not DIDs"
echo "$out" | grep -q "ELIN 12125550911 is not in the did table" ||
	fail "validate: $out"
tgdb did add 12125550911 12125550912 pbx user=2999 >/dev/null || fail "did add"
out=$(tgdb e911 validate) || fail "validate: $out"
wait_for "the zone in the snapshot" 10 grep -q "1 e911 zones" "$WORK/tollgated.log"
out=$(ctl e911 test 12125552042) || fail "e911 test: $out"
expect_eq "e911 test" "$out" "zone hq-3: calling 12125552000-12125552099
ELIN 12125550911
location: ACME HQ, 350 5th Ave, Floor 3, New York, NY 10118, US"
ctl e911 test 19995550000 >/dev/null && fail "e911 test found a zone for a stranger"

# The security console, a SIPp that takes one MESSAGE.
sipp -sf "$SIPP_DIR/uas_message.xml" -i 127.0.0.1 -p 5099 -m 1 -nostdin \
	-trace_msg -message_file "$WORK/console.log" -bg > "$WORK/sipp-console.log" 2>&1 || true
CONSOLE_PID=$(grep -o 'PID=\[[0-9]*\]' "$WORK/sipp-console.log" | tr -dc 0-9)
[ -n "$CONSOLE_PID" ] && PIDS+=("$CONSOLE_PID")

# 0. The test call 933 through the SIP E911 provider, location by value.
tgdb route add r933 priority=1 kind=prefix match=933 trunks=e911sip >/dev/null ||
	fail "route add"
wait_for "the route" 10 sh -c "'$TGCTL' -s '$CTL' route explain 933 | grep -q r933"
"$TGCALL" answer --local 127.0.0.2:5070 --count 1 --timeout 30 \
	--save-invite "$WORK/invite933.txt" > "$WORK/e911sip.jsonl" 2>"$WORK/e911sip.log" &
PIDS+=($!)
sleep 0.3
timeout 30 "$TGCALL" call "sip:933@127.0.0.1:$SIP_PORT" --local "127.0.0.1:$PBX_PORT" \
	--from 2125552003 --expect 200 --hold 300 >/dev/null 2>>"$WORK/tgcall.log" ||
	fail "933 test call"
wait_for "the provider's INVITE" 5 test -s "$WORK/invite933.txt"
inv=$WORK/invite933.txt
grep -qx "Priority: emergency" "$inv" || fail "no Priority: emergency: $(cat "$inv")"
grep -qx "P-Asserted-Identity: <sip:+12125550911@127.0.0.1>" "$inv" ||
	fail "P-Asserted-Identity: $(grep -i asserted "$inv")"
expect_eq "P-Asserted-Identity headers" "$(grep -ci '^P-Asserted-Identity:' "$inv")" 1
grep -qx "Geolocation: <cid:caller@127.0.0.1>" "$inv" || fail "Geolocation: $(grep -i geoloc "$inv")"
grep -qx "Geolocation-Routing: yes" "$inv" || fail "no Geolocation-Routing"
grep -qiE "^Content-Type: multipart/mixed; *boundary=" "$inv" || fail "not multipart"
grep -qi "^Content-ID: <caller@127.0.0.1>" "$inv" || fail "no Content-ID"
# The PIDF-LO part: from its XML declaration to the closing </presence>.
sed -n '/^<?xml/,/^<\/presence>/p' "$inv" | tr -d '\r' > "$WORK/pidf.xml"
xmllint --noout --schema "$SRC/tests/schema/pidf-lo.xsd" "$WORK/pidf.xml" || fail "the PIDF-LO is not valid against tests/schema/pidf-lo.xsd"
xp() { xmllint --xpath "string(//*[local-name()='$1'])" "$WORK/pidf.xml"; }
expect_eq "PIDF-LO country" "$(xp country)" US
expect_eq "PIDF-LO house number" "$(xp HNO)" 350
expect_eq "PIDF-LO road" "$(xp RD)" 5th
expect_eq "PIDF-LO floor" "$(xp FLR)" 3
expect_eq "PIDF-LO device" "$(xp deviceID)" "tel:+12125550911"
expect_eq "PIDF-LO method" "$(xp method)" Manual
[ "$(xmllint --xpath "count(//*[local-name()='device']/*[local-name()='geopriv'])" "$WORK/pidf.xml")" = 1 ] ||
	fail "location not in a dm:device"
# The hook: refused once, then delivered, with what the desk needs.
hook_posts() { [ "$(wc -l < "$WORK/hook.jsonl" 2>/dev/null || echo 0)" -ge "$1" ]; }
wait_for "the notification, retried" 10 hook_posts 2
post=$(sed -n 2p "$WORK/hook.jsonl")
echo "$post" | grep -q '^2 /e911?site=hq {"event":"emergency_test"' || fail "hook: $post"
for want in '"caller":"2125552003"' '"callback_number":"12125550911"' \
	'"zone":"hq-3"' '"dialled":"933"' '"floor":"3"' \
	'"address":"ACME HQ, 350 5th Ave, Floor 3, New York, NY 10118, US"'; do
	echo "$post" | grep -qF "$want" || fail "hook body lacks $want: $post"
done
expect_eq "first and second POST" "$(sed -n 1p "$WORK/hook.jsonl" | cut -d' ' -f3-)" \
	"$(echo "$post" | cut -d' ' -f3-)"
grep -q "emergency notification delivered to http://127.0.0.1:8911/e911?site=hq (200)" \
	"$WORK/tollgated.log" || fail "delivery not logged"
# ... and the console its MESSAGE.
console_got() { grep -q "EMERGENCY TEST call from 2125552003 (trunk pbx) to 933; callback 12125550911; zone hq-3; location: ACME HQ, 350 5th Ave, Floor 3" "$WORK/console.log"; }
wait_for "the console's MESSAGE" 10 console_got
grep -q "^MESSAGE sip:desk@127.0.0.1:5099 SIP/2.0" "$WORK/console.log" ||
	fail "console: $(head -5 "$WORK/console.log")"
wait_cdrs 1
expect_eq "CDR of the test call" "$(sql "SELECT emergency || ' ' || elin FROM cdr
	WHERE called = '933'")" "2 12125550911"
# The test call used 0911; the next call takes 0912, idle longer.

call911() { # FROM
	timeout 30 "$TGCALL" call "sip:911@127.0.0.1:$SIP_PORT" \
		--local "127.0.0.1:$PBX_PORT" --from "$1" --expect 200 \
		--hold 300 >/dev/null 2>>"$WORK/tgcall.log" ||
		fail "911 from $1"
}
setup_of() { grep '"event":"call"' "$WORK/pstnsim.jsonl" | sed -n "${1}p"; }

# 1. The ELIN as the calling number on the PRI.
call911 2125552001
wait_for "pstnsim's record" 10 pstnsim_calls_ge 1
rec=$(setup_of 1)
expect_eq "called number on the PRI" "$(json_field "$rec" called)" 911
expect_eq "calling number on the PRI (the ELIN)" "$(json_field "$rec" calling)" 2125550912
expect_eq "its type of number (national)" "$(json_field "$rec" calling_ton)" 2
wait_cdrs 2
expect_eq "CDR of the 911 call" "$(sql "SELECT emergency || ' ' || e911_zone ||
	' ' || elin || ' ' || e911_trunk || ' ' || e911_user FROM cdr
	WHERE called = '911'")" "1 hq-3 12125550912 pbx 2125552001"
grep -q "EMERGENCY call from 12125552001: zone hq-3: calling 12125552000-12125552099, ELIN 12125550912, location: ACME HQ, 350 5th Ave, Floor 3, New York, NY 10118, US" \
	"$WORK/tollgated.log" || fail "no location line in the log"

# 2. The other ELIN for the next caller.
call911 2125552002
wait_for "pstnsim's record" 10 pstnsim_calls_ge 2
expect_eq "second 911's ELIN" "$(json_field "$(setup_of 2)" calling)" 2125550911
wait_cdrs 3
# Wireshark's Q.931 dissector reads the same ELINs in our SETUPs.
if command -v tshark >/dev/null; then
	expect_eq "calling numbers of the 911 SETUPs (tshark)" "$(tshark -r "$WORK/dchan.pcap" \
		-Y 'q931.message_type == 0x05 && q931.called_party_number.digits == "911"' \
		-T fields -e q931.calling_party_number.digits 2>/dev/null | tr '\n' ' ')" \
		"2125550912 2125550911 "
fi
ctl show e911 | grep -Eq '^12125550911 +hq-3 +0 +pbx/2125552002 ' ||
	fail "show e911: $(ctl show e911)"

# 3. The PSAP calls the second ELIN back.
callback() { # NUMBER EXPECTED-USER N
	"$TGCALL" answer --local "127.0.0.1:$PBX_PORT" --count 1 --timeout 30 \
		> "$WORK/pbx$3.jsonl" 2>>"$WORK/pbx.log" &
	PIDS+=($!)
	kill -TERM "$PSTN_PID" 2>/dev/null || true
	wait "$PSTN_PID" 2>/dev/null || true
	start_pstnsim --originate 1 --rate 1 --to "$1" --from 4445550100 \
		--hold 300 --exit-when-done
	wait_for "the callback" 20 sh -c "! kill -0 $PSTN_PID"
	wait_for "the PBX's record" 10 grep -q '"ok"' "$WORK/pbx$3.jsonl"
	expect_eq "callback to $1 reaches" \
		"$(json_field "$(cat "$WORK/pbx$3.jsonl")" to_user)" "$2"
	expect_eq "callback answered" \
		"$(json_field "$(cat "$WORK/pbx$3.jsonl")" answered)" true
}
callback 2125550911 2125552002 1
wait_cdrs 4
expect_eq "CDR of the callback" "$(sql "SELECT callback || ' ' || elin ||
	' ' || out_trunk FROM cdr WHERE called = '2125550911'")" "1 12125550911 pbx"
expect_eq "the callback's link to the 911 call" "$(sql "SELECT c.e911_ref = e.id
	FROM cdr c, cdr e WHERE c.called = '2125550911' AND e.called = '911'
	AND e.calling = '2125552002'")" 1

# 4. After a restart the table is still there.
kill -TERM "$GW_PID"; wait "$GW_PID" 2>/dev/null || true
start_pstnsim
start_gw
grep -q "PSAP callback table: 2 ELIN(s)" "$WORK/tollgated.log" ||
	fail "callback table not restored"
callback 2125550912 2125552001 2

# 5. The window over: the zone's destination.
kill -TERM "$GW_PID"; wait "$GW_PID" 2>/dev/null || true
sql "UPDATE cdr SET end_ms = end_ms - 3600000 WHERE elin IS NOT NULL"
start_pstnsim
start_gw
callback 2125550912 2999 3
last_callback() { [ "$(sql "SELECT callback FROM cdr WHERE called =
	'2125550912' ORDER BY start_ms DESC LIMIT 1")" = 2 ]; }
wait_for "the last callback's CDR" 10 last_callback

# 6. Emergency by signalling: Priority: emergency on an ordinary number
#    (tgcall), and urn:service:sos as the Request-URI (sipsak, a real
#    peer). The PSTN says busy to both, after the SETUP showed an ELIN;
#    an emergency call that no path takes gets 503 (the PBX's turn).
#    Resource-Priority: esnet.* only from a trusted trunk.
kill -TERM "$PSTN_PID" 2>/dev/null || true
wait "$PSTN_PID" 2>/dev/null || true
start_pstnsim --rule 2125559999=busy --rule 911=busy
wait_for "the span" 10 span_up
# This number's route is the PRI, then the SIP provider: busy on the PRI
# is no answer for an emergency call, which goes on to the provider.
tgdb route add r-em priority=2 kind=prefix match=12125559999 \
	trunks=pstn,e911sip >/dev/null || fail "route add r-em"
wait_for "the route" 10 sh -c "'$TGCTL' -s '$CTL' route explain 2125559999 | grep -q r-em"
"$TGCALL" answer --local 127.0.0.2:5070 --count 1 --timeout 30 \
	> "$WORK/e911sip2.jsonl" 2>>"$WORK/e911sip.log" &
PIDS+=($!)
sleep 0.3
timeout 30 "$TGCALL" call "sip:2125559999@127.0.0.1:$SIP_PORT" \
	--local "127.0.0.1:$PBX_PORT" --from 2125552005 --expect 200 \
	--hold 200 --header "Priority: emergency" >/dev/null \
	2>>"$WORK/tgcall.log" || fail "the Priority: emergency call"
wait_for "the provider's record" 10 grep -q '"answered":true' "$WORK/e911sip2.jsonl"
em_attempts() { [ "$(sql "SELECT group_concat(a.trunk || ':' || a.outcome, ' ')
	FROM cdr_attempt a JOIN cdr c ON a.cdr_id = c.id WHERE c.calling =
	'2125552005'")" = "pstn:failover e911sip:answered" ]; }
wait_for "the emergency call's attempts" 10 em_attempts
wait_for "pstnsim's record" 10 pstnsim_calls_ge 1
rec=$(setup_of 1)
expect_eq "Priority: emergency call's number" "$(json_field "$rec" called)" 2125559999
json_field "$rec" calling | grep -Eq '^212555091[12]$' ||
	fail "no ELIN on a Priority: emergency call: $rec"
sdp="v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
len=$(printf "$sdp" | wc -c)
printf "INVITE urn:service:sos SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:$CLI_PORT;branch=z9hG4bK-sos-1;rport\r\nFrom: <sip:2125552006@127.0.0.1>;tag=sos1\r\nTo: <urn:service:sos>\r\nCall-ID: sos-1@127.0.0.1\r\nCSeq: 1 INVITE\r\nContact: <sip:2125552006@127.0.0.1:$CLI_PORT>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: $len\r\n\r\n$sdp" \
	> "$WORK/sos.txt"
timeout 15 sipsak -vv -f "$WORK/sos.txt" -s "sip:127.0.0.1:$SIP_PORT" -l "$CLI_PORT" \
	> "$WORK/sipsak.log" 2>&1 || true
# The only path said busy: 503, so the PBX can try its own way out.
grep -q "SIP/2.0 503" "$WORK/sipsak.log" || fail "sos call: $(cat "$WORK/sipsak.log")"
wait_for "pstnsim's record of the sos call" 10 pstnsim_calls_ge 2
rec=$(setup_of 2)
expect_eq "urn:service:sos dialled on the PRI as" "$(json_field "$rec" called)" 911
json_field "$rec" calling | grep -Eq '^212555091[12]$' ||
	fail "no ELIN on the urn:service:sos call: $rec"

# 7. Resource-Priority: esnet.* counts only from a trusted trunk.
rp_call() { # FROM EXPECT
	timeout 30 "$TGCALL" call "sip:2125559999@127.0.0.1:$SIP_PORT" \
		--local "127.0.0.1:$PBX_PORT" --from "$1" --expect "$2" \
		--header "Resource-Priority: esnet.0" >/dev/null \
		2>>"$WORK/tgcall.log" || fail "Resource-Priority call from $1"
}
rp_call 2125552007 486
wait_for "pstnsim's record" 10 pstnsim_calls_ge 3
expect_eq "untrusted esnet: the caller's own number" \
	"$(json_field "$(setup_of 3)" calling)" 2125552007
sed -i '/^\[trunk pbx\]/a trusted = yes' "$WORK/tollgate.conf"
reloads() { grep -c "reloaded:" "$WORK/tollgated.log" || true; }
n=$(reloads)
ctl reload >/dev/null || fail "reload"
# (the sos call ended a moment ago: the reload may wait out the hold-off)
reloaded_since() { [ "$(reloads)" -gt "$1" ]; }
wait_for "the reload" 10 reloaded_since "$n"
rp_call 2125552008 503
wait_for "pstnsim's record" 10 pstnsim_calls_ge 4
json_field "$(setup_of 4)" calling | grep -Eq '^212555091[12]$' ||
	fail "trusted esnet: no ELIN: $(setup_of 4)"

# 8. A reload waits while an emergency call is up, and the hold-off after.
timeout 30 "$TGCALL" call "sip:2125558888@127.0.0.1:$SIP_PORT" \
	--local "127.0.0.1:$PBX_PORT" --from 2125552010 --expect 200 \
	--hold 2500 --header "Priority: emergency" >/dev/null \
	2>>"$WORK/tgcall.log" &
CALLER=$!
call_up() { ctl show calls | grep -q 2125558888; }
wait_for "the emergency call" 10 call_up
n=$(reloads)
out=$(ctl reload) || fail "reload during a 911 call: $out"
echo "$out" | grep -q "reload deferred: 1 emergency call(s) up" ||
	fail "reload not deferred: $out"
sleep 1
expect_eq "reloads while the call is up" "$(reloads)" "$n"
wait "$CALLER" || fail "the emergency call"
wait_for "the deferred reload" 10 reloaded_since "$n"
end_line=$(grep -n "2125558888 via pstn: ANSWERED" "$WORK/tollgated.log" | cut -d: -f1)
run_line=$(grep -n "running the deferred reload" "$WORK/tollgated.log" | tail -1 | cut -d: -f1)
[ -n "$end_line" ] && [ -n "$run_line" ] && [ "$run_line" -gt "$end_line" ] ||
	fail "the deferred reload ran before the call ended"

# 9. A PIDF-LO that comes with the call (Teams puts the ELIN in NAM) wins
#    with location = prefer_incoming, even for a caller in no zone.
pidf='<?xml version="1.0"?><presence xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:x@teams"><tuple id="t"><status><gp:geopriv xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10"><gp:location-info><ca:civicAddress xmlns:ca="urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr"><ca:country>US</ca:country><ca:A1>NY</ca:A1><ca:A3>New York</ca:A3><ca:RD>5th</ca:RD><ca:HNO>350</ca:HNO><ca:NAM>+12125550912</ca:NAM></ca:civicAddress></gp:location-info></gp:geopriv></status></tuple></presence>'
body="--b1\r\nContent-Type: application/sdp\r\n\r\n${sdp}--b1\r\nContent-Type: application/pidf+xml\r\nContent-ID: <t@teams>\r\n\r\n$pidf\r\n--b1--\r\n"
len=$(printf -- "$body" | wc -c)
printf "INVITE sip:911@127.0.0.1:$SIP_PORT SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:$CLI_PORT;branch=z9hG4bK-teams-1;rport\r\nFrom: <sip:19995550000@127.0.0.1>;tag=t1\r\nTo: <sip:911@127.0.0.1>\r\nCall-ID: teams-1@127.0.0.1\r\nCSeq: 1 INVITE\r\nContact: <sip:19995550000@127.0.0.1:$CLI_PORT>\r\nMax-Forwards: 70\r\nPriority: emergency\r\nGeolocation: <cid:t@teams>\r\nContent-Type: multipart/mixed;boundary=b1\r\nContent-Length: $len\r\n\r\n$body" \
	> "$WORK/teams.txt"
timeout 15 sipsak -f "$WORK/teams.txt" -s "sip:127.0.0.1:$SIP_PORT" -l "$CLI_PORT" \
	> "$WORK/sipsak2.log" 2>&1 || true
wait_for "pstnsim's record of the Teams call" 10 pstnsim_calls_ge 5
rec=$(grep '"event":"call"' "$WORK/pstnsim.jsonl" | grep '"called":"911"' | tail -1)
expect_eq "the ELIN from the caller's own PIDF-LO" "$(json_field "$rec" calling)" 2125550912
grep -q "ELIN 12125550912 from the call's own PIDF-LO" "$WORK/tollgated.log" ||
	fail "incoming location not logged"

# 10. A provider that takes the location by reference: the zone's
#     location id (a URI) in Geolocation, no body but the SDP.
tgdb e911 zone add hq-3 country=US a1=NY a3="New York" hno=350 rd=5th \
	sts=Ave flr=3 nam="ACME HQ" pc=10118 \
	location_id=https://lis.example.net/loc/8f2c \
	elins=12125550911,12125550912 callback_trunk=pbx callback_user=2999 \
	>/dev/null || fail "zone update"
tgdb route add r933ref priority=0 kind=prefix match=933 calling=12125552004 \
	trunks=e911ref >/dev/null || fail "route add r933ref"
wait_for "the route" 10 sh -c "'$TGCTL' -s '$CTL' route explain 933 --calling 2125552004 | grep -q r933ref"
"$TGCALL" answer --local 127.0.0.3:5070 --count 1 --timeout 30 \
	--save-invite "$WORK/invite-ref.txt" > "$WORK/e911ref.jsonl" 2>"$WORK/e911ref.log" &
PIDS+=($!)
sleep 0.3
timeout 30 "$TGCALL" call "sip:933@127.0.0.1:$SIP_PORT" --local "127.0.0.1:$PBX_PORT" \
	--from 2125552004 --expect 200 --hold 200 >/dev/null 2>>"$WORK/tgcall.log" ||
	fail "933 by reference"
wait_for "the provider's INVITE" 5 test -s "$WORK/invite-ref.txt"
inv=$WORK/invite-ref.txt
grep -qx "Geolocation: <https://lis.example.net/loc/8f2c>" "$inv" ||
	fail "Geolocation by reference: $(grep -i geoloc "$inv")"
grep -qx "Geolocation-Routing: yes" "$inv" || fail "no Geolocation-Routing"
grep -qix "Content-Type: application/sdp" "$inv" || fail "not a plain SDP body"
grep -q "pidf" "$inv" && fail "a PIDF-LO went by reference too"
log "ok: e911"
