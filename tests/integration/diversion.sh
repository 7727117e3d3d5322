#!/usr/bin/env bash
# tests/integration/diversion.sh  Who diverted a call, across SIP and PRI.
#
#  - The PBX sends a call forwarded by extension 2001 (Diversion:
#    reason=user-busy) to a PSTN number: an ingress diversion rule turns
#    the extension into the site's DID, and the PRI SETUP carries it as the
#    Redirecting Number IE (national, reason 1 "busy"); the CDR keeps it.
#  - A forwarded call from the PSTN (Redirecting Number 2125550199, reason 2
#    "no reply") reaches the PBX with a Diversion header, formatted like the
#    caller's number for that trunk, with reason=no-answer.
#  - `route explain` is not needed: the numbers are checked where they
#    arrive (pstnsim's JSON, tgcall's JSON) and in the CDR.
. "$(dirname "$0")/lib.sh"

write_conf
nanp_plans
start_pstnsim
start_gw
"$TGCTL" -s "$CTL" --db "$DB" rule add ingress number=diversion \
	kind=pattern match=_2XXX trunk=pbx \
	actions=prepend=1212555,ton=international,npi=isdn >/dev/null ||
	fail "rule add"
# The PSTN delivers national numbers: the DID in internal form.
"$TGCTL" -s "$CTL" --db "$DB" did add 12125550150 pbx >/dev/null ||
	fail "did add"

# 1. SIP -> PRI.
timeout 30 "$TGCALL" call "sip:3125550123@127.0.0.1:$SIP_PORT" \
	--local "127.0.0.1:$PBX_PORT" --from 2125550000 --expect 200 \
	--hold 200 --diversion '<sip:2001@127.0.0.1>;reason=user-busy;counter=1' \
	> "$WORK/uac.jsonl" 2>>"$WORK/tgcall.log" || fail "forwarded call to the PSTN"
wait_for "pstnsim's record" 10 pstnsim_calls_ge 1
rec=$(grep '"event":"call"' "$WORK/pstnsim.jsonl" | tail -1)
expect_eq "redirecting number at the PSTN" "$(json_field "$rec" redirecting)" 2125552001
expect_eq "its type of number (national)" "$(json_field "$rec" redirecting_ton)" 2
expect_eq "its reason (busy)" "$(json_field "$rec" redirect_reason)" 1
wait_cdrs 1
expect_eq "CDR diversion" "$(sql "SELECT diversion FROM cdr WHERE called = '3125550123'")" 12125552001

# 2. PRI -> SIP: the PBX answers with tgcall and reports the header.
"$TGCALL" answer --local "127.0.0.1:$PBX_PORT" --count 1 --timeout 30 \
	> "$WORK/pbx.jsonl" 2>"$WORK/pbx.log" &
PIDS+=($!)
kill -TERM "$PSTN_PID"; wait "$PSTN_PID" 2>/dev/null || true
start_pstnsim --originate 1 --rate 1 --to 2125550150 --from 3125550000 \
	--redirecting 2125550199:2 --hold 300 --exit-when-done
wait_for "pstnsim to finish" 20 sh -c "! kill -0 $PSTN_PID"
wait_for "the PBX's record" 10 grep -q '"ok"' "$WORK/pbx.jsonl"
rec=$(cat "$WORK/pbx.jsonl")
# Formatted like the caller's number for that trunk (national here).
expect_eq "caller at the PBX" "$(json_field "$rec" from_user)" 3125550000
expect_eq "Diversion user at the PBX" "$(json_field "$rec" diversion)" 2125550199
expect_eq "Diversion reason at the PBX" "$(json_field "$rec" diversion_reason)" no-answer
expect_eq "the PBX answered" "$(json_field "$rec" answered)" true
wait_cdrs 2
expect_eq "CDR diversion (inbound)" "$(sql "SELECT diversion FROM cdr WHERE called = '2125550150'")" 12125550199
log "ok: diversion"

# 3. SIP -> PRI with History-Info (RFC 7044) instead of Diversion: the
# entry before the one with the RFC 4458 cause is who diverted.
start_pstnsim
wait_for "the span" 20 span_up
timeout 30 "$TGCALL" call "sip:3125550124@127.0.0.1:$SIP_PORT" \
	--local "127.0.0.1:$PBX_PORT" --from 2125550000 --expect 200 \
	--hold 200 --header "History-Info: <sip:2125550150@127.0.0.1>;index=1, <sip:2002@127.0.0.1>;index=1.1" \
	--header "History-Info: <sip:3125550124@127.0.0.1;cause=486>;index=1.1.1" \
	>> "$WORK/uac.jsonl" 2>>"$WORK/tgcall.log" || fail "History-Info call to the PSTN"
wait_for "pstnsim's record" 10 sh -c "grep -q '\"called\":\"3125550124\"' '$WORK/pstnsim.jsonl'"
rec=$(grep '"event":"call"' "$WORK/pstnsim.jsonl" | grep '"called":"3125550124"')
expect_eq "History-Info: redirecting number" "$(json_field "$rec" redirecting)" 2125552002
expect_eq "History-Info: reason (busy)" "$(json_field "$rec" redirect_reason)" 1

# 4. PRI -> SIP to a trunk with redirect_header = history-info.
sed -i '/^\[trunk pbx\]/a redirect_header = history-info' "$WORK/tollgate.conf"
ctl reload >/dev/null || fail "reload"
"$TGCALL" answer --local "127.0.0.1:$PBX_PORT" --count 1 --timeout 30 \
	--save-invite "$WORK/inv.txt" > "$WORK/pbx2.jsonl" 2>"$WORK/pbx.log" &
PIDS+=($!)
kill -TERM "$PSTN_PID" 2>/dev/null || true; wait "$PSTN_PID" 2>/dev/null || true
start_pstnsim --originate 1 --rate 1 --to 2125550150 --from 3125550000 \
	--redirecting 2125550199:2 --hold 300 --exit-when-done
wait_for "pstnsim to finish" 20 sh -c "! kill -0 $PSTN_PID"
wait_for "the INVITE" 10 test -s "$WORK/inv.txt"
grep -q '^History-Info: <sip:2125550199@[^>]*>;index=1, <sip:[^>]*;cause=408>;index=1.1' \
	"$WORK/inv.txt" || fail "History-Info to the PBX: $(grep -i '^History-Info\|^Diversion' "$WORK/inv.txt")"
grep -qi '^Diversion:' "$WORK/inv.txt" && fail "Diversion sent with redirect_header = history-info"
log "ok: History-Info both ways"
