#!/usr/bin/env bash
# tests/integration/hunting.sh  B-channel hunting over a two-span trunk
# group, each policy switched in by a reload, as pstnsim (libpri on the
# network side) sees the SETUPs.
#
#  - At start each span's idle channels are restarted (46 RESTARTs).
#  - ascending: lowest span and channel, reused: (1,1), (1,1); with (1,1)
#    busy, (1,2).
#  - descending: (2,23), (2,23).
#  - lru: the channel idle longest, never-used ones first: (1,3), (1,4)
#    (ascending would take (1,1) again).
#  - round-robin: on after the last channel used: (1,5), (1,6).
#  - cause 44 from the network: the channel is restarted and the call
#    hunts again, twice, then fails: SETUPs on (1,7), (1,8), (1,9);
#    RESTARTs for 7 and 8; the caller gets 503.
#  - `show groups` lists the group with its policy and channels.
. "$(dirname "$0")/lib.sh"

export SPANS=2
write_conf
start_pstnsim --rule 2125557044=reject:44
start_gw

expect_eq "RESTARTs at start" "$(grep -c '"event":"restart"' "$WORK/pstnsim.jsonl")" 46

ncalls() { grep -c '"event":"call"' "$WORK/pstnsim.jsonl" || true; }
# call NUMBER [HOLD]: a call from the PBX; waits for pstnsim's record and
# prints "span,chan" of it.
call() {
	local n0 rec
	n0=$(ncalls)
	timeout 20 "$TGCALL" call "sip:$1@127.0.0.1:$SIP_PORT" --local 127.0.0.1 \
		--from 2125550000 --expect 200 --hold "${2:-100}" --tone 0 \
		> "$WORK/call.json" 2>>"$WORK/tgcall.log" ||
		fail "call to $1: $(cat "$WORK/call.json")"
	wait_for "pstnsim's record" 10 sh -c "[ \$(grep -c '\"event\":\"call\"' '$WORK/pstnsim.jsonl') -gt $n0 ]"
	rec=$(grep '"event":"call"' "$WORK/pstnsim.jsonl" | tail -1)
	echo "$(json_field "$rec" span),$(json_field "$rec" chan)"
}
policy() {
	sed -i "/^\[trunk pstn\]/,/^\[/{/^hunt = /d}" "$WORK/tollgate.conf"
	sed -i "/^\[trunk pstn\]/a hunt = $1" "$WORK/tollgate.conf"
	ctl reload >/dev/null || fail "reload to $1"
	ctl show groups | grep -Eq "^pstn +$1 " || fail "show groups: $(ctl show groups)"
}

policy ascending
expect_eq "ascending, first" "$(call 2125551001)" "1,1"
expect_eq "ascending, again" "$(call 2125551002)" "1,1"
timeout 30 "$TGCALL" call "sip:2125551003@127.0.0.1:$SIP_PORT" --local 127.0.0.1 \
	--from 2125550000 --expect 200 --hold 3000 --tone 0 > "$WORK/held.json" \
	2>>"$WORK/tgcall.log" &
HELD=$!
PIDS+=("$HELD")
wait_for "the held call" 10 sh -c "'$TGCTL' -s '$CTL' --json show calls | grep -q '\"answered\":true'"
expect_eq "ascending, (1,1) busy" "$(call 2125551004)" "1,2"
wait "$HELD" || fail "held call: $(cat "$WORK/held.json")"
wait_for "the held call's record" 10 sh -c "grep -q '\"called\":\"2125551003\"' '$WORK/pstnsim.jsonl'"

policy descending
expect_eq "descending, first" "$(call 2125551005)" "2,23"
expect_eq "descending, again" "$(call 2125551006)" "2,23"

policy lru
expect_eq "lru, first" "$(call 2125551007)" "1,3"
expect_eq "lru, again" "$(call 2125551008)" "1,4"

policy round-robin
expect_eq "round-robin, first" "$(call 2125551009)" "1,5"
expect_eq "round-robin, next" "$(call 2125551010)" "1,6"

# Cause 44: restart the channel, hunt again.
r0=$(grep -c '"event":"restart"' "$WORK/pstnsim.jsonl")
timeout 20 "$TGCALL" call "sip:2125557044@127.0.0.1:$SIP_PORT" --local 127.0.0.1 \
	--from 2125550000 --expect 503 > "$WORK/c44.json" 2>>"$WORK/tgcall.log" ||
	fail "the call the network refuses: $(cat "$WORK/c44.json")"
wait_for "three SETUPs" 10 sh -c "[ \$(grep -c '\"called\":\"2125557044\"' '$WORK/pstnsim.jsonl') -eq 3 ]"
chans=$(grep '"called":"2125557044"' "$WORK/pstnsim.jsonl" |
	sed -n 's/.*"span":\([0-9]*\),"chan":\([0-9]*\).*/\1,\2/p' | tr '\n' ' ')
expect_eq "channels tried" "$chans" "1,7 1,8 1,9 "
expect_eq "RESTARTs for the refused channels" \
	"$(tail -n +1 "$WORK/pstnsim.jsonl" | grep '"event":"restart"' | tail -n +$((r0 + 1)) | tr -d '\n')" \
	'{"event":"restart","span":1,"chan":7}{"event":"restart","span":1,"chan":8}'
rehunts() { [ "$(sql "SELECT group_concat(a.outcome, ' ') FROM cdr_attempt a
	JOIN cdr c ON a.cdr_id = c.id WHERE c.called = '2125557044'")" = "rehunt rehunt failover" ]; }
wait_for "the CDR's attempts" 10 rehunts
ctl show groups | grep -Eq '^pstn +round-robin +1,2 +46 +46 +0 +0 +in-service$' ||
	fail "show groups: $(ctl show groups)"
log "ok: ascending, descending, lru and round-robin hunting; cause 44 re-hunts"
