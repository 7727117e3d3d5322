#!/usr/bin/env bash
# tests/integration/routing.sh  Routes, failover, limits and LCR, end to end.
#
# The PBX (pbx, NANP numbering) calls through tollgated; routes in the
# database send the calls to a dead SIP trunk, the PRI span (pstnsim) and
# two SIP carriers (tgcall answering on 127.0.0.2 and 127.0.0.3):
#  - a dead SIP trunk fails over to PRI within its 1 s per-attempt timer,
#    and once marked down is skipped without trying;
#  - a congested PRI (cause 34) fails over to a SIP carrier, audio both ways
#    through the RTP relay;
#  - busy (cause 17) does not fail over: 486, the carrier never sees it;
#  - a carrier at its max_calls is skipped for the next;
#  - a DID on a dead trunk reaches its failover destination with its caller-ID;
#  - LCR picks the cheaper carrier, and the other one once its cheaper rate
#    becomes effective, without a reload; the CDR keeps the rate;
#  - international numbers are blocked for a trunk that does not allow them;
#  - `route explain` says which route matched and why;
#  - reloads during 100 calls drop none of them.
. "$(dirname "$0")/lib.sh"

[ -n "${TG_IN_NETNS:-}" ] || { log "SKIP: needs a network namespace"; exit 77; }

CARRIER_PORT=5070
EXTRA="
[trunk deadsip]
type = sip
peer = 127.0.0.9:$CARRIER_PORT
accept_from = 127.0.0.9
down_after = 1
down_time = 60

[trunk carrierA]
type = sip
peer = 127.0.0.2:$CARRIER_PORT
accept_from = 127.0.0.2
max_calls = 1

[trunk carrierB]
type = sip
peer = 127.0.0.3:$CARRIER_PORT
accept_from = 127.0.0.3
"
write_conf
# The PBX dials NANP numbers; the PRI takes national numbers.
nanp_plans
start_pstnsim --rule 2125552000=congestion --rule 2125552001=busy
start_gw

tgctl() { "$TGCTL" -s "$CTL" --db "$DB" "$@"; }
tgctl route add r-dead priority=10 kind=prefix match=1212555100 \
	trunks=deadsip,pstn t_trying=1000 >/dev/null || fail "route add r-dead"
tgctl route add r-cong priority=10 kind=prefix match=1212555200 \
	trunks=pstn,carrierA >/dev/null || fail "route add r-cong"
tgctl route add r-lim priority=10 kind=prefix match=1212555300 \
	trunks=carrierA,carrierB >/dev/null || fail "route add r-lim"
tgctl route add r-lcr priority=20 kind=prefix match=1213 lcr=yes \
	>/dev/null || fail "route add r-lcr"
T=$(( $(date +%s) + 12 ))
cat > "$WORK/a.csv" <<CSV
prefix,rate,connection fee,increment,description
1213,0.010,0,60/60,LA via A
CSV
cat > "$WORK/b.csv" <<CSV
prefix;rate;effective from;effective until;increment;description
1213;0,020;0;$T;6/6;LA via B
1213;0,005;$T;;6/6;LA via B, new price
1213;abc;0;;6/6;a line with a bad rate
CSV
tgctl rates import carrierA "$WORK/a.csv" >/dev/null || fail "import A"
out=$(tgctl rates import carrierB "$WORK/b.csv" 2>&1) || fail "import B: $out"
echo "$out" | grep -q "line 4" || fail "rejected line not reported: $out"
wait_for "routes in the snapshot" 10 sh -c \
	"'$TGCTL' -s '$CTL' route explain 2135550000 | grep -q r-lcr"

# Carriers: tgcall answering with a 1500 Hz tone and listening for 1000 Hz.
"$TGCALL" answer --local "127.0.0.2:$CARRIER_PORT" --tone 1500 --detect 1000 \
	--count 20 --timeout 120 > "$WORK/carrierA.jsonl" 2>"$WORK/carrierA.log" &
PIDS+=($!)
"$TGCALL" answer --local "127.0.0.3:$CARRIER_PORT" --count 20 --timeout 120 \
	> "$WORK/carrierB.jsonl" 2>"$WORK/carrierB.log" &
PIDS+=($!)
sleep 0.3

call() { # NUMBER EXPECT [tgcall options...]
	local n=$1 e=$2
	shift 2
	timeout 30 "$TGCALL" call "sip:$n@127.0.0.1:$SIP_PORT" \
		--local "127.0.0.1:${LOCAL_PORT:-$PBX_PORT}" --from 2125550000 --expect "$e" \
		"$@" 2>>"$WORK/tgcall.log"
}
attempts() { # CALLED: "trunk:outcome ..." of its newest CDR
	sql "SELECT group_concat(trunk || ':' || outcome, ' ') FROM
		(SELECT a.trunk, a.outcome FROM cdr_attempt a JOIN cdr c
		 ON a.cdr_id = c.id WHERE c.called = '$1' ORDER BY
		 c.start_ms DESC, a.n LIMIT 8)" 
}
ms() { date +%s%3N; }

# 1. Dead SIP trunk -> PRI within the 1 s attempt timer.
t0=$(ms)
out=$(call 2125551000 200 --hold 300) || fail "call via dead trunk: $out"
t1=$(ms)
[ $((t1 - t0)) -lt 3500 ] || fail "failover took $((t1 - t0)) ms"
log "ok: dead SIP trunk -> PRI answered after $((t1 - t0)) ms"
wait_cdrs 1
expect_eq "attempts of the first call" "$(attempts 2125551000)" \
	"deadsip:failover pstn:answered"
wait_for "pstnsim got the national number" 5 grep -q '"called":"2125551000","called_ton":2' "$WORK/pstnsim.jsonl"
# Marked down after one unanswered attempt: skipped at once.
t0=$(ms)
out=$(call 2125551001 200 --hold 100) || fail "second call: $out"
t1=$(ms)
[ $((t1 - t0)) -lt 1500 ] || fail "down trunk still cost $((t1 - t0)) ms"
wait_cdrs 2
expect_eq "attempts with the trunk down" "$(attempts 2125551001)" \
	"deadsip:skipped: down pstn:answered"
ctl show trunks | grep -Eq '^deadsip +sip .* down ' || fail "show trunks: $(ctl show trunks)"

# 2. Congested PRI (cause 34) -> SIP carrier, audio both ways (RTP relay).
out=$(call 2125552000 200 --tone 1000 --detect 1500 --hold 1500) ||
	fail "congestion failover: $out"
tone_ok() { awk -v r="$1" 'BEGIN { exit !(r >= 0.9) }'; }
tone_ok "$(json_field "$out" rx_tone_ratio)" || fail "caller did not hear the carrier: $out"
log "ok: the caller heard the carrier's tone"
wait_cdrs 3
expect_eq "attempts after congestion" "$(attempts 2125552000)" \
	"pstn:failover carrierA:answered"
wait_for "carrierA record" 5 grep -q '"status":200' "$WORK/carrierA.jsonl"
rec=$(grep '"status":200' "$WORK/carrierA.jsonl" | head -1)
tone_ok "$(json_field "$rec" rx_tone_ratio)" || fail "carrier did not hear the caller: $rec"
log "ok: the carrier heard the caller's tone"

# 3. Busy: no failover, 486 with cause 17.
out=$(call 2125552001 486) || fail "busy: $out"
expect_eq "busy Reason cause" "$(json_field "$out" reason_cause)" 17
wait_cdrs 4
expect_eq "attempts on busy" "$(attempts 2125552001)" "pstn:final"
expect_eq "calls carrierA saw" "$(grep -c '"call_id"' "$WORK/carrierA.jsonl" || true)" 1

# 4. carrierA at max_calls = 1: the second call skips it.
call 2125553000 200 --hold 3000 > "$WORK/held.json" &
held=$!
wait_for "the held call on carrierA" 5 sh -c \
	"'$TGCTL' -s '$CTL' show calls | grep -q carrierA"
out=$(LOCAL_PORT=5081 call 2125553001 200 --hold 100) || fail "limit call: $out"
wait "$held" || fail "held call: $(cat "$WORK/held.json")"
wait_cdrs 6
expect_eq "attempts with carrierA full" "$(attempts 2125553001)" \
	"carrierA:skipped: full carrierB:answered"

# 5. LCR: A is cheaper now, B from $T on, with no reload in between.
out=$(call 2135550000 200 --hold 100) || fail "LCR call 1: $out"
wait_cdrs 7
expect_eq "LCR before the new rate" "$(sql "SELECT out_trunk || ' ' ||
	rate_prefix || ' ' || rate FROM cdr WHERE called = '2135550000'")" \
	"carrierA 1213 10000"
explain=$(ctl --json route explain 2135550001 --at "$((T + 5))")
expect_eq "explain at T+5: first attempt" \
	"$(echo "$explain" | grep -o '"attempts":\[{"trunk":"[^"]*"' | sed 's/.*"trunk":"//; s/"//')" carrierB
now=$(date +%s)
[ "$now" -ge "$T" ] || sleep $((T - now + 1))
out=$(call 2135550001 200 --hold 1200) || fail "LCR call 2: $out"
wait_cdrs 8
expect_eq "LCR after the new rate" "$(sql "SELECT out_trunk || ' ' ||
	rate_prefix || ' ' || rate || ' ' || (cost > 0) FROM cdr
	WHERE called = '2135550001'")" "carrierB 1213 5000 1"

# 5b. A DID on the dead trunk: its failover destination, with its caller-ID.
tgctl did add 12125557700 12125557709 deadsip cid=12125550999 \
	failover=carrierB >/dev/null || fail "did add"
out=$(call 2125557705 200 --hold 100) || fail "DID failover call: $out"
wait_for "the DID call's CDR" 10 sh -c "[ \"\$(sqlite3 '$DB' \"SELECT count(*) FROM cdr WHERE called = '2125557705'\")\" = 1 ]"
att=$(attempts 2125557705)
case "$att" in
"deadsip:skipped: down carrierB:answered" | "deadsip:failover carrierB:answered") ;;
*) fail "DID attempts: $att" ;;
esac
log "ok: DID on a dead trunk went to its failover ($att)"
expect_eq "caller-ID shown to the DID's failover" \
	"$(json_field "$(tail -1 "$WORK/carrierB.jsonl")" from_user)" 12125550999

# 6. International is blocked for pbx (no allow = international).
out=$(call 01144201234567 403) || fail "international: $out"
expect_eq "blocked call cause" "$(json_field "$out" reason_cause)" 21

# 7. route explain, in words.
text=$(ctl route explain 2125552000)
echo "$text" | grep -q "r-cong" || fail "explain: $text"
echo "$text" | grep -Eq "1\. +pstn" || fail "explain attempts: $text"
echo "$text" | grep -Eq "2\. +carrierA" || fail "explain attempts: $text"
log "ok: route explain names the route and the attempts"

# 7b. A calling-number rule: PBX extensions go out as DIDs.
tgctl rule add ingress number=calling kind=pattern match=_2XXX trunk=pbx \
	actions=prepend=1212555,ton=international,npi=isdn >/dev/null ||
	fail "rule add"
timeout 30 "$TGCALL" call "sip:3125550042@127.0.0.1:$SIP_PORT" \
	--local "127.0.0.1:$PBX_PORT" --from 2001 --expect 200 --hold 100 \
	>/dev/null 2>>"$WORK/tgcall.log" || fail "extension call"
wait_for "pstnsim record of the extension call" 5 grep -q \
	'"calling":"2125552001","called":"3125550042"' "$WORK/pstnsim.jsonl"
log "ok: extension 2001 went out as 2125552001 (national) on the PRI"

# 8. Reloads under load: 100 calls through the default route, 5 reloads.
timeout 60 sipp -sf "$SIPP_DIR/uac.xml" "127.0.0.1:$SIP_PORT" -i 127.0.0.1 \
	-p "$PBX_PORT" -s 2125559000 -m 100 -r 20 -d 500 -nostdin \
	> "$WORK/sipp.log" 2>&1 &
sipp_pid=$!
for _ in 1 2 3 4 5; do
	sleep 0.6
	ctl reload | grep -q "reloaded" || fail "reload under load"
done
wait "$sipp_pid" || fail "SIPp calls failed during reloads"
load_cdrs_ge() { [ "$(sql "SELECT count(*) FROM cdr WHERE called = '2125559000'")" -ge 100 ]; }
wait_for "100 CDRs of the load" 20 load_cdrs_ge
expect_eq "answered calls during reloads" "$(sql "SELECT count(*) FROM cdr
	WHERE called = '2125559000' AND disposition = 'ANSWERED'
	AND route = 'config-outbound'")" 100
