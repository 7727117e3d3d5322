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
. "$(dirname "$0")/kamailio/common.sh"

[ -n "${TG_IN_NETNS:-}" ] || { log "SKIP: needs a network namespace"; exit 77; }
command -v kamailio >/dev/null || { log "SKIP: no kamailio"; exit 77; }
kam_addrs

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
start_kam "$SRC/tests/integration/kamailio/proxy.cfg" "$WORK/kamailio.log"
wait_for "kamailio to listen" 10 sh -c "ss -Hlun 'sport = :5060' | grep -q 127.0.0.3"
sipp -sf "$SIPP_DIR/reg_uas_ok.xml" -i 127.0.0.4 -p 5072 -m 1 -nostdin \
	-timeout 40 -trace_msg -message_file "$WORK/sipp_reg.msg.log" \
	> "$WORK/sipp_reg.log" 2>&1 &
SIPP_REG=$!
PIDS+=("$SIPP_REG")
start_pstnsim
start_gw
provider_dids

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
pstn_to_provider
expect_eq "PSTN -> provider answered" "$(json_field "$REC" answered)" true
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
provider_to_pstn
log "ok: provider -> PSTN through the proxy, identified by the proxy's address"
