#!/usr/bin/env bash
# tests/integration/glare.sh  Glare: our SETUP and the network's cross on
# one B-channel (Q.931 5.7; pstnsim --glare sends its SETUP for the
# channel of ours before it answers ours).
#
#  1. Exclusive: the network's call takes the channel (answered by the
#     PBX); ours is refused with cause 44 and hunts the next channel
#     without restarting the taken one; the SIP caller sees only 200.
#  2. Preferred: the network puts ours on another channel at once (23):
#     one SETUP, no cause 44.
#  3. Eight SIP calls at once (exclusive), each crossing a network call:
#     every call on both sides is answered (ours after a cause 44 and a
#     re-hunt), and no channel is left stuck.
. "$(dirname "$0")/lib.sh"

write_conf
start_pstnsim --glare 10 --to 5550100 --from 2125559999 --hold 1500 \
	--answer-after 100
start_gw
"$TGCALL" answer --local "127.0.0.1:$PBX_PORT" --count 10 --timeout 40 \
	--hold 1200 > "$WORK/pbx.jsonl" 2>>"$WORK/tgcall.log" &
PIDS+=($!)

rec() { grep '"event":"call"' "$WORK/pstnsim.jsonl" | grep "\"called\":\"$1\"" || true; }
restarts1() { grep -c '"event":"restart","span":1,"chan":1}' "$WORK/pstnsim.jsonl"; }
all_idle() { ctl --json show spans | grep -q '"idle":23'; }
r0=$(restarts1)

# 1. Exclusive.
out=$(timeout 20 "$TGCALL" call "sip:2125551001@127.0.0.1:$SIP_PORT" \
	--local 127.0.0.1 --from 2125550000 --expect 200 --hold 500 \
	--tone 0 2>>"$WORK/tgcall.log") || fail "the exclusive call: $out"
wait_for "pstnsim's records" 10 sh -c "[ \$(grep -c '\"called\":\"2125551001\"' '$WORK/pstnsim.jsonl') -eq 2 ]"
expect_eq "our SETUP that met the network's: cause" \
	"$(json_field "$(rec 2125551001 | grep '"answered":false')" cause)" 44
expect_eq "the re-hunted call: channel" \
	"$(json_field "$(rec 2125551001 | grep '"answered":true')" chan)" 2
wait_for "the network's call" 10 sh -c "grep '\"event\":\"call\"' '$WORK/pstnsim.jsonl' | grep '\"dir\":\"out\"' | grep -q '\"answered\":true'"
expect_eq "the network's call: channel" \
	"$(json_field "$(grep '"event":"call"' "$WORK/pstnsim.jsonl" | grep '"dir":"out"' | head -1)" chan)" 1
grep -q "span 1 chan 1: glare: the network's SETUP takes the channel" "$WORK/tollgated.log" ||
	fail "no glare log line"
grep -q "refused by the far end (cause 44): the network's call has it (glare), hunting again" \
	"$WORK/tollgated.log" || fail "no re-hunt log line"
expect_eq "RESTARTs of channel 1 (at start only)" "$(restarts1)" "$r0"
wait_cdrs 2
expect_eq "the outbound CDR" "$(sql "SELECT disposition, chan FROM cdr WHERE called = '2125551001'")" "ANSWERED|2"
expect_eq "the inbound CDR" "$(sql "SELECT disposition, chan FROM cdr WHERE calling = '2125559999'")" "ANSWERED|1"
wait_for "every channel idle" 10 all_idle
log "ok: exclusive glare: the network's call kept channel 1, ours re-hunted to 2"

# 2. Preferred.
sed -i "/^\[span 1\]/a channel_select = preferred" "$WORK/tollgate.conf"
ctl reload >/dev/null || fail "reload"
out=$(timeout 20 "$TGCALL" call "sip:2125551002@127.0.0.1:$SIP_PORT" \
	--local 127.0.0.1 --from 2125550000 --expect 200 --hold 500 \
	--tone 0 2>>"$WORK/tgcall.log") || fail "the preferred call: $out"
wait_for "pstnsim's record" 10 sh -c "grep -q '\"called\":\"2125551002\"' '$WORK/pstnsim.jsonl'"
expect_eq "preferred: SETUPs for the call" "$(rec 2125551002 | wc -l)" 1
expect_eq "preferred: its channel" "$(json_field "$(rec 2125551002)" chan)" 23
grep -q "span 1: call moved from channel 1 to 23 by the far end" "$WORK/tollgated.log" ||
	fail "no move log line"
wait_cdrs 4
expect_eq "the preferred call's CDR" "$(sql "SELECT disposition, chan FROM cdr WHERE called = '2125551002'")" "ANSWERED|23"
wait_for "every channel idle" 10 all_idle
log "ok: preferred glare: the network moved ours to 23 at once"

# 3. Eight at once, exclusive again: eight glares, eight re-hunts.
sed -i "s/^channel_select = preferred/channel_select = exclusive/" "$WORK/tollgate.conf"
ctl reload >/dev/null || fail "reload"
pids=()
for i in 1 2 3 4 5 6 7 8; do
	timeout 30 "$TGCALL" call "sip:212555200$i@127.0.0.1:$SIP_PORT" \
		--local 127.0.0.1 --from 2125550000 --expect 200 --hold 800 \
		--tone 0 > "$WORK/burst$i.json" 2>>"$WORK/tgcall.log" &
	pids+=($!)
	PIDS+=($!)
done
for p in "${pids[@]}"; do
	wait "$p" || fail "a burst call failed: $(cat "$WORK"/burst*.json)"
done
expect_eq "burst: our SETUPs refused with cause 44 (one per glare)" \
	"$(grep '"event":"call"' "$WORK/pstnsim.jsonl" | grep '"called":"21255520' | grep -c '"cause":44')" 8
log "ok: 8 SIP calls crossing 8 network calls all answered"
wait_for "the network's 10 calls" 15 sh -c "[ \$(grep '\"event\":\"call\"' '$WORK/pstnsim.jsonl' | grep -c '\"dir\":\"out\"') -eq 10 ]"
expect_eq "network calls answered" \
	"$(grep '"event":"call"' "$WORK/pstnsim.jsonl" | grep '"dir":"out"' | grep -c '"answered":true')" 10
expect_eq "records that are neither answered nor cause 44" \
	"$(grep '"event":"call"' "$WORK/pstnsim.jsonl" | grep '"answered":false' | grep -vc '"cause":44' || true)" 0
wait_cdrs 20
expect_eq "CDRs not answered" "$(sql "SELECT count(*) FROM cdr WHERE disposition <> 'ANSWERED'")" 0
wait_for "every channel idle" 10 all_idle
ctl --json show channels 1 | grep -Eq '"state":"(releasing|restarting|reserved|in-use)"' &&
	fail "a channel left stuck: $(ctl show channels 1)"
log "ok: after the glare burst every channel is idle"
