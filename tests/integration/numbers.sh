#!/usr/bin/env bash
# tests/integration/numbers.sh  Type of number and numbering plan, per
# switch type, both ways (NANP plan on both trunks, area 212).
#
#  SIP -> PRI: for each called_format/calling_format of the PRI trunk, the
#  type of number, numbering plan and digits pstnsim sees in the SETUP:
#    e164 -> international/E.164 12125551000, national -> national
#    2125551000, local -> subscriber 5551000, national_prefix -> unknown
#    with the trunk prefix, 12125551000.
#  PRI -> SIP: pstnsim's SETUP with TON international, national and
#  subscriber numbers (and a foreign caller) reaches the PBX with the
#  Request-URI and From its trunk's format asks for (national or +E.164;
#  a foreign number on a national-format trunk keeps its "+").
#  For ni2, dms100 and euroisdn_e1.
. "$(dirname "$0")/lib.sh"

# SIP -> PRI: format | called: digits ton plan | calling: digits ton plan
OUT_CASES="
e164            12125551000 1 1  12125550000 1 1
national        2125551000  2 1  2125550000  2 1
local           5551000     4 1  5550000     4 1
national_prefix 12125551000 0 1  12125550000 0 1
"
# PRI -> SIP: to-plan to | from-plan from | PBX format | R-URI user, From user
IN_CASES="
intl       12125550150 intl       442079460000 plus     +12125550150 +442079460000
intl       12125550150 intl       442079460000 national 2125550150  +442079460000
national   2125550150  national   3125550000   national 2125550150  3125550000
subscriber 5550150     subscriber 5550000      national 2125550150  2125550000
unknown    2125550150  unknown    12125550000  plus     +12125550150 +12125550000
"

stop_all() {
	kill -TERM "$GW_PID" 2>/dev/null || true
	wait "$GW_PID" 2>/dev/null || true
	kill -TERM "$PSTN_PID" 2>/dev/null || true
	wait "$PSTN_PID" 2>/dev/null || true
}

# set_format TRUNK FORMAT: called_format and calling_format, reloaded.
set_format() {
	sed -i "/^\[trunk $1\]/,/^\[/{/^called_format\|^calling_format/d}" "$WORK/tollgate.conf"
	sed -i "/^\[trunk $1\]/a called_format = $2\ncalling_format = $2" "$WORK/tollgate.conf"
	ctl reload >/dev/null || fail "reload for $1 $2"
}

for sw in ni2 dms100 euroisdn_e1; do
	SWITCH=$sw
	SPAN_TYPE=t1
	[ "$sw" = euroisdn_e1 ] && SPAN_TYPE=e1
	export SWITCH SPAN_TYPE
	rm -f "$DB" "$DB-wal" "$DB-shm"
	write_conf
	nanp_plans
	sed -i '/^\[trunk pstn\]/a area_code = 212\nlocal_length = 7' "$WORK/tollgate.conf"
	start_pstnsim --answer-after 0
	start_gw
	"$TGCTL" -s "$CTL" --db "$DB" did add 12125550150 pbx >/dev/null || fail "did add"
	ctl reload >/dev/null || fail "reload"

	n=0
	while read -r fmt called cdton cdplan calling cgton cgplan; do
		[ -n "$fmt" ] || continue
		set_format pstn "$fmt"
		out=$(timeout 20 "$TGCALL" call "sip:2125551000@127.0.0.1:$SIP_PORT" \
			--local 127.0.0.1 --from 2125550000 --expect 200 --hold 100 \
			--tone 0 2>>"$WORK/tgcall.log") || fail "$sw $fmt: $out"
		n=$((n + 1))
		wait_for "$sw $fmt: pstnsim's record" 10 pstnsim_calls_ge "$n"
		rec=$(grep '"event":"call"' "$WORK/pstnsim.jsonl" | tail -1)
		got="$(json_field "$rec" called) $(json_field "$rec" called_ton) $(json_field "$rec" called_plan)"
		got="$got $(json_field "$rec" calling) $(json_field "$rec" calling_ton) $(json_field "$rec" calling_plan)"
		expect_eq "$sw, SIP -> PRI, $fmt: called/calling digits TON NPI" "$got" \
			"$called $cdton $cdplan $calling $cgton $cgplan"
	done <<< "$OUT_CASES"

	while read -r toplan to fromplan from pbxfmt ruri fromuser; do
		[ -n "$toplan" ] || continue
		set_format pbx "$pbxfmt"
		rm -f "$WORK/inv.txt"
		"$TGCALL" answer --local "127.0.0.1:$PBX_PORT" --count 1 --timeout 20 \
			--save-invite "$WORK/inv.txt" > "$WORK/pbx.jsonl" 2>>"$WORK/pbx.log" &
		PBX=$!
		PIDS+=("$PBX")
		kill -TERM "$PSTN_PID" 2>/dev/null || true
		wait "$PSTN_PID" 2>/dev/null || true
		start_pstnsim --originate 1 --to "$to" --to-plan "$toplan" \
			--from "$from" --from-plan "$fromplan" --hold 100 --exit-when-done
		wait_for "$sw $toplan: pstnsim's call" 20 sh -c "! kill -0 $PSTN_PID"
		wait "$PBX" || fail "$sw $toplan: the PBX: $(cat "$WORK/pbx.jsonl")"
		[ -f "$WORK/inv.txt" ] || fail "$sw $toplan: no INVITE saved"
		got=$(sed -n '1s/^INVITE sip:\([^@;]*\)[@;].*/\1/p' "$WORK/inv.txt")
		got="$got $(json_field "$(cat "$WORK/pbx.jsonl")" from_user)"
		expect_eq "$sw, PRI -> SIP, TON $toplan/$fromplan, PBX $pbxfmt: R-URI and From" \
			"$got" "$ruri $fromuser"
	done <<< "$IN_CASES"
	stop_all
done
log "ok: TON/NPI both ways on ni2, dms100 and euroisdn_e1"
