#!/usr/bin/env bash
# tests/integration/e911_robust.sh  911 goes out when things around it
# are wrong.
#
#  1. An ELIN already in another zone is refused by `e911 zone add`.
#  2. Zones that break the rules anyway (written straight into the
#     database): a reload still applies the routes and keeps the zones in
#     force; a restart still starts, and 911 goes out (own caller-ID).
#  3. The E911 SIP trunk marked down by unanswered calls is tried last for
#     911, not skipped: PRI busy -> the provider answers.
#  4. A location reference that cannot be written in a header: the
#     INVITE still goes, without Geolocation.
#     A Geolocation reference that comes with the call reaches the
#     provider when we have no location of our own.
#     An announcement and a failure on the PRI: 911 fails over (it heard
#     180, not the announcement), an ordinary call stops there.
#  5. 911 dialled as "911;phone-context=+1" (RFC 3966, sipsak) while the
#     PBX trunk is at its inbound limit and the PRI trunk at max_calls: it
#     goes through.
. "$(dirname "$0")/lib.sh"

EXTRA="
[trunk e911sip]
type = sip
peer = 127.0.0.2:5070
accept_from = 127.0.0.2
e911_location = reference
down_after = 1
down_time = 300

[e911]
holdoff = 1
# A web hook whose name does not resolve: 911 must not notice.
notify = http://no-such-host.invalid:8911/e911
"
write_conf
nanp_plans
sed -i '/^\[trunk pbx\]/a max_inbound = 1' "$WORK/tollgate.conf"
sed -i '/^\[trunk pstn\]/a max_calls = 1' "$WORK/tollgate.conf"
sed -i '/^\[routing\]/a attempt_trying_timeout = 500' "$WORK/tollgate.conf"
start_pstnsim --rule 2125559999=busy --rule 2125558888=announce:34
start_gw
tgdb() { "$TGCTL" -s "$CTL" --db "$DB" "$@"; }

# 1. One ELIN, one zone.
tgdb e911 zone add a country=US a1=NY a3="New York" hno=1 rd=Main \
	elins=12125550911 >/dev/null || fail "zone add a"
out=$(tgdb e911 zone add b country=US a1=NY a3="New York" hno=2 rd=Main \
	elins=12125550922,12125550911 2>&1) && fail "a second zone took ELIN 12125550911"
echo "$out" | grep -q "ELIN 12125550911 is already zone 'a''s" || fail "refusal: $out"
# The same number written as the daemon would also read it.
out=$(tgdb e911 zone add b country=US a1=NY a3="New York" hno=2 rd=Main \
	elins="$(printf '12125550933\t+12125550911')" 2>&1) &&
	fail "a second zone took +12125550911: $out"
echo "$out" | grep -q "ELIN +12125550911 is already zone 'a''s" || fail "refusal: $out"
tgdb e911 member add a calling 12125552000-12125552099 >/dev/null || fail "member add"
wait_for "zone a in force" 10 sh -c "'$TGCTL' -s '$CTL' e911 test 12125552001 | grep -q 'zone a:'"

# 2. A duplicate ELIN behind tollgatectl's back.
sql "INSERT INTO e911_zone (name, country, a1, a3, hno, rd, elins) VALUES
	('b', 'US', 'NY', 'New York', '2', 'Main', '12125550911')" ||
	fail "sqlite insert"
tgdb route add r1 priority=5 kind=prefix match=1212555 trunks=pstn \
	>/dev/null 2>&1 || true
out=$(ctl reload) || fail "reload with bad zones: $out"
echo "$out" | grep -q "e911 zones not reloaded: .*12125550911" || fail "reload: $out"
ctl route explain 2125551234 | grep -q r1 || fail "the route did not come in with that reload"
ctl e911 test 12125552001 | grep -q "zone a:" || fail "the zones in force were dropped"
log "ok: bad zones do not stop a reload, and the zones in force stay"

kill -TERM "$GW_PID"; wait "$GW_PID" 2>/dev/null || true
start_gw
grep -q "e911 zones not loaded: " "$WORK/tollgated.log" || fail "no error about the zones"
timeout 20 "$TGCALL" call "sip:911@127.0.0.1:$SIP_PORT" --local "127.0.0.1:$PBX_PORT" \
	--from 2125552001 --expect 200 --hold 200 > "$WORK/e1.json" \
	2>>"$WORK/tgcall.log" || fail "911 after a start with bad zones: $(cat "$WORK/e1.json")"
wait_for "the PSTN's record" 10 pstnsim_calls_ge 1
grep '"called":"911"' "$WORK/pstnsim.jsonl" | grep -q '"calling":"2125552001"' ||
	fail "911 did not go out with the caller's own number: $(grep 911 "$WORK/pstnsim.jsonl")"
sql "DELETE FROM e911_zone WHERE name = 'b'"
ctl reload >/dev/null || fail "reload"
wait_for "the failed notification in the log" 15 grep -q "emergency notification to http://no-such-host.invalid:8911/e911: no answer" "$WORK/tollgated.log"
log "ok: a start with bad zones still places 911, and a web hook that cannot be found does not hold it"

# 3. A provider trunk marked down is tried last for 911.
tgdb route add r-em priority=1 kind=prefix match=12125559999 \
	trunks=e911sip,pstn >/dev/null || fail "route add r-em"
wait_for "the route" 10 sh -c "'$TGCTL' -s '$CTL' route explain 2125559999 | grep -q r-em"
# Nobody at the provider: one unanswered call marks it down.
timeout 20 "$TGCALL" call "sip:2125559999@127.0.0.1:$SIP_PORT" --local 127.0.0.1 \
	--from 2125552005 > "$WORK/c3.json" 2>>"$WORK/tgcall.log" || true
ctl show trunks | grep -E '^e911sip ' | grep -q down || fail "the trunk is not down: $(ctl show trunks)"
# (--need: the unanswered call's INVITE may still be retransmitted.)
"$TGCALL" answer --local 127.0.0.2:5070 --count 1 --timeout 30 \
	--need "Priority: emergency" --save-invite "$WORK/inv.txt" > "$WORK/provider.jsonl" 2>"$WORK/provider.log" &
PIDS+=($!)
sleep 0.3
# 4. ... and the zone's location reference cannot go in a header.
sql "UPDATE e911_zone SET location_id = 'https://lis.example/a b' WHERE name = 'a'"
ctl reload >/dev/null || fail "reload"
timeout 30 "$TGCALL" call "sip:2125559999@127.0.0.1:$SIP_PORT" \
	--local "127.0.0.1:$PBX_PORT" --from 2125552006 --expect 200 \
	--hold 200 --header "Priority: emergency" > "$WORK/e2.json" \
	2>>"$WORK/tgcall.log" || fail "911 with the provider marked down: $(cat "$WORK/e2.json")"
em_attempts() { [ "$(sql "SELECT group_concat(a.trunk || ':' || a.outcome, ' ')
	FROM cdr_attempt a JOIN cdr c ON a.cdr_id = c.id WHERE c.calling =
	'2125552006'")" = "pstn:failover e911sip:answered" ]; }
wait_for "the emergency call's attempts (PRI first, the down trunk last)" 10 em_attempts
grep -q "trunk e911sip is marked down: tried last" "$WORK/tollgated.log" || fail "no log line"
wait_for "the provider's INVITE" 5 test -s "$WORK/inv.txt"
grep -qx "Priority: emergency" "$WORK/inv.txt" || fail "INVITE: $(cat "$WORK/inv.txt")"
grep -qi "^Geolocation:" "$WORK/inv.txt" && fail "a broken Geolocation header went out"
grep -q "cannot go in a Geolocation header" "$WORK/tollgated.log" || fail "no log line about the reference"
log "ok: a down provider is tried last for 911, and a bad reference is left out"

# 4b. A location by reference that comes with the call (a PBX with its own
#     LIS) reaches the provider when we have none of our own.
"$TGCALL" answer --local 127.0.0.2:5070 --count 1 --timeout 30 \
	--need "Priority: emergency" --save-invite "$WORK/inv2.txt" > "$WORK/provider2.jsonl" 2>>"$WORK/provider.log" &
PIDS+=($!)
sleep 0.3
timeout 30 "$TGCALL" call "sip:2125559999@127.0.0.1:$SIP_PORT" \
	--local "127.0.0.1:$PBX_PORT" --from 2125553007 --expect 200 \
	--hold 200 --header "Priority: emergency" \
	--header "Geolocation: <cid:x@pbx>, <https://lis.pbx.example/loc/77>" \
	> "$WORK/e3.json" 2>>"$WORK/tgcall.log" || fail "911 with a reference: $(cat "$WORK/e3.json")"
wait_for "the provider's INVITE" 10 test -s "$WORK/inv2.txt"
grep -qx "Geolocation: <https://lis.pbx.example/loc/77>" "$WORK/inv2.txt" ||
	fail "the reference did not reach the provider: $(grep -i '^geoloc' "$WORK/inv2.txt")"
grep -qx "Geolocation-Routing: yes" "$WORK/inv2.txt" || fail "no Geolocation-Routing"
grep -q "location by reference: https://lis.pbx.example/loc/77" "$WORK/tollgated.log" ||
	fail "the reference is not in the log"
log "ok: an incoming location by reference is passed on"

# 4c. An announcement then a failure on the PRI: an ordinary call heard
#     it (183) and ends there; a 911 call hears ringing (180) and goes on
#     to the provider.
tgdb route add r-ann priority=1 kind=prefix match=12125558888 \
	trunks=pstn,e911sip >/dev/null || fail "route add r-ann"
wait_for "the route" 10 sh -c "'$TGCTL' -s '$CTL' route explain 2125558888 | grep -q r-ann"
timeout 30 "$TGCALL" call "sip:2125558888@127.0.0.1:$SIP_PORT" --local 127.0.0.1 \
	--from 2125553008 --expect 503 > "$WORK/c4.json" 2>>"$WORK/tgcall.log" ||
	fail "an ordinary call after an announcement: $(cat "$WORK/c4.json")"
grep -q '"provisional":\[100,183\]' "$WORK/c4.json" || fail "no early media: $(cat "$WORK/c4.json")"
"$TGCALL" answer --local 127.0.0.2:5070 --count 1 --timeout 30 \
	--need "Priority: emergency" > "$WORK/provider3.jsonl" 2>>"$WORK/provider.log" &
PIDS+=($!)
sleep 0.3
timeout 30 "$TGCALL" call "sip:2125558888@127.0.0.1:$SIP_PORT" --local 127.0.0.1 \
	--from 2125553009 --expect 200 --hold 200 --header "Priority: emergency" \
	> "$WORK/e4.json" 2>>"$WORK/tgcall.log" ||
	fail "911 after an announcement on the PRI: $(cat "$WORK/e4.json")"
grep -q '"provisional":\[100,180\]' "$WORK/e4.json" || fail "911 provisional: $(cat "$WORK/e4.json")"
ann_attempts() { [ "$(sql "SELECT group_concat(a.trunk || ':' || a.outcome, ' ')
	FROM cdr_attempt a JOIN cdr c ON a.cdr_id = c.id WHERE c.calling =
	'2125553009'")" = "pstn:failover e911sip:answered" ]; }
wait_for "the 911 call's attempts" 10 ann_attempts
log "ok: early media does not cost an emergency call its failover"

# 5. 911 in its RFC 3966 form, with the PBX trunk at its limit.
timeout 40 "$TGCALL" call "sip:2125551234@127.0.0.1:$SIP_PORT" --local "127.0.0.1:$PBX_PORT" \
	--from 2125552002 --expect 200 --hold 8000 > "$WORK/c1.json" \
	2>>"$WORK/tgcall.log" &
PIDS+=($!)
wait_for "the ordinary call" 10 sh -c "'$TGCTL' -s '$CTL' --json show calls | grep -q '\"answered\":true'"
ctl show trunks | grep -E '^pstn ' | grep -q full || fail "the PRI trunk is not full: $(ctl show trunks)"
timeout 20 "$TGCALL" call "sip:2125551235@127.0.0.1:$SIP_PORT" --local 127.0.0.1 \
	--from 2125552003 --expect 503 > "$WORK/c2.json" 2>>"$WORK/tgcall.log" ||
	fail "a second ordinary call passed the inbound limit: $(cat "$WORK/c2.json")"
sdp="v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
len=$(printf "$sdp" | wc -c)
printf "INVITE sip:911;phone-context=+1@127.0.0.1:$SIP_PORT;user=phone SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:$CLI_PORT;branch=z9hG4bK-pc-1;rport\r\nFrom: <sip:2125552004@127.0.0.1>;tag=pc1\r\nTo: <sip:911;phone-context=+1@127.0.0.1;user=phone>\r\nCall-ID: pc-1@127.0.0.1\r\nCSeq: 1 INVITE\r\nContact: <sip:2125552004@127.0.0.1:$CLI_PORT>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: $len\r\n\r\n$sdp" \
	> "$WORK/pc.txt"
timeout 15 sipsak -vv -f "$WORK/pc.txt" -s "sip:127.0.0.1:$SIP_PORT" -l "$CLI_PORT" \
	> "$WORK/sipsak.log" 2>&1 || true
grep -q "SIP/2.0 200" "$WORK/sipsak.log" ||
	fail "911;phone-context at the inbound limit: $(grep '^SIP/2.0' "$WORK/sipsak.log" | sort -u)"
grep -q "EMERGENCY call 2125552004 -> 911;phone-context=+1 (911)" "$WORK/tollgated.log" ||
	fail "not taken as an emergency call"
log "ok: 911;phone-context=+1 passes the inbound limit and a full trunk"

