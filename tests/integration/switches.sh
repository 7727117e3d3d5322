#!/usr/bin/env bash
# tests/integration/switches.sh  Every libpri switch type, both roles:
# Tollgate as the CPE toward pstnsim's network side, and as the network
# toward pstnsim as a CPE (a legacy PBX).  For each: a SIP call out onto
# the PRI is answered, and a call pstnsim originates to a DID reaches the
# PBX and is answered; the CDRs say so.
. "$(dirname "$0")/lib.sh"

# stop_all: the gateway and the line, for the next combination.
stop_all() {
	kill -TERM "$GW_PID" 2>/dev/null || true
	wait "$GW_PID" 2>/dev/null || true
	kill -TERM "$PSTN_PID" 2>/dev/null || true
	wait "$PSTN_PID" 2>/dev/null || true
}

combos=0
for sw in ni2 ni1 dms100 lucent5e att4ess euroisdn_e1 euroisdn_t1 qsig; do
	for side in cpe network; do
		SWITCH=$sw
		SPAN_TYPE=t1
		[ "$sw" = euroisdn_e1 ] && SPAN_TYPE=e1
		export SWITCH SPAN_TYPE
		peer=network
		[ "$side" = network ] && peer=cpe
		rm -f "$DB" "$DB-wal" "$DB-shm"
		write_conf
		sed -i "s/^side = cpe$/side = $side/" "$WORK/tollgate.conf"
		start_pstnsim --side "$peer"
		start_gw
		what="$sw, tollgatectl on the $side side"

		# SIP -> PRI.
		out=$(timeout 20 "$TGCALL" call "sip:2125551234@127.0.0.1:$SIP_PORT" \
			--local 127.0.0.1 --from 2125550000 --expect 200 --hold 200 \
			2>>"$WORK/tgcall.log") || fail "$what: SIP -> PRI: $out"

		# PRI -> SIP: pstnsim originates one call to a DID; the PBX answers.
		"$TGCALL" answer --local "127.0.0.1:$PBX_PORT" --count 1 --timeout 20 \
			> "$WORK/pbx.jsonl" 2>>"$WORK/pbx.log" &
		PBX=$!
		PIDS+=("$PBX")
		sleep 0.2
		kill -TERM "$PSTN_PID"; wait "$PSTN_PID" 2>/dev/null || true
		start_pstnsim --side "$peer" --originate 1 --rate 1 --to 5550100 \
			--from 2125559999 --hold 300 --exit-when-done
		wait_for "$what: pstnsim's call" 20 sh -c "! kill -0 $PSTN_PID"
		summary=$(grep '"event":"summary"' "$WORK/pstnsim.jsonl")
		expect_eq "$what: PRI -> SIP answered" "$(json_field "$summary" answered)" 1
		wait "$PBX" || fail "$what: the PBX: $(cat "$WORK/pbx.jsonl")"
		wait_cdrs 2
		expect_eq "$what: CDRs" "$(sql "SELECT group_concat(direction || ':' ||
			disposition, ' ') FROM (SELECT * FROM cdr ORDER BY start_ms)")" \
			"outbound:ANSWERED inbound:ANSWERED"
		stop_all
		combos=$((combos + 1))
	done
done
expect_eq "combinations" "$combos" 16
log "ok: every switch type completes calls both ways, in both roles"
