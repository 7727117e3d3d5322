#!/usr/bin/env bash
# tests/integration/auth.sh  Digest authentication both ways.
# (a) inbound, trunk pbx with inbound_user (MD5 only, as SIPp 3.6 takes
#     the first challenge): SIPp is challenged and connects; a wrong
#     password gets 403 and a log line naming it.  Trunk roam has no
#     accept_from: a small UA from a source no trunk accepts is challenged,
#     connects with SHA-256 (offered first, MD5 second) and is recorded
#     from roam; its accepted Authorization replayed on a new INVITE is
#     refused (bad nc); a nonce older than nonce_lifetime gets 401
#     stale=true and the retry connects; an unknown user gets 403; show
#     auth counts it all.
# (b) outbound: a SIPp PBX challenges the gateway's INVITE (401 MD5
#     qop=auth) and verifies the Authorization: a PRI->SIP call connects;
#     its BYE is challenged and answered too;
#     with a wrong auth_password the attempt fails and the CDR says 403.
. "$(dirname "$0")/lib.sh"

UAC=$SRC/tests/integration/digest_uac.py
EXTRA=$(printf '[trunk roam]\ntype = sip\npeer = 127.0.0.1:%s\ninbound_user = roamer\ninbound_password = r0am-pw\n' "$CLI_PORT")
write_conf
sed -i '/^\[sip\]/a realm = tollgate.test\nnonce_lifetime = 2' "$WORK/tollgate.conf"
sed -i '/^\[trunk pbx\]/a inbound_user = pbxuser\ninbound_password = s3cret\ninbound_digest = md5\nauth_user = gwuser\nauth_password = gwpass' \
	"$WORK/tollgate.conf"
start_pstnsim --answer-after 50
start_gw

sipp_uac() { # PASSWORD
	timeout 20 sipp -sf "$SIPP_DIR/uac_auth.xml" "127.0.0.1:$SIP_PORT" \
		-i 127.0.0.1 -p "$PBX_PORT" -s 2125551234 -m 1 -d 200 \
		-au pbxuser -ap "$1" -nostdin -timeout 10 -timeout_error \
		>> "$WORK/sipp.log" 2>&1
}

# (a) SIPp with MD5: 401, then connected.
sipp_uac s3cret || fail "sipp with the right password did not connect"
wait_cdrs 1
expect_eq "MD5 call CDR" "$(sql "SELECT disposition || ',' || in_trunk ||
	',' || out_trunk FROM cdr ORDER BY rowid DESC LIMIT 1")" \
	"ANSWERED,pbx,pstn"
log "ok: SIPp authenticated with MD5 and connected"

# A wrong password: refused, logged with the reason, nothing reaches PRI.
if sipp_uac wrong; then fail "a wrong password connected"; fi
grep -q "INVITE from 127.0.0.1:$PBX_PORT (user pbxuser): digest refused: wrong password" \
	"$WORK/tollgated.log" || fail "no log line naming the wrong password"
grep -q "refused with 403" "$WORK/tollgated.log" || fail "no 403 logged"
log "ok: wrong password refused with 403 and logged"

# From a source no trunk accepts (127.0.0.2): challenged for trunk roam,
# known by the username alone; SHA-256 is offered first, MD5 second.  Its
# accepted Authorization on a new INVITE is a replay.
roam() { # ARGS...
	timeout 20 python3 "$UAC" --gw-port "$SIP_PORT" --bind 127.0.0.2 \
		--port "$CLI_PORT" --to 2125551234 "$@"
}
out=$(roam --rtp 40000 --user roamer --password r0am-pw --alg SHA-256 \
	--replay) || fail "digest_uac: $out"
expect_eq "SHA-256 exchange" "$(echo "$out" | tr '\n' ' ')" \
	"INVITE 401 CHALLENGES SHA-256 MD5 INVITE 200 BYE 200 REPLAY 401 "
grep -q "(user roamer): digest refused: bad nc 00000001 (replayed)" \
	"$WORK/tollgated.log" || fail "no log line naming the replay"
wait_cdrs 2
expect_eq "roam CDR" "$(sql "SELECT disposition || ',' || in_trunk FROM cdr
	ORDER BY rowid DESC LIMIT 1")" "ANSWERED,roam"
log "ok: SHA-256 from an unidentified source connected as trunk roam; the replay was refused"

# A nonce older than nonce_lifetime (2 s): 401 stale=true, retry connects.
out=$(roam --rtp 40002 --user roamer --password r0am-pw --alg MD5 \
	--wait-stale 3.2) || fail "digest_uac: $out"
expect_eq "stale exchange" "$(echo "$out" | tr '\n' ' ')" \
	"INVITE 401 CHALLENGES SHA-256 MD5 INVITE 401 CHALLENGES SHA-256(stale) MD5(stale) INVITE 200 BYE 200 "
grep -q "stale nonce, challenged again" "$WORK/tollgated.log" ||
	fail "no log line for the stale nonce"
log "ok: an expired nonce got stale=true and the retry connected"

out=$(roam --rtp 40004 --user nobody --password x --alg MD5) ||
	fail "digest_uac: $out"
expect_eq "unknown user" "$(echo "$out" | tail -1)" "INVITE 403"
grep -q "(user nobody): digest refused: unknown user" "$WORK/tollgated.log" ||
	fail "no log line naming the unknown user"
log "ok: an unknown user got 403"

# An answer computed for another Request-URI (RFC 7616 3.4.6): 403.
out=$(roam --rtp 40006 --user roamer --password r0am-pw --alg SHA-256 \
	--other-uri) || fail "digest_uac: $out"
expect_eq "digest for another Request-URI" "$(echo "$out" | tail -1)" "INVITE 403"
grep -q "(user roamer): digest refused: a uri= that is not the Request-URI" \
	"$WORK/tollgated.log" || fail "no log line naming the uri mismatch"
log "ok: a digest for another Request-URI got 403"

st=$(ctl --json show auth)
expect_eq "accepted" "$(json_field "$st" accepted)" 3
expect_eq "failed" "$(json_field "$st" failed)" 3
expect_eq "stale" "$(json_field "$st" stale)" 1
expect_eq "replayed" "$(json_field "$st" replayed)" 1
log "ok: show auth counts them"

# (b) outbound: the PBX challenges our INVITE.
SIPP_PID=
UAS_N=0
sipp_uas() {
	# One PBX at a time on its port: the last one has finished its call.
	if [ -n "$SIPP_PID" ]; then
		wait_for "the last SIPp PBX to exit" 10 sh -c "! kill -0 $SIPP_PID"
	fi
	sipp -sf "$SIPP_DIR/uas_auth.xml" -i 127.0.0.1 -p "$PBX_PORT" -m 1 \
		-trace_msg -message_file "$WORK/sipp_uas.$((++UAS_N)).msg.log" \
		-trace_err -error_file "$WORK/sipp_uas.$UAS_N.err.log" \
		-nostdin -bg > "$WORK/sipp_uas.log" 2>&1 || true
	SIPP_PID=$(grep -o 'PID=\[[0-9]*\]' "$WORK/sipp_uas.log" | tr -dc 0-9)
	[ -n "$SIPP_PID" ] && PIDS+=("$SIPP_PID")
}
originate() {
	kill -TERM "$PSTN_PID" 2>/dev/null || true
	wait "$PSTN_PID" 2>/dev/null || true
	start_pstnsim --originate 1 --rate 1 --to 5550100 --from 2125559999 \
		--hold 500 --exit-when-done
	wait_for "pstnsim to finish" 20 sh -c "! kill -0 $PSTN_PID"
}
n=$(sql 'SELECT count(*) FROM cdr')
sipp_uas
originate
summary=$(grep '"event":"summary"' "$WORK/pstnsim.jsonl")
expect_eq "PRI->SIP answered through the challenge" \
	"$(json_field "$summary" answered)" 1
wait_cdrs $((n + 1))
expect_eq "outbound challenged CDR" "$(sql "SELECT disposition || ',' ||
	out_trunk || ',' || sip_status FROM cdr ORDER BY rowid DESC LIMIT 1")" \
	"ANSWERED,pbx,200"
grep -q "401, INVITE resent with credentials (CSeq " "$WORK/tollgated.log" ||
	fail "no log of the resent INVITE"
wait_for "the SIPp PBX to finish" 10 sh -c "! kill -0 $SIPP_PID"
expect_eq "INVITE and BYE sent with credentials" \
	"$(grep -c '^Authorization: Digest username="gwuser", realm="pbx.test"' \
		"$WORK/sipp_uas.1.msg.log")" 2
expect_eq "the PBX's answers" "$(grep -E '^SIP/2.0 [0-9]+' \
	"$WORK/sipp_uas.1.msg.log" | tr -d '\r' | tr '\n' ' ')" \
	"SIP/2.0 401 Unauthorized SIP/2.0 200 OK SIP/2.0 401 Unauthorized SIP/2.0 200 OK "
log "ok: the gateway answered the PBX's 401s to its INVITE and BYE; the call connected"

# A wrong auth_password: the PBX says 403 and the attempt fails.
sed -i 's/^auth_password = gwpass/auth_password = nope/' "$WORK/tollgate.conf"
kill -HUP "$GW_PID"
wait_for "reload" 5 grep -q "reloaded:" "$WORK/tollgated.log"
sleep 0.5
sipp_uas
originate
call=$(grep '"event":"call"' "$WORK/pstnsim.jsonl" | head -1)
expect_eq "wrong credentials: not answered" "$(json_field "$call" answered)" false
wait_cdrs $((n + 2))
expect_eq "outbound refused CDR" "$(sql "SELECT disposition || ',' ||
	out_trunk || ',' || sip_status FROM cdr ORDER BY rowid DESC LIMIT 1")" \
	"FAILED,pbx,403"
log "ok: with a wrong auth_password the attempt failed with 403 in the CDR"
