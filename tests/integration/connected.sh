#!/usr/bin/env bash
# tests/integration/connected.sh  Connected line both ways (Q.951 COLP <->
# the 200 OK's P-Asserted-Identity, RFC 3325), toward trusted trunks only.
#
#  - SIP -> PRI: pstnsim answers with Connected Number 2125557777; the
#    trusted PBX's 200 OK carries P-Asserted-Identity with it; a caller on
#    an untrusted trunk gets no PAI.
#  - PRI -> SIP: the trusted PBX answers with P-Asserted-Identity
#    <sip:2001@...>; pstnsim's CONNECT carries Connected Number 2001.  An
#    untrusted trunk's PAI is not passed on.
. "$(dirname "$0")/lib.sh"

EXTRA="
[trunk pbx2]
type = sip
peer = 127.0.0.5:$PBX_PORT
accept_from = 127.0.0.5
"
write_conf
sed -i '/^\[trunk pbx\]/a trusted = yes' "$WORK/tollgate.conf"
start_pstnsim --connected 2125557777
start_gw
"$TGCTL" -s "$CTL" --db "$DB" did add 5550200 5550299 pbx2 >/dev/null ||
	fail "did add"

out=$(timeout 20 "$TGCALL" call "sip:2125551001@127.0.0.1:$SIP_PORT" --local 127.0.0.1 \
	--from 2125550000 --expect 200 --hold 200 --tone 0 2>>"$WORK/tgcall.log") ||
	fail "call from the trusted PBX: $out"
json_field "$out" answer_pai | grep -q '^<sip:2125557777@127.0.0.1>$' ||
	fail "200 OK's P-Asserted-Identity: $out"
out=$(timeout 20 "$TGCALL" call "sip:2125551002@127.0.0.1:$SIP_PORT" --local 127.0.0.5 \
	--from 2125550000 --expect 200 --hold 200 --tone 0 2>>"$WORK/tgcall.log") ||
	fail "call from the untrusted trunk: $out"
expect_eq "PAI toward the untrusted trunk" "$(json_field "$out" answer_pai)" ""
log "ok: SIP -> PRI: the connected number in the trusted caller's 200 OK"

# pbx_answer IP DID: pstnsim calls DID; a PBX at IP answers asserting 2001.
pbx_answer() {
	"$TGCALL" answer --local "$1:$PBX_PORT" --count 1 --timeout 20 \
		--header "P-Asserted-Identity: <sip:2001@$1>" \
		> "$WORK/pbx.jsonl" 2>>"$WORK/pbx.log" &
	PIDS+=($!)
	sleep 0.2
	kill -TERM "$PSTN_PID" 2>/dev/null || true; wait "$PSTN_PID" 2>/dev/null || true
	start_pstnsim --originate 1 --rate 1 --to "$2" --from 2125559999 \
		--hold 200 --exit-when-done
	wait_for "pstnsim's call to $2" 20 sh -c "! kill -0 $PSTN_PID"
	REC=$(grep '"event":"call"' "$WORK/pstnsim.jsonl" | tail -1)
	[ "$(json_field "$REC" answered)" = true ] || fail "not answered: $REC"
}
pbx_answer 127.0.0.1 5550100
expect_eq "Connected Number from the trusted PBX" "$(json_field "$REC" connected)" 2001
pbx_answer 127.0.0.5 5550201
expect_eq "Connected Number from the untrusted trunk" "$(json_field "$REC" connected)" ""
log "ok: PRI -> SIP: the trusted PBX's asserted identity as Connected Number"
