#!/usr/bin/env bash
# tests/integration/presentation.sh  Who calls, and who may see it, both
# ways (RFC 3323/3325 <-> Q.931 presentation and calling name), with
# pstnsim (libpri) on the PRI and tgcall as the PBXs.
#
#  SIP -> PRI
#  - From display "Alice Smith": the SETUP carries the calling name.
#  - Privacy: id: the number goes out presentation restricted, no name.
#  - From anonymous with P-Asserted-Identity from the trusted PBX: the
#    asserted number goes out, restricted.
#  - The same from an untrusted trunk: its PAI counts for nothing: no
#    number at all.
#  PRI -> SIP
#  - A calling name: From "Bob Jones" <sip:2125559999@...>.
#  - Presentation restricted toward the trusted PBX: From "Anonymous"
#    <sip:anonymous@anonymous.invalid>, Privacy: id, and PAI with the
#    number; toward the untrusted trunk: the same without PAI.
#  Remote-Party-ID (identity = rpid), as older PBXs and Cisco speak it:
#  - read from a trusted PBX like PAI (privacy=full: restricted), ignored
#    from an untrusted one;
#  - sent instead of PAI: with privacy=full and screen=yes to the trusted
#    PBX for a withheld number, not at all to an untrusted trunk then.
. "$(dirname "$0")/lib.sh"

EXTRA="
[trunk pbx2]
type = sip
peer = 127.0.0.5:$PBX_PORT
accept_from = 127.0.0.5
"
write_conf
sed -i '/^\[trunk pbx\]/a trusted = yes' "$WORK/tollgate.conf"
start_pstnsim
start_gw
"$TGCTL" -s "$CTL" --db "$DB" did add 5550200 5550299 pbx2 >/dev/null ||
	fail "did add"

last_setup() { grep '"event":"call"' "$WORK/pstnsim.jsonl" | tail -1; }
out_call() { # LOCAL NUMBER ARGS...: a call to the PRI; prints its record
	local local=$1 num=$2 n0
	shift 2
	n0=$(grep -c '"event":"call"' "$WORK/pstnsim.jsonl" || true)
	timeout 20 "$TGCALL" call "sip:$num@127.0.0.1:$SIP_PORT" --local "$local" \
		--expect 200 --hold 200 --tone 0 "$@" > "$WORK/out.json" \
		2>>"$WORK/tgcall.log" || fail "call to $num: $(cat "$WORK/out.json")"
	wait_for "pstnsim's record" 10 sh -c "[ \$(grep -c '\"event\":\"call\"' '$WORK/pstnsim.jsonl') -gt $n0 ]"
	last_setup
}

rec=$(out_call 127.0.0.1 2125551001 --from 2125550000 --display "Alice Smith")
expect_eq "name: calling number" "$(json_field "$rec" calling)" 2125550000
expect_eq "name: restricted" "$(json_field "$rec" calling_restricted)" false
expect_eq "name: calling name" "$(json_field "$rec" calling_name)" "Alice Smith"

rec=$(out_call 127.0.0.1 2125551002 --from 2125550000 --display "Alice Smith" \
	--header "Privacy: id")
expect_eq "Privacy: calling number" "$(json_field "$rec" calling)" 2125550000
expect_eq "Privacy: restricted" "$(json_field "$rec" calling_restricted)" true
expect_eq "Privacy: calling name" "$(json_field "$rec" calling_name)" ""

rec=$(out_call 127.0.0.1 2125551003 --from anonymous \
	--header "P-Asserted-Identity: <sip:2125550042@127.0.0.1>" --header "Privacy: id")
expect_eq "trusted PAI: calling number" "$(json_field "$rec" calling)" 2125550042
expect_eq "trusted PAI: restricted" "$(json_field "$rec" calling_restricted)" true

# Both identities of a trusted PAI: the tel: one is the number.
rec=$(out_call 127.0.0.1 2125551005 --from anonymous \
	--header "P-Asserted-Identity: \"Al <x>\" <sip:alice@127.0.0.1>, <tel:+12125550043>")
expect_eq "trusted PAI, sip: and tel:" "$(json_field "$rec" calling)" 12125550043

rec=$(out_call 127.0.0.5 2125551004 --from anonymous \
	--header "P-Asserted-Identity: <sip:2125550042@127.0.0.5>" --header "Privacy: id")
# (No number: libpri sends no Calling Party Number IE at all.)
expect_eq "untrusted PAI: calling number" "$(json_field "$rec" calling)" ""
rec=$(out_call 127.0.0.1 2125551006 --from anonymous \
	--header "Remote-Party-ID: \"A\" <sip:2125550044@127.0.0.1>;party=calling;screen=yes;privacy=full")
expect_eq "trusted RPID: calling number" "$(json_field "$rec" calling)" 2125550044
expect_eq "trusted RPID: restricted" "$(json_field "$rec" calling_restricted)" true
rec=$(out_call 127.0.0.5 2125551007 --from anonymous \
	--header "Remote-Party-ID: <sip:2125550044@127.0.0.5>;party=calling")
expect_eq "untrusted RPID: calling number" "$(json_field "$rec" calling)" ""
log "ok: SIP -> PRI: name, Privacy, trusted and untrusted identity"

# PRI -> SIP: pstnsim originates; a PBX answers and keeps the INVITE.
in_call() { # PBX_IP DID ARGS...: prints nothing; the INVITE is in $WORK/inv.txt
	local ip=$1 did=$2
	shift 2
	rm -f "$WORK/inv.txt"
	"$TGCALL" answer --local "$ip:$PBX_PORT" --count 1 --timeout 20 \
		--save-invite "$WORK/inv.txt" > "$WORK/pbx.jsonl" 2>>"$WORK/pbx.log" &
	PIDS+=($!)
	sleep 0.2
	kill -TERM "$PSTN_PID" 2>/dev/null || true; wait "$PSTN_PID" 2>/dev/null || true
	start_pstnsim --originate 1 --rate 1 --to "$did" --from 2125559999 \
		--hold 200 --exit-when-done "$@"
	wait_for "pstnsim's call to $did" 20 sh -c "! kill -0 $PSTN_PID"
	grep -q '"answered":1' "$WORK/pstnsim.jsonl" || fail "the call to $did was not answered"
	wait_for "the INVITE" 5 test -s "$WORK/inv.txt"
}

in_call 127.0.0.1 5550100 --from-name "Bob Jones"
grep -qx 'From: "Bob Jones" <sip:2125559999@127.0.0.1>;tag=.*' "$WORK/inv.txt" ||
	grep -q '^From: "Bob Jones" <sip:2125559999@' "$WORK/inv.txt" ||
	fail "From with the name: $(grep -i '^From:' "$WORK/inv.txt")"
grep -qi '^Privacy:' "$WORK/inv.txt" && fail "Privacy on an allowed call"

in_call 127.0.0.1 5550101 --from-name "Bob Jones" --restricted
grep -q '^From: "Anonymous" <sip:anonymous@anonymous.invalid>' "$WORK/inv.txt" ||
	fail "anonymous From: $(grep -i '^From:' "$WORK/inv.txt")"
grep -qx 'Privacy: id' "$WORK/inv.txt" || fail "no Privacy: id"
grep -q '^P-Asserted-Identity: <sip:2125559999@' "$WORK/inv.txt" ||
	fail "no PAI toward the trusted PBX: $(grep -i asserted "$WORK/inv.txt")"
grep -q 'Bob Jones' "$WORK/inv.txt" && fail "the name of a restricted caller went out"

in_call 127.0.0.5 5550201 --from-name "Bob Jones" --restricted
grep -q '^From: "Anonymous" <sip:anonymous@anonymous.invalid>' "$WORK/inv.txt" ||
	fail "anonymous From (untrusted): $(grep -i '^From:' "$WORK/inv.txt")"
grep -qx 'Privacy: id' "$WORK/inv.txt" || fail "no Privacy: id (untrusted)"
grep -qi '^P-Asserted-Identity:' "$WORK/inv.txt" && fail "PAI toward an untrusted trunk"
grep -q 2125559999 "$WORK/inv.txt" && fail "the number leaked to an untrusted trunk"

# An untrusted trunk's caller, number withheld, to the trusted PBX (a DID):
# we cannot vouch for that number, so no PAI.
rm -f "$WORK/inv.txt"
"$TGCALL" answer --local "127.0.0.1:$PBX_PORT" --count 1 --timeout 20 \
	--save-invite "$WORK/inv.txt" > "$WORK/pbx.jsonl" 2>>"$WORK/pbx.log" &
PIDS+=($!)
sleep 0.2
timeout 20 "$TGCALL" call "sip:5550150@127.0.0.1:$SIP_PORT" --local 127.0.0.5 \
	--from 2125551111 --header "Privacy: id" --expect 200 --hold 200 \
	>/dev/null 2>>"$WORK/tgcall.log" || fail "untrusted -> trusted call"
wait_for "the INVITE" 5 test -s "$WORK/inv.txt"
grep -qx 'Privacy: id' "$WORK/inv.txt" || fail "no Privacy: id (untrusted -> trusted)"
grep -qi '^P-Asserted-Identity:' "$WORK/inv.txt" &&
	fail "we asserted an untrusted trunk's number: $(grep -i asserted "$WORK/inv.txt")"
grep -q 2125551111 "$WORK/inv.txt" && fail "the withheld number went out"

# Who diverted the call, not to be shown (Diversion ;privacy=full, RFC
# 5806): a trusted trunk is told so, an untrusted one gets no Diversion.
tgdb() { "$TGCTL" -s "$CTL" --db "$DB" "$@"; }
tgdb route add rd1 priority=1 kind=prefix match=5559260 trunks=pbx2 >/dev/null ||
	fail "route rd1"
tgdb route add rd2 priority=1 kind=prefix match=5559261 trunks=pbx >/dev/null ||
	fail "route rd2"
wait_for "the routes" 10 sh -c "'$TGCTL' -s '$CTL' route explain 5559261 --from pbx2 | grep -q rd2"
div_call() { # FROM_IP TO_IP NUMBER
	rm -f "$WORK/inv.txt"
	"$TGCALL" answer --local "$2:$PBX_PORT" --count 1 --timeout 20 \
		--save-invite "$WORK/inv.txt" > "$WORK/pbx.jsonl" 2>>"$WORK/pbx.log" &
	PIDS+=($!)
	sleep 0.2
	timeout 20 "$TGCALL" call "sip:$3@127.0.0.1:$SIP_PORT" --local "$1" \
		--from 2125550000 --expect 200 --hold 200 \
		--diversion '<sip:2125550199@127.0.0.1>;reason=no-answer;privacy=full' \
		>/dev/null 2>>"$WORK/tgcall.log" || fail "diverted call to $3"
	wait_for "the INVITE" 5 test -s "$WORK/inv.txt"
}
div_call 127.0.0.1 127.0.0.5 5559260
grep -qi '^Diversion:' "$WORK/inv.txt" && fail "a private Diversion went to an untrusted trunk"
grep -q 2125550199 "$WORK/inv.txt" && fail "the diverting number leaked"
div_call 127.0.0.5 127.0.0.1 5559261
grep -q '^Diversion: <sip:2125550199@.*;privacy=full' "$WORK/inv.txt" ||
	fail "Diversion to the trusted PBX: $(grep -i '^Diversion' "$WORK/inv.txt")"
log "ok: Diversion privacy kept across the trust boundary"

# identity = rpid: Remote-Party-ID instead of P-Asserted-Identity.
sed -i '/^\[trunk pbx\]/a identity = rpid' "$WORK/tollgate.conf"
sed -i '/^\[trunk pbx2\]/a identity = rpid' "$WORK/tollgate.conf"
ctl reload >/dev/null || fail "reload with identity = rpid"
in_call 127.0.0.1 5550102 --restricted
grep -q '^Remote-Party-ID: <sip:2125559999@[^>]*>;party=calling;screen=yes;privacy=full' \
	"$WORK/inv.txt" || fail "RPID to the trusted PBX: $(grep -i '^Remote-Party' "$WORK/inv.txt")"
grep -qi '^P-Asserted-Identity:' "$WORK/inv.txt" && fail "PAI sent with identity = rpid"
in_call 127.0.0.5 5550202 --restricted
grep -qi '^Remote-Party-ID:' "$WORK/inv.txt" && fail "RPID of a withheld number to an untrusted trunk"
grep -q 2125559999 "$WORK/inv.txt" && fail "the number leaked to an untrusted trunk (rpid)"
in_call 127.0.0.5 5550203
grep -q '^Remote-Party-ID: <sip:2125559999@[^>]*>;party=calling;screen=yes;privacy=off' \
	"$WORK/inv.txt" || fail "RPID of a shown number: $(grep -i '^Remote-Party' "$WORK/inv.txt")"
log "ok: identity = rpid: Remote-Party-ID across the trust boundary"
log "ok: PRI -> SIP: calling name, restricted presentation, trust boundary"
