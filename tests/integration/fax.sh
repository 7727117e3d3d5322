#!/usr/bin/env bash
# tests/integration/fax.sh  A fax page across the gateway (docs/fax.md):
# pstnsim's fax terminal on the B-channel, faxterm on the SIP side.
# 1. PSTN -> SIP with t38 = yes: tollgated hears the PSTN fax's CNG,
#    re-INVITEs the SIP side to T.38 (m=image udptl t38), which answers;
#    the page goes over UDPTL to a T.38 terminal; refresh re-INVITEs
#    both ways in the middle of it (the SIP side's, and tollgated's own
#    every 4 s: session_expires = 8) change nothing.
# 2. SIP -> PSTN with t38 = yes: the PSTN fax answers, its CED sends the
#    re-INVITE to T.38 the other way, the T.38 terminal sends the page.
# 3. PSTN -> SIP with t38 = yes, the SIP side refuses T.38 (488): the
#    fax goes as G.711 pass-through on the audio session.
# 3b. SIP -> PSTN, the SIP side re-INVITEs to T.38 itself at once:
#    tollgated answers with m=image and the page goes.
# 4. PSTN -> SIP with t38 = no: G.711 pass-through (no re-INVITE; echo
#    canceller off, jitter buffer fixed).
# Each page arrives row for row (faxpage check), both fax machines end
# T.30 well with one page, and the CDR says the call was answered and
# what its fax was: t38 with the page counted and its rate, or g711.
. "$(dirname "$0")/lib.sh"

UA=$SRC/tests/integration/fax_ua.py
FAXTERM=$BUILD/tests/tools/faxterm
FAXPAGE=$BUILD/tests/tools/faxpage
RTP_A=$(free_udp_port)
RTP_B=$(free_udp_port)
FAX_PORT=$(free_udp_port)
"$FAXPAGE" write "$WORK/page.tif" || fail "cannot write the test page"

# The pbx trunk's t38; a G.711 fax gets a fixed jitter buffer of jb_min,
# here 200 ms: faxterm's clock is a loaded test machine's.  Session
# timers of 8 s: tollgated refreshes during the fax.
gw_t38() {
	write_conf
	sed -i "/^\[trunk pbx\]/a t38 = $1\njb_min = 200\njb_max = 300\nsession_expires = 8\nmin_se = 8" \
		"$WORK/tollgate.conf"
}

ua() {
	timeout 150 python3 "$UA" --gw "127.0.0.1:$SIP_PORT" \
		--local "127.0.0.1:$PBX_PORT" --rtp "$RTP_A,$RTP_B" \
		--fax-port "$FAX_PORT" --faxterm "$FAXTERM" "$@"
}

# The pstnsim record of the last call: T.30 ended well, one page.
check_pstn_fax() {
	local rec
	wait_for "pstnsim's record of the fax call" 20 pstnsim_calls_ge 1
	rec=$(grep '"event":"call"' "$WORK/pstnsim.jsonl" | tail -1)
	expect_eq "$1: the PSTN fax's T.30 result" "$(json_field "$rec" \
		fax_result)" 0
	expect_eq "$1: pages the PSTN fax counted" "$(json_field "$rec" \
		fax_pages)" 1
}

stop_pstnsim() {
	kill -TERM "$PSTN_PID"
	wait "$PSTN_PID" 2>/dev/null || true
}

# pstnsim's fax calls the SIP side, which receives the page (@p $1: its
# mode, $2: the case's number, $3: its name).
pstn_to_sip() {
	stop_pstnsim
	ua --role answer --mode "$1" --file "$WORK/rx$2.tif" ${4:-} \
		> "$WORK/ua$2.log" 2>&1 &
	UA_PID=$!
	PIDS+=("$UA_PID")
	start_pstnsim --originate 1 --rate 1 --to 5550100 --from 2125559999 \
		--hold 120000 --media "fax-send:$WORK/page.tif"
	wait "$UA_PID" || { cat "$WORK/ua$2.log" >&2; fail "$3 fax"; }
	log "$3: $(grep -c '^ok:' "$WORK/ua$2.log") checks passed"
	"$FAXPAGE" check "$WORK/rx$2.tif" || fail "$3: page differs"
	log "ok: $3: the page arrived row for row"
	check_pstn_fax "$3"
}

# The SIP side calls pstnsim's fax, which receives the page (as
# pstn_to_sip).
sip_to_pstn() {
	stop_pstnsim
	start_pstnsim --media "fax-recv:$WORK/rx$2.tif"
	wait_for "the span up again" 20 span_up
	ua --role call --mode "$1" --number 2125551234 \
		--file "$WORK/page.tif" > "$WORK/ua$2.log" 2>&1 ||
		{ cat "$WORK/ua$2.log" >&2; fail "$3 fax"; }
	log "$3: $(grep -c '^ok:' "$WORK/ua$2.log") checks passed"
	check_pstn_fax "$3"
	"$FAXPAGE" check "$WORK/rx$2.tif" || fail "$3: page differs"
	log "ok: $3: the page arrived row for row"
}

gw_t38 yes
start_pstnsim
start_gw

# fax_cdr: the newest CDR's "fax pages rate-known".
fax_cdr() { sql "SELECT coalesce(fax, '-') || ' ' || coalesce(fax_pages, '-')
	|| ' ' || (coalesce(fax_bit_rate, 0) >= 2400) FROM cdr
	ORDER BY rowid DESC LIMIT 1"; }

# 1. PSTN -> T.38.
pstn_to_sip t38 1 "PSTN -> T.38" --refreshes=2
grep -q "T.38 to 127.0.0.1" "$WORK/tollgated.log" ||
	fail "tollgated did not say it moved the call to T.38"
wait_cdrs 1
expect_eq "CDR of the T.38 call" "$(sql "SELECT direction || ' ' ||
	disposition FROM cdr ORDER BY rowid DESC LIMIT 1")" "inbound ANSWERED"
expect_eq "the T.38 call's fax in the CDR" "$(fax_cdr)" "t38 1 1"
ctl --json cdr tail 1 | grep -Eq '"fax":\{"kind":"t38","pages":1,"bit_rate":[0-9]+\}' ||
	fail "cdr tail --json has no T.38 fax: $(ctl --json cdr tail 1)"

# 2. T.38 -> PSTN.
sip_to_pstn t38 2 "T.38 -> PSTN"
wait_cdrs 2
expect_eq "the T.38 -> PSTN call's fax in the CDR" "$(fax_cdr)" "t38 1 1"

# 3. T.38 refused: G.711 pass-through.
pstn_to_sip refuse 3 "T.38 refused"
grep -q "fax as G.711 pass-through (T.38 refused)" "$WORK/tollgated.log" ||
	fail "tollgated did not fall back to G.711 after the 488"
log "ok: after the 488 tollgated fell back to G.711 pass-through"
wait_cdrs 3
expect_eq "the refused call's fax in the CDR" "$(fax_cdr)" "g711 - 0"

# 3b. The SIP side's own re-INVITE to T.38.
sip_to_pstn offer 5 "SIP side offers T.38"

# 4. G.711 pass-through (t38 = no).
stop_pstnsim
kill -TERM "$GW_PID"
wait "$GW_PID" 2>/dev/null || true
gw_t38 no
start_pstnsim
start_gw
pstn_to_sip g711 4 "G.711 pass-through"
grep -q "fax as G.711 pass-through (t38 = no)" "$WORK/tollgated.log" ||
	fail "tollgated did not switch the call to G.711 pass-through"
log "ok: tollgated switched the call to G.711 pass-through"
wait_cdrs 5
expect_eq "the t38 = no call's fax in the CDR" "$(fax_cdr)" "g711 - 0"
ctl --json cdr tail 1 | grep -q '"fax":{"kind":"g711"}' ||
	fail "cdr tail --json has no G.711 fax: $(ctl --json cdr tail 1)"
