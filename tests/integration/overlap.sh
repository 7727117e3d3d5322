#!/usr/bin/env bash
# tests/integration/overlap.sh  Overlap receiving (Q.931 5.1.3) on an E1
# EuroISDN span: pstnsim sends the first digits in the SETUP and the rest
# one by one in INFORMATION; tollgated answers SETUP ACKNOWLEDGE, collects
# them and sends the PBX one en-bloc INVITE.
#
#  - The number ends when T302 expires after the last digit (t302 = 1500):
#    the PBX gets INVITE sip:5550100, no sooner than T302 after the digits.
#  - With overlap_digits = 7 the call is routed at the 7th digit, without
#    waiting for T302 (now 4000).
#  - An emergency number is routed the moment it is complete: 911 does not
#    wait for T302.
SPAN_TYPE=e1 SWITCH=euroisdn_e1
export SPAN_TYPE SWITCH
. "$(dirname "$0")/lib.sh"

write_conf
sed -i '/^\[span 1\]/a overlap = yes\nt302 = 1500' "$WORK/tollgate.conf"
start_pstnsim
start_gw

# originate NUMBER K: pstnsim calls NUMBER with K digits in the SETUP; a
# PBX answers.  MS: the ms from pstnsim's SETUP to its answer.  (Not in
# a $(...): the subshell could not wait for pstnsim.)
originate() {
	rm -f "$WORK/inv.txt"
	"$TGCALL" answer --local "127.0.0.1:$PBX_PORT" --count 1 --timeout 20 \
		--save-invite "$WORK/inv.txt" > "$WORK/pbx.jsonl" 2>>"$WORK/pbx.log" &
	PIDS+=($!)
	sleep 0.2
	kill -TERM "$PSTN_PID" 2>/dev/null || true; wait "$PSTN_PID" 2>/dev/null || true
	start_pstnsim --originate 1 --rate 1 --to "$1" --overlap "$2" \
		--from 2125559999 --hold 200 --exit-when-done
	wait_for "pstnsim's call to $1" 20 sh -c "! kill -0 $PSTN_PID"
	rec=$(grep '"event":"call"' "$WORK/pstnsim.jsonl" | tail -1)
	[ "$(json_field "$rec" answered)" = true ] || fail "the call to $1 was not answered: $rec"
	MS=$(( $(json_field "$rec" answer_ms) - $(json_field "$rec" setup_ms) ))
}

originate 5550100 3; ms=$MS
grep -q '^INVITE sip:5550100@' "$WORK/inv.txt" || fail "INVITE: $(head -1 "$WORK/inv.txt")"
# 4 digits 100 ms apart, then T302 (1.5 s), then the PBX answers.
[ "$ms" -ge 1800 ] || fail "routed before T302 expired: answered after $ms ms"
log "ok: overlap receiving, number ended by T302 (answered after $ms ms)"

sed -i '/^\[span 1\]/a overlap_digits = 7' "$WORK/tollgate.conf"
sed -i 's/^t302 = 1500$/t302 = 4000/' "$WORK/tollgate.conf"
ctl reload >/dev/null || fail "reload"
originate 5550101 2; ms=$MS
grep -q '^INVITE sip:5550101@' "$WORK/inv.txt" || fail "INVITE: $(head -1 "$WORK/inv.txt")"
[ "$ms" -lt 3000 ] || fail "waited for T302 with overlap_digits = 7: $ms ms"
log "ok: routed at the 7th digit ($ms ms)"

# 911 over the PRI (a legacy PBX on the network side of us dials it so)
# is routed the moment it is complete; here its route is the IP-PBX.
sed -i '/^overlap_digits = 7$/d' "$WORK/tollgate.conf"
"$TGCTL" -s "$CTL" --db "$DB" route add r911 priority=1 kind=prefix match=911 \
	trunks=pbx >/dev/null || fail "route add"
ctl reload >/dev/null || fail "reload"
originate 911 1; ms=$MS
grep -q '^INVITE sip:911@' "$WORK/inv.txt" || fail "INVITE: $(head -1 "$WORK/inv.txt")"
grep -qx 'Priority: emergency' "$WORK/inv.txt" || fail "no Priority: emergency"
grep -q "EMERGENCY call 2125559999 -> 911" "$WORK/tollgated.log" ||
	fail "911 over overlap was not taken as an emergency call"
[ "$ms" -lt 3000 ] || fail "911 waited for T302 (4 s): answered after $ms ms"
log "ok: 911 by overlap routed at once ($ms ms)"
