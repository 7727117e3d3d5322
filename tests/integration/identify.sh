#!/usr/bin/env bash
# tests/integration/identify.sh  Which trunk a call comes from, when one
# SBC address carries several: trunks are tried in file order, and the
# first whose accept_from matches the source address and port, and whose
# match_user (if any) holds the Request-URI or To user, and whose
# match_header (if any) the INVITE carries, takes the call.
# No trunk: 403, logged with the reason.
. "$(dirname "$0")/lib.sh"

EXTRA="
[trunk sbc_a]
type = sip
peer = 127.0.0.1:$CLI_PORT
accept_from = 127.0.0.1:$CLI_PORT

[trunk sbc_b]
type = sip
peer = 127.0.0.1:$PBX_PORT
accept_from = 127.0.0.1
match_user = 2125551000-2125551099, 3135*

[trunk sbc_c]
type = sip
peer = 127.0.0.1:$PBX_PORT
accept_from = 127.0.0.1
match_header = X-Account: acme
"
write_conf
# The default PBX trunk would take everything from 127.0.0.1.
sed -i "/^\[trunk pbx\]/,/^\[/ s/^accept_from = .*/accept_from = 127.0.0.9/" \
	"$WORK/tollgate.conf"
start_pstnsim
start_gw

call() { # FROM_PORT NUMBER EXPECT [ARGS...]
	local port=$1 num=$2 want=$3
	shift 3
	timeout 20 "$TGCALL" call "sip:$num@127.0.0.1:$SIP_PORT" \
		--local "127.0.0.1:$port" --from 2125550000 --expect "$want" \
		--hold 200 "$@" >/dev/null 2>>"$WORK/tgcall.log" ||
		fail "call from port $port to $num (want $want)"
}
call "$CLI_PORT" 2125551234 200
call "$PBX_PORT" 2125551050 200
call "$PBX_PORT" 3135550123 200
call "$PBX_PORT" 2125551234 403
call "$PBX_PORT" 4445550000 200 --header "X-Account: ACME-7"
call "$PBX_PORT" 4445550001 403 --header "X-Account: other"
wait_cdrs 6
expect_eq "trunks by port, number and header" "$(sql "SELECT group_concat(
	called || '=' || in_trunk, ' ') FROM (SELECT * FROM cdr ORDER BY
	start_ms)")" "2125551234=sbc_a 2125551050=sbc_b 3135550123=sbc_b 2125551234= 4445550000=sbc_c 4445550001="
grep -q "no trunk takes an INVITE from 127.0.0.1:$PBX_PORT to '2125551234'" "$WORK/tollgated.log" || fail "the 403 was not logged"
log "ok: trunk identification by source port, called number and header"
