#!/usr/bin/env bash
# tests/integration/kamailio.sh  kamailio as an outbound proxy in front of
# a SIP provider (trunk outbound_proxy, RFC 3261 8.1.2).  Calls both ways
# go through it: the gateway's INVITE keeps the provider in its
# Request-URI and reaches kamailio with a Route to it; kamailio record-
# routes, so the BYE follows its Record-Route back through it; OPTIONS
# probe the proxy.  A trunk that registers behind the proxy sends its
# REGISTER (and the one answering the registrar's 401) to kamailio with a
# loose Route to it and the registrar's domain as Request-URI (RFC 3261
# 8.1.2, 10.2); a SIPp registrar behind kamailio (127.0.0.4:5072) sees
# kamailio's Via and grants the binding.  Needs its own addresses: runs
# only in the test's network namespace.
. "$(dirname "$0")/lib.sh"

[ -n "${TG_IN_NETNS:-}" ] || { log "SKIP: needs a network namespace"; exit 77; }
command -v kamailio >/dev/null || { log "SKIP: no kamailio"; exit 77; }
ip addr add 127.0.0.3/8 dev lo 2>/dev/null || true
ip addr add 127.0.0.4/8 dev lo 2>/dev/null || true

EXTRA="
[trunk provider]
type = sip
peer = 127.0.0.4:5060
outbound_proxy = 127.0.0.3:5060
accept_from = 127.0.0.3
options_interval = 1

[trunk regprov]
type = sip
peer = 127.0.0.4:5072
outbound_proxy = 127.0.0.3:5060
register = yes
register_expires = 60
auth_user = reguser
auth_password = regpass
"
write_conf
mkdir -p "$WORK/kam"
kamailio -f "$SRC/tests/integration/kamailio/proxy.cfg" -DD -E -n 1 \
	-Y "$WORK/kam" 2> "$WORK/kamailio.log" &
PIDS+=($!)
wait_for "kamailio to listen" 10 sh -c "ss -Hlun 'sport = :5060' | grep -q 127.0.0.3"
sipp -sf "$SIPP_DIR/reg_uas_ok.xml" -i 127.0.0.4 -p 5072 -m 1 -nostdin \
	-timeout 40 -trace_msg -message_file "$WORK/sipp_reg.msg.log" \
	> "$WORK/sipp_reg.log" 2>&1 &
SIPP_REG=$!
PIDS+=("$SIPP_REG")
start_pstnsim
start_gw
"$TGCTL" -s "$CTL" --db "$DB" did add 5557000 5557099 provider >/dev/null ||
	fail "did add"

# REGISTER through the proxy: the registrar's 401 and 200 come back
# through it as well, and the binding is in force.
wait "$SIPP_REG" || fail "the registrar saw no good REGISTER: $(tail -5 "$WORK/sipp_reg.log")"
regs=$(awk '/^REGISTER /,/^$/' "$WORK/sipp_reg.msg.log")
expect_eq "REGISTERs the registrar got" "$(echo "$regs" | grep -c '^REGISTER sip:127.0.0.4:5072 SIP/2.0')" 2
expect_eq "... each through kamailio" "$(echo "$regs" | grep -c '^Via: SIP/2.0/UDP 127.0.0.3')" 2
expect_eq "REGISTERs kamailio relayed" "$(grep -c 'proxy: REGISTER sip:127.0.0.4:5072 from 127.0.0.1:' "$WORK/kamailio.log")" 2
registered() { "$TGCTL" -s "$CTL" --json show registrations | tr '{' '\n' |
	grep '"trunk":"regprov"' | grep -q '"state":"registered"'; }
wait_for "regprov registered" 5 registered
log "ok: REGISTER through the outbound proxy: Request-URI the registrar's, kamailio's Via, registered"

# OPTIONS to the proxy keep the trunk up.
wait_for "an OPTIONS through to the proxy" 10 \
	grep -q 'proxy: OPTIONS sip:127.0.0.3:5060' "$WORK/kamailio.log"
# PSTN -> provider: SIPp answers as the provider behind the proxy.
sipp -sn uas -i 127.0.0.4 -p 5060 -m 1 -nostdin -bg \
	-trace_msg -message_file "$WORK/provider_msg.log" \
	> "$WORK/sipp_uas.out" 2>&1 || true
SIPP_PID=$(grep -o 'PID=\[[0-9]*\]' "$WORK/sipp_uas.out" | tr -dc 0-9)
[ -n "$SIPP_PID" ] && PIDS+=("$SIPP_PID")
kill -TERM "$PSTN_PID"; wait "$PSTN_PID" 2>/dev/null || true
start_pstnsim --originate 1 --rate 1 --to 5557001 --from 2125559999 \
	--hold 1000 --exit-when-done
wait_for "the call to the provider" 30 sh -c "! kill -0 $PSTN_PID"
wait_for "SIPp to take the BYE" 10 sh -c "! kill -0 $SIPP_PID"
rec=$(grep '"event":"call"' "$WORK/pstnsim.jsonl")
expect_eq "PSTN -> provider answered" "$(json_field "$rec" answered)" true
inv=$(awk '/^INVITE /,/^$/' "$WORK/provider_msg.log")
echo "$inv" | grep -q '^INVITE sip:5557001@127.0.0.4:5060 SIP/2.0' ||
	fail "Request-URI is not the provider's: $(echo "$inv" | head -1)"
echo "$inv" | grep -q '^Via: SIP/2.0/UDP 127.0.0.3' ||
	fail "the INVITE did not come through kamailio: $inv"
echo "$inv" | grep -qi '^Record-Route: <sip:127.0.0.3' ||
	fail "kamailio did not record-route: $inv"
bye=$(awk '/^BYE /,/^$/' "$WORK/provider_msg.log")
echo "$bye" | grep -q '^Via: SIP/2.0/UDP 127.0.0.3' ||
	fail "the BYE did not follow the Record-Route: $bye"
grep -q 'proxy: BYE' "$WORK/kamailio.log" || fail "kamailio saw no BYE"
log "ok: PSTN -> provider through the outbound proxy (INVITE, Record-Route, BYE)"

# Provider -> PSTN: SIPp calls from behind the proxy.
start_pstnsim
wait_for "the span" 20 sh -c "'$TGCTL' -s '$CTL' --json show spans | grep -q '\"dchan\":\"up\"'"
timeout 30 sipp -sf "$SIPP_DIR/uac.xml" -s 2125550123 -i 127.0.0.4 -p 5062 \
	-m 1 -d 500 -nostdin 127.0.0.3:5060 > "$WORK/sipp_uac.log" 2>&1 ||
	fail "the provider's call failed: $(tail -20 "$WORK/sipp_uac.log")"
wait_cdrs 2
expect_eq "CDRs of both calls" "$(sql "SELECT group_concat(direction || ',' ||
	in_trunk || ',' || out_trunk || ',' || disposition, ' ') FROM
	(SELECT * FROM cdr ORDER BY start_ms)")" \
	"inbound,pstn,provider,ANSWERED outbound,provider,pstn,ANSWERED"
log "ok: provider -> PSTN through the proxy, identified by the proxy's address"
