#!/usr/bin/env bash
# tests/integration/enum.sh  ENUM (RFC 6116) as a route source, end to end.
#
# dnsmasq is the DNS server of an ENUM domain (NAPTR records under
# e164.arpa); tollgated's route for 1212555 40xx looks the number up there
# first and falls back to its carrier trunk (tgcall on 127.0.0.2):
#  - a number with an E2U+sip record reaches the URI's host (tgcall on
#    127.0.0.4) with the URI's user; the CDR attempt keeps the URI;
#  - a number without records goes to the carrier at once;
#  - a record whose host does not answer (nothing listens: ICMP ends the
#    INVITE at once; else the 1 s attempt timer would), then the carrier
#    answers, and the carrier is not marked down for it;
#  - only non-SIP services (E2U+mailto): the carrier;
#  - of several records the lowest order wins, with a back-reference in
#    the regexp;
#  - no DNS server (a reload points [dns] at a dead port): the carrier;
#  - `route explain` names the NAPTR owner;
#  - a URI with ;transport=tcp: the INVITE goes over TCP (SIPp over TCP
#    on 127.0.0.5 answers), and one whose transport we do not serve
#    (;transport=sctp) is skipped for the carrier.
. "$(dirname "$0")/lib.sh"

[ -n "${TG_IN_NETNS:-}" ] || { log "SKIP: needs a network namespace"; exit 77; }
command -v dnsmasq >/dev/null || { log "SKIP: dnsmasq not installed"; exit 77; }

CARRIER_PORT=5070
DNS_PORT=5353
EXTRA="
[trunk carrier]
type = sip
peer = 127.0.0.2:$CARRIER_PORT
accept_from = 127.0.0.2
down_after = 1
down_time = 60

[dns]
servers = 127.0.0.1:$DNS_PORT
timeout = 300
tries = 1
"
write_conf
sed -i "/^\[sip\]/a tcp = yes" "$WORK/tollgate.conf"
nanp_plans

# The owner names of +1 212 555 40xx, reversed under e164.arpa.
owner() { echo "$1" | rev | sed 's/./&./g; s/$/e164.arpa/'; }
dnsmasq -k --conf-file=/dev/null --no-resolv --no-hosts --user=root \
	--listen-address=127.0.0.1 --bind-interfaces --port=$DNS_PORT \
	--local=/e164.arpa/ --log-queries --log-facility="$WORK/dnsmasq.log" \
	--naptr-record="$(owner 12125554001),10,10,u,E2U+sip,!^.*\$!sip:+12125554001@127.0.0.4:$CARRIER_PORT!" \
	--naptr-record="$(owner 12125554003),10,10,u,E2U+sip,!^.*\$!sip:+12125554003@127.0.0.9:$CARRIER_PORT!" \
	--naptr-record="$(owner 12125554004),10,10,u,E2U+mailto,!^.*\$!mailto:info@example.com!" \
	--naptr-record="$(owner 12125554005),20,10,u,E2U+sip,!^.*\$!sip:wrong@127.0.0.9:$CARRIER_PORT!" \
	--naptr-record="$(owner 12125554005),10,10,u,E2U+sip,!^\\+(.*)\$!sip:\\1@127.0.0.4:$CARRIER_PORT!" \
	--naptr-record="$(owner 12125554006),10,10,u,E2U+sip,!^.*\$!sip:+12125554006@127.0.0.5:$CARRIER_PORT;transport=tcp!" \
	--naptr-record="$(owner 12125554007),10,10,u,E2U+sip,!^.*\$!sip:+12125554007@127.0.0.5:$CARRIER_PORT;transport=sctp!" \
	2> "$WORK/dnsmasq.err" &
PIDS+=($!)
wait_for "dnsmasq" 5 grep -q "started" "$WORK/dnsmasq.log"

start_pstnsim
start_gw
tgctl() { "$TGCTL" -s "$CTL" --db "$DB" "$@"; }
tgctl route add r-enum priority=10 kind=prefix match=1212555400 \
	trunks=carrier enum=e164.arpa t_trying=1000 >/dev/null ||
	fail "route add r-enum"
wait_for "the route in the snapshot" 10 sh -c \
	"'$TGCTL' -s '$CTL' route explain 2125554001 | grep -q r-enum"
out=$(ctl route explain 2125554001)
echo "$out" | grep -q "enum: NAPTR 1.0.0.4.5.5.5.2.1.2.1.e164.arpa" ||
	fail "route explain: $out"

"$TGCALL" answer --local "127.0.0.2:$CARRIER_PORT" --count 20 --timeout 90 \
	> "$WORK/carrier.jsonl" 2>"$WORK/carrier.log" &
PIDS+=($!)
"$TGCALL" answer --local "127.0.0.4:$CARRIER_PORT" --count 20 --timeout 90 \
	> "$WORK/enumdst.jsonl" 2>"$WORK/enumdst.log" &
PIDS+=($!)
sleep 0.3

call() { # NUMBER EXPECT [tgcall options...]
	local n=$1 e=$2
	shift 2
	timeout 30 "$TGCALL" call "sip:$n@127.0.0.1:$SIP_PORT" \
		--local "127.0.0.1:$PBX_PORT" --from 2125550000 --expect "$e" \
		--hold 200 "$@" 2>>"$WORK/tgcall.log"
}
attempts() { # CALLED: "trunk:outcome[:target] ..." of its newest CDR
	sql "SELECT group_concat(trunk || ':' || outcome ||
		coalesce(':' || target, ''), ' ') FROM
		(SELECT trunk, outcome, target FROM cdr_attempt WHERE cdr_id =
		 (SELECT id FROM cdr WHERE called = '$1' ORDER BY start_ms DESC
		  LIMIT 1) ORDER BY n)"
}
ms() { date +%s%3N; }
count() { grep -c '"answered":true' "$1" 2>/dev/null || true; }

# 1. A SIP URI in ENUM: the call goes there, not to the carrier.
call 2125554001 200 >/dev/null || fail "ENUM call"
wait_cdrs 1
expect_eq "attempts via ENUM" "$(attempts 2125554001)" \
	"carrier:answered:sip:+12125554001@127.0.0.4:$CARRIER_PORT"
wait_for "the ENUM destination's record" 5 grep -q '"to_user":"+12125554001"' "$WORK/enumdst.jsonl"
expect_eq "calls at the carrier" "$(count "$WORK/carrier.jsonl")" 0
# 1b. A caller who withheld the number: the ENUM destination (anyone on
#     the Internet) gets an anonymous From.
call 2125554001 200 --header "Privacy: id" >/dev/null || fail "ENUM call with Privacy"
wait_for "the second record at the ENUM destination" 5 sh -c "[ \$(grep -c '\"to_user\":\"+12125554001\"' '$WORK/enumdst.jsonl') -eq 2 ]"
expect_eq "From at the ENUM destination" \
	"$(json_field "$(tail -1 "$WORK/enumdst.jsonl")" from_user)" anonymous
wait_cdrs 2

# 2. No record: the carrier, without delay.
t0=$(ms)
call 2125554002 200 >/dev/null || fail "call without a record"
t1=$(ms)
[ $((t1 - t0)) -lt 1500 ] || fail "NXDOMAIN cost $((t1 - t0)) ms"
wait_cdrs 3
expect_eq "attempts without a record" "$(attempts 2125554002)" \
	"carrier:enum: no record carrier:answered"

# 3. A dead ENUM destination (port unreachable, or the attempt timer), then
#    the carrier, which stays up (down_after = 1 would have marked it down).
t0=$(ms)
call 2125554003 200 >/dev/null || fail "call to a dead ENUM host"
t1=$(ms)
[ $((t1 - t0)) -lt 3500 ] || fail "dead ENUM host cost $((t1 - t0)) ms"
wait_cdrs 4
expect_eq "attempts with a dead ENUM host" "$(attempts 2125554003)" \
	"carrier:failover:sip:+12125554003@127.0.0.9:$CARRIER_PORT carrier:answered"
ctl show trunks | grep -Eq '^carrier +sip .* available ' ||
	fail "the carrier was blamed: $(ctl show trunks)"

# 4. Only a mailto: record.
call 2125554004 200 >/dev/null || fail "call with a mailto record"
wait_cdrs 5
expect_eq "attempts with a mailto record" "$(attempts 2125554004)" \
	"carrier:enum: no SIP URI carrier:answered"

# 5. Order 10 beats order 20; the regexp's back-reference gives the user.
call 2125554005 200 >/dev/null || fail "call with two records"
wait_cdrs 6
wait_for "the back-referenced user" 5 grep -q '"to_user":"12125554005"' "$WORK/enumdst.jsonl"
expect_eq "ENUM destination calls" "$(count "$WORK/enumdst.jsonl")" 3
expect_eq "carrier calls so far" "$(count "$WORK/carrier.jsonl")" 3

# 5b. ;transport=tcp: the INVITE goes over TCP; a transport we do not
#     have is skipped.
sipp -sn uas -t t1 -i 127.0.0.5 -p "$CARRIER_PORT" -m 1 -nostdin -bg \
	-trace_msg -message_file "$WORK/sipp_tcp_msg.log" \
	> "$WORK/sipp_tcp.log" 2>&1 || true
wait_for "SIPp on TCP" 5 sh -c "ss -Hltn 'src 127.0.0.5' | grep -q ':$CARRIER_PORT'"
call 2125554006 200 >/dev/null || fail "ENUM call over TCP"
wait_cdrs 7
expect_eq "attempts via ENUM over TCP" "$(attempts 2125554006)" \
	"carrier:answered:sip:+12125554006@127.0.0.5:$CARRIER_PORT;transport=tcp"
grep -q "^INVITE sip:+12125554006@127.0.0.5:$CARRIER_PORT;transport=tcp SIP/2.0" \
	"$WORK/sipp_tcp_msg.log" || fail "no INVITE at SIPp over TCP"
grep -q "^Via: SIP/2.0/TCP " "$WORK/sipp_tcp_msg.log" ||
	fail "the ENUM INVITE's Via is not TCP"
call 2125554007 200 >/dev/null || fail "call with an SCTP URI"
wait_cdrs 8
expect_eq "attempts with an SCTP URI" "$(attempts 2125554007)" \
	"carrier:enum: unusable URI carrier:answered"
log "ok: ENUM URIs with ;transport=tcp go over TCP"

# 6. The DNS server gone (port unreachable): the carrier at once.
sed -i "s/^servers = .*/servers = 127.0.0.1:$((DNS_PORT + 1))/" "$WORK/tollgate.conf"
ctl reload >/dev/null || fail "reload"
t0=$(ms)
call 2125554001 200 >/dev/null || fail "call with DNS down"
t1=$(ms)
[ $((t1 - t0)) -lt 2500 ] || fail "dead DNS cost $((t1 - t0)) ms"
wait_cdrs 9
expect_eq "attempts with DNS down" "$(attempts 2125554001)" \
	"carrier:enum: DNS failure carrier:answered"
log "ok: ENUM routing"
