# tests/integration/kamailio/common.sh  What kamailio.sh and kamailio_tls.sh
# share: a provider (SIPp) behind kamailio on 127.0.0.4, kamailio on
# 127.0.0.3, the provider trunk's DIDs 5557000-5557099.  Sourced after
# lib.sh.

# The addresses kamailio and the provider live on (the test's namespace).
kam_addrs() {
	ip addr add 127.0.0.3/8 dev lo 2>/dev/null || true
	ip addr add 127.0.0.4/8 dev lo 2>/dev/null || true
}

# start_kam CFG LOG: kamailio on CFG, its log in LOG; KAM_PID.
start_kam() {
	mkdir -p "$WORK/kam"
	kamailio -f "$1" -DD -E -n 1 -Y "$WORK/kam" 2> "$2" &
	KAM_PID=$!
	PIDS+=("$KAM_PID")
}

# provider_dids: the DIDs calls from the provider are for.
provider_dids() {
	"$TGCTL" -s "$CTL" --db "$DB" did add 5557000 5557099 provider \
		>/dev/null || fail "did add"
}

# pstn_to_provider: SIPp answers as the provider behind the proxy, and
# pstnsim calls 5557001 once; the call's pstnsim record is in $REC and
# what SIPp got in $WORK/provider_msg.log.
pstn_to_provider() {
	local pid
	sipp -sn uas -i 127.0.0.4 -p 5060 -m 1 -nostdin -bg \
		-trace_msg -message_file "$WORK/provider_msg.log" \
		> "$WORK/sipp_uas.out" 2>&1 || true
	pid=$(grep -o 'PID=\[[0-9]*\]' "$WORK/sipp_uas.out" | tr -dc 0-9)
	[ -n "$pid" ] || fail "sipp did not start: $(cat "$WORK/sipp_uas.out")"
	PIDS+=("$pid")
	kill -TERM "$PSTN_PID"; wait "$PSTN_PID" 2>/dev/null || true
	start_pstnsim --originate 1 --rate 1 --to 5557001 --from 2125559999 \
		--hold 1000 --exit-when-done
	wait_for "the call to the provider" 30 sh -c "! kill -0 $PSTN_PID"
	wait_for "SIPp to take the BYE" 10 sh -c "! kill -0 $pid"
	REC=$(grep '"event":"call"' "$WORK/pstnsim.jsonl")
}

# provider_to_pstn: SIPp calls from behind the proxy; both calls' CDRs.
provider_to_pstn() {
	start_pstnsim
	wait_for "the span" 20 span_up
	timeout 30 sipp -sf "$SIPP_DIR/uac.xml" -s 2125550123 -i 127.0.0.4 \
		-p 5062 -m 1 -d 500 -nostdin 127.0.0.3:5060 \
		> "$WORK/sipp_uac.log" 2>&1 ||
		fail "the provider's call failed: $(tail -20 "$WORK/sipp_uac.log")"
	wait_cdrs 2
	expect_eq "CDRs of both calls" "$(sql "SELECT group_concat(direction
		|| ',' || in_trunk || ',' || out_trunk || ',' || disposition,
		' ') FROM (SELECT * FROM cdr ORDER BY start_ms)")" \
		"inbound,pstn,provider,ANSWERED outbound,provider,pstn,ANSWERED"
}
