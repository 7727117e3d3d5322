#!/usr/bin/env bash
# tests/integration/loop.sh  Loops: a route that sends SIP calls back to
# the gateway itself must end, not multiply.  Each pass through our B2BUA
# lowers Max-Forwards by one (RFC 3261 16.6 as a loop guard), so the 70th
# INVITE it sends goes with none left and gets 483; the caller hears 483 back
# through every pass, and every pass is cleared.  A merged request (the
# same INVITE by another branch while the first is in progress, RFC 3261
# 8.2.2.2) gets 482.
. "$(dirname "$0")/lib.sh"

EXTRA="
[trunk self]
type = sip
peer = 127.0.0.1:$SIP_PORT
options_interval = 0
"
write_conf
start_pstnsim --rule 5551703=noanswer
start_gw
"$TGCTL" -s "$CTL" --db "$DB" route add loop priority=1 kind=prefix \
	match=5559 trunks=self >/dev/null || fail "route add"
wait_for "the route" 10 sh -c "'$TGCTL' -s '$CTL' route explain 5559001 --from pbx | grep -q loop"

out=$(timeout 30 "$TGCALL" call "sip:5559001@127.0.0.1:$SIP_PORT" \
	--local "127.0.0.1:$PBX_PORT" --expect 483 --timeout 20 \
	2>>"$WORK/tgcall.log") || fail "the looping call: $out"
log "ok: the looping call ended with 483"
wait_cdrs 70 20
expect_eq "passes through the gateway" "$(sql "SELECT count(*) FROM cdr")" 70
expect_eq "passes refused for no hops left" "$(sql "SELECT count(*) FROM cdr
	WHERE sip_status = 483 AND q850_cause = 25")" 70
grep -q 'Too Many Hops' "$WORK/tollgated.log" || fail "no 483 in the log"
wait_for "every pass to be cleared" 10 sh -c \
	"'$TGCTL' -s '$CTL' show calls | grep -qx '0 call(s)'"

# A merged request: the same INVITE again with another branch.
python3 - "$SIP_PORT" "$PBX_PORT" > "$WORK/merged.log" 2>&1 <<'PY' ||
import socket, sys, time
gw, me = int(sys.argv[1]), int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", me))
s.settimeout(5)
sdp = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
       "t=0 0\r\nm=audio 40000 RTP/AVP 0\r\n")
def invite(branch):
    return ("INVITE sip:5551703@127.0.0.1:%d SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s\r\n"
            "From: <sip:2125550000@127.0.0.1>;tag=merge1\r\n"
            "To: <sip:5551703@127.0.0.1>\r\nCall-ID: merged@loop\r\n"
            "CSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
            "Contact: <sip:2125550000@127.0.0.1:%d>\r\n"
            "Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s"
            % (gw, me, branch, me, len(sdp), sdp)).encode()
def status_for(branch, want):
    end = time.time() + 5
    while time.time() < end:
        data = s.recv(65535).decode(errors="replace")
        first = data.split("\r\n", 1)[0]
        if branch in data and first.split(" ")[1] in want:
            return first
    raise SystemExit("no %s for branch %s" % (want, branch))
s.sendto(invite("first"), ("127.0.0.1", gw))
print(status_for("first", ("100", "180", "183")))
s.sendto(invite("other"), ("127.0.0.1", gw))
print(status_for("other", ("482",)))
PY
	fail "merged request: $(cat "$WORK/merged.log")"
grep -q 'SIP/2.0 482 Loop Detected' "$WORK/merged.log" ||
	fail "no 482: $(cat "$WORK/merged.log")"
log "ok: a merged request gets 482 Loop Detected"
