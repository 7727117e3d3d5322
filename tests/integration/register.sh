#!/usr/bin/env bash
# tests/integration/register.sh  Outbound registration (RFC 3261 10.2).
# Three SIPp registrars, one per trunk:
#  prov     423 Min-Expires: 5 for the Expires: 2 asked, then 401; the
#           digest answer is checked and 4 s granted; the refresh must come
#           within those 4 s (twice); at shut-down an Expires: 0 REGISTER.
#  prov503  503 Retry-After: 2, then 503 without: the gateway waits the 2 s,
#           then backs off: the second failure in a row waits twice
#           register_retry_min (1 s), less up to a quarter (jitter), then
#           registers through the challenge.
#  provbad  rejects the password (a second 401): the trunk is "rejected"
#           with an alarm and nothing more is sent; `tollgatectl trunk
#           register` tries again by hand (401, then 403: rejected again);
#           a reload with the right password registers it at once.
# A call to the registered Contact (Request-URI user 2125550000, To the
# number) is recognised as trunk prov's and routed by the To number.
# tshark decodes every REGISTER cleanly (when installed).
. "$(dirname "$0")/lib.sh"

P1=$(free_udp_port); P2=$(free_udp_port); P3=$(free_udp_port)
EXTRA=$(cat <<CONF

[trunk prov]
type = sip
peer = 127.0.0.1:$P1
register = yes
register_expires = 2
register_user = 2125550000
auth_user = reguser
auth_password = regpass

[trunk prov503]
type = sip
peer = 127.0.0.1:$P2
register = yes
register_expires = 60
auth_user = reguser
auth_password = regpass
register_retry_min = 1
register_retry_max = 8

[trunk provbad]
type = sip
peer = 127.0.0.1:$P3
register = yes
auth_user = reguser
auth_password = wrong
register_retry_min = 1
CONF
)
write_conf

TSHARK=
if command -v tshark >/dev/null; then
	tshark -q -i lo -f "udp" -w "$WORK/cap.pcapng" > "$WORK/tshark.log" 2>&1 &
	TSHARK=$!
	PIDS+=("$TSHARK")
	wait_for "tshark to capture" 10 grep -q "Capturing on" "$WORK/tshark.log"
	sleep 1
fi

registrar() { # NAME SCENARIO PORT
	sipp -sf "$SIPP_DIR/$2" -i 127.0.0.1 -p "$3" -m 1 -nostdin \
		-timeout 60 -trace_msg -message_file "$WORK/sipp_$1.msg.log" \
		-trace_err -error_file "$WORK/sipp_$1.err.log" \
		> "$WORK/sipp_$1.log" 2>&1 &
	eval "SIPP_$1=$!"
	PIDS+=("$!")
}
registrar prov reg_uas_refresh.xml "$P1"
registrar p503 reg_uas_503.xml "$P2"
registrar bad reg_uas_wrong.xml "$P3"
sleep 0.5
start_pstnsim --answer-after 50
start_gw

reg() { # TRUNK FIELD
	ctl --json show registrations | tr '{' '\n' | grep "\"trunk\":\"$1\"" |
		head -1 | sed -n "s/.*\"$2\":\(\"[^\"]*\"\|[^,}]*\).*/\1/p" |
		tr -d '"'
}
reg_is() { [ "$(reg "$1" "$2")" = "$3" ]; }

# prov503: Retry-After honoured, then back-off, then registered.
wait_for "prov503 registered" 15 reg_is prov503 state registered
wait "$SIPP_p503" || fail "the 503 registrar's scenario failed"
ticks=$(grep '^X-Tick:' "$WORK/sipp_p503.msg.log" | tr -dc '0-9\n')
t1=$(echo "$ticks" | sed -n 1p); t2=$(echo "$ticks" | sed -n 2p)
t3=$(echo "$ticks" | sed -n 3p)
gap1=$((t2 - t1)); gap2=$((t3 - t2))
log "gaps: after Retry-After: 2 ${gap1} ms, after a plain 503 ${gap2} ms"
[ "$gap1" -ge 1950 ] && [ "$gap1" -le 3000 ] ||
	fail "the REGISTER after Retry-After: 2 came after $gap1 ms"
# The second failure in a row: 2 x register_retry_min, less up to 25 %.
[ "$gap2" -ge 1450 ] && [ "$gap2" -le 2600 ] ||
	fail "the REGISTER after a second 503 came after $gap2 ms"
expect_eq "prov503 granted" "$(reg prov503 granted)" 60
expect_eq "prov503 last code" "$(reg prov503 last_code)" 200
log "ok: 503 Retry-After: 2 waited 2 s, a second 503 backed off ~2 s, then registered"

# provbad: rejected after the second 401, and left alone.
wait_for "provbad rejected" 10 reg_is provbad state rejected
grep -q "ALARM trunk provbad: registration credentials rejected (401)" \
	"$WORK/tollgated.log" || fail "no alarm logged for provbad"
sleep 3
expect_eq "provbad attempts while rejected" "$(reg provbad sent)" 1
expect_eq "provbad state after 3 s" "$(reg provbad state)" rejected
expect_eq "provbad alarms" "$(reg provbad alarms)" 1
st=$(ctl --json status)
expect_eq "status: registrations rejected" "$(json_field "$st" registrations_rejected)" 1
ctl status | grep -q "^Register: 3 trunks, .*ALARM: 1 rejected" ||
	fail "status does not show the rejected registration"
ctl trunk register provbad | grep -q "registering" ||
	fail "trunk register provbad"
wait_for "provbad's second try" 10 reg_is provbad last_code 403
expect_eq "provbad state after 403" "$(reg provbad state)" rejected
expect_eq "provbad alarms" "$(reg provbad alarms)" 2
wait "$SIPP_bad" || fail "the wrong-password registrar's scenario failed"
expect_eq "REGISTERs the wrong-password registrar saw" \
	"$(grep -c '^REGISTER sip:' "$WORK/sipp_bad.msg.log")" 4
log "ok: wrong credentials: rejected with an alarm, no retries, one retry by hand"

# The password fixed by a reload: registered at once.
registrar bad2 reg_uas_ok.xml "$P3"
sleep 0.3
sed -i 's/^auth_password = wrong/auth_password = regpass/' "$WORK/tollgate.conf"
kill -HUP "$GW_PID"
wait_for "provbad registered after the reload" 10 reg_is provbad state registered
grep -q "trunk provbad: registration settings changed; registering again" \
	"$WORK/tollgated.log" || fail "no log of the changed settings"
wait "$SIPP_bad2" || fail "the registrar after the reload failed"
log "ok: a reload with the right password registered the rejected trunk"

# prov: 423 -> Min-Expires; refreshed twice within the 4 s granted.
wait_for "prov's refreshes" 15 reg_is prov granted 30
expect_eq "prov state" "$(reg prov state)" registered
expect_eq "prov registered" "$(reg prov registered)" 3
grep -q "trunk prov: 423, registering again for 5 s (Min-Expires)" \
	"$WORK/tollgated.log" || fail "no log of the 423"
text=$(ctl show registrations)
echo "$text" | grep -Eq '^prov +registered +127\.0\.0\.1:'"$P1"' ' ||
	fail "show registrations: $text"
log "ok: 423 honoured, refreshed before expiry, 30 s granted at last"

# The provider calls the Contact we registered (user 2125550000): the call
# is trunk prov's, and the number called the one in To.
P4=$(free_udp_port)
timeout 20 sipp -sf "$SIPP_DIR/uac_provider.xml" "127.0.0.1:$SIP_PORT" \
	-i 127.0.0.1 -p "$P4" -key contact_user 2125550000 -s 2125551234 \
	-m 1 -d 200 -nostdin -timeout 15 -timeout_error \
	> "$WORK/sipp_provider.log" 2>&1 || fail "the provider's call failed"
wait_cdrs 1
expect_eq "provider call CDR" "$(sql "SELECT disposition || ',' || in_trunk ||
	',' || called FROM cdr ORDER BY rowid DESC LIMIT 1")" \
	"ANSWERED,prov,2125551234"
log "ok: a call to our registered Contact is trunk prov's, to the number in To"

# A clean stop unregisters (Expires: 0), and in bounded time.
t0=$(date +%s%N)
kill -TERM "$GW_PID"
wait "$GW_PID" || fail "tollgated exited with an error"
t1=$(date +%s%N)
wait "$SIPP_prov" || fail "the refresh registrar's scenario failed (no un-REGISTER?)"
log "ok: the un-REGISTER came at shut-down ($(((t1 - t0) / 1000000)) ms to stop)"

if [ -n "$TSHARK" ]; then
	sleep 0.5
	kill -INT "$TSHARK"
	wait "$TSHARK" || true
	decode() { tshark -r "$WORK/cap.pcapng" -d "udp.port==$SIP_PORT,sip" "$@" 2>/dev/null; }
	expect_eq "malformed or erroneous packets" \
		"$(decode -Y "_ws.malformed || _ws.expert.severity == error" | wc -l)" 0
	n=$(decode -Y "sip.Method == REGISTER && udp.srcport == $SIP_PORT && sip.Expires && sip.Contact && sip.Call-ID" | wc -l)
	[ "$n" -ge 12 ] || fail "only $n REGISTERs from tollgated decoded"
	[ "$(decode -Y "sip.Method == REGISTER && sip.Authorization" | wc -l)" -ge 5 ] ||
		fail "no REGISTER with Authorization decoded"
	log "ok: tshark decodes our $n REGISTERs cleanly"
fi
