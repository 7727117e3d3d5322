#!/usr/bin/env bash
# tests/integration/options.sh  OPTIONS keep-alive of SIP trunks.
#
# Trunk "primary" (tgcall answering on 127.0.0.2, which answers OPTIONS 200)
# is probed every second, down after 2 unanswered probes, up after 2
# answered ones; "backup" (127.0.0.3) is not probed; "picky" (SIPp on
# 127.0.0.4) answers every OPTIONS 405.  A route sends calls to
# primary, then backup.
#  - primary comes up from the probes, and calls go to it;
#  - its peer killed, it is down within options_down probes, show trunks
#    says why, and the next call goes straight to backup: the CDR has no
#    attempt on primary but "skipped: down", and no 1 s attempt timer spent;
#  - its peer back, it is up within options_up probes, and calls use it;
#  - a 405 to OPTIONS is an answer: picky is up, with code 405;
#  - a reload that turns picky's probing off stops its probes;
#  - the OPTIONS we send decode in tshark with no malformed packet, with
#    Max-Forwards 70, a From tag and a fresh Call-ID per probe;
#  - OPTIONS we receive (and refusals of unknown sources) are answered
#    without state, yet a retransmission gets the same answer, To tag
#    included (RFC 3261 8.2.7), and another request another tag.
. "$(dirname "$0")/lib.sh"

[ -n "${TG_IN_NETNS:-}" ] || { log "SKIP: needs a network namespace"; exit 77; }
command -v sipp >/dev/null || { log "SKIP: sipp not installed"; exit 77; }

PEER_PORT=5070
EXTRA="
[trunk primary]
type = sip
peer = 127.0.0.2:$PEER_PORT
accept_from = 127.0.0.2
down_after = 0
options_interval = 1
options_down = 2
options_up = 2
options_timeout = 500

[trunk backup]
type = sip
peer = 127.0.0.3:$PEER_PORT
accept_from = 127.0.0.3

[trunk picky]
type = sip
peer = 127.0.0.4:$PEER_PORT
accept_from = 127.0.0.4
options_interval = 1
"
write_conf
start_pstnsim

HAVE_TSHARK=
if command -v tshark >/dev/null; then
	tshark -q -i lo -f "udp port $PEER_PORT" -w "$WORK/cap.pcapng" \
		> "$WORK/tshark.log" 2>&1 &
	TSHARK=$!
	PIDS+=("$TSHARK")
	wait_for "tshark to capture" 10 grep -q "Capturing on" "$WORK/tshark.log"
	HAVE_TSHARK=1
fi

answer() { # ADDR LOG: a carrier that answers calls and OPTIONS
	"$TGCALL" answer --local "$1:$PEER_PORT" --count 20 --timeout 60 \
		>> "$WORK/$2.jsonl" 2>>"$WORK/$2.log" &
	PIDS+=($!)
	LAST_PID=$!
}
answer 127.0.0.2 primary
PRIMARY=$LAST_PID
answer 127.0.0.3 backup
sipp -sf "$SIPP_DIR/uas_options_405.xml" -i 127.0.0.4 -p "$PEER_PORT" -nostdin \
	> "$WORK/sipp-picky.log" 2>&1 &
PIDS+=($!)
start_gw

tgctl() { "$TGCTL" -s "$CTL" --db "$DB" "$@"; }
tgctl route add r-opt priority=10 kind=prefix match=212555 \
	trunks=primary,backup t_trying=1000 >/dev/null || fail "route add"
wait_for "the route in the snapshot" 10 sh -c \
	"'$TGCTL' -s '$CTL' route explain 2125551000 | grep -q r-opt"

trunk() { # NAME FIELD: a field of the trunk's `show trunks --json` object
	json_field "$(ctl --json show trunks | tr '}' '\n' |
		grep "\"name\":\"$1\"")" "$2"
}
health_is() { [ "$(trunk "$1" health)" = "$2" ]; }
call() { # NUMBER
	timeout 20 "$TGCALL" call "sip:$1@127.0.0.1:$SIP_PORT" \
		--local "127.0.0.1:$PBX_PORT" --from 2125550000 --expect 200 \
		--hold 200 2>>"$WORK/tgcall.log"
}
attempts() { # CALLED: "trunk:outcome ..." of its newest CDR
	sql "SELECT group_concat(trunk || ':' || outcome, ' ') FROM
		(SELECT a.trunk, a.outcome FROM cdr_attempt a JOIN cdr c
		 ON a.cdr_id = c.id WHERE c.called = '$1' ORDER BY
		 c.start_ms DESC, a.n LIMIT 8)"
}
ms() { date +%s%3N; }

# 1. Up from the first answer; calls go to primary.
wait_for "primary up" 5 health_is primary up
expect_eq "primary's last probe code" "$(trunk primary probe_code)" 200
expect_eq "backup is not probed" "$(trunk backup health)" off
out=$(call 2125551000) || fail "first call: $out"
wait_cdrs 1
expect_eq "attempts with primary up" "$(attempts 2125551000)" \
	"primary:answered"
log "ok: primary up by OPTIONS, the call used it"

# 2. The peer dies: down after 2 unanswered probes (1 s apart, 0.5 s each).
kill "$PRIMARY"
t0=$(ms)
wait_for "primary down" 6 health_is primary down
t1=$(ms)
[ $((t1 - t0)) -le 4000 ] || fail "down only after $((t1 - t0)) ms"
log "ok: primary down $((t1 - t0)) ms after its peer died"
expect_eq "why" "$(trunk primary why)" "no answer to 2 OPTIONS"
ctl show trunks | grep -Eq '^primary +sip .* down .* down .* no answer to 2 OPTIONS$' ||
	fail "show trunks: $(ctl show trunks)"
ctl show trunks > "$WORK/trunks-down.txt"
grep -q 'trunk primary: down: no answer to 2 OPTIONS' "$WORK/tollgated.log" ||
	fail "state change not logged"
ctl route explain 2125551001 | grep -Eq '1\. +primary .*down' ||
	fail "route explain: $(ctl route explain 2125551001)"
t0=$(ms)
out=$(call 2125551001) || fail "call with primary down: $out"
t1=$(ms)
[ $((t1 - t0)) -lt 1000 ] || fail "the down trunk still cost $((t1 - t0)) ms"
wait_cdrs 2
expect_eq "attempts with primary down" "$(attempts 2125551001)" \
	"primary:skipped: down backup:answered"
log "ok: the call went straight to backup ($((t1 - t0)) ms)"

# 3. The peer is back: up after 2 answered probes.
answer 127.0.0.2 primary
t0=$(ms)
wait_for "primary up again" 6 health_is primary up
t1=$(ms)
[ $((t1 - t0)) -le 3500 ] || fail "up only after $((t1 - t0)) ms"
log "ok: primary up $((t1 - t0)) ms after its peer came back"
out=$(call 2125551002) || fail "call with primary back: $out"
wait_cdrs 3
expect_eq "attempts with primary back" "$(attempts 2125551002)" \
	"primary:answered"
expect_eq "primary's downs" "$(trunk primary health_downs)" 1
expect_eq "primary's ups" "$(trunk primary health_ups)" 2
grep -q 'trunk primary: up: OPTIONS answered 200' "$WORK/tollgated.log" ||
	fail "coming back not logged"

# 4. 405 to OPTIONS: alive all the same.
wait_for "picky up" 5 health_is picky up
expect_eq "picky's last probe code" "$(trunk picky probe_code)" 405
log "ok: a trunk answering 405 to OPTIONS is up"

# 5. A reload that turns picky's probing off: health "off", no more probes;
#    primary keeps its state (up, its counters).
sed -i '/^peer = 127.0.0.4/{n;n;d}' "$WORK/tollgate.conf"
grep -A3 '^\[trunk picky\]' "$WORK/tollgate.conf" | grep -q options_interval &&
	fail "conf edit"
out=$(ctl reload 2>&1) || fail "reload: $out"
expect_eq "picky after the reload" "$(trunk picky health)" off
expect_eq "primary after the reload" "$(trunk primary health)" up
expect_eq "primary's ups after the reload" "$(trunk primary health_ups)" 2
n0=$(trunk picky probes)
RELOADED=$(date +%s.%N)
sleep 1.5
expect_eq "probes of picky after the reload" "$(trunk picky probes)" "$n0"

# 6. What went on the wire.
if [ -n "$HAVE_TSHARK" ]; then
	sleep 0.5
	kill -INT "$TSHARK"
	wait "$TSHARK" || true
	decode() { tshark -r "$WORK/cap.pcapng" -d "udp.port==$PEER_PORT,sip" \
		-d "udp.port==$SIP_PORT,sip" "$@" 2>/dev/null; }
	expect_eq "malformed or erroneous packets" \
		"$(decode -Y "_ws.malformed || _ws.expert.severity == error" | wc -l)" 0
	opts() { decode -Y "sip.Method == \"OPTIONS\" && $1" | wc -l; }
	n=$(opts "ip.dst == 127.0.0.2")
	[ "$n" -ge 5 ] || fail "only $n OPTIONS to primary decoded"
	expect_eq "OPTIONS without Max-Forwards 70 or a From tag" \
		"$(opts "!(sip.Max-Forwards == 70 && sip.from.tag)" )" 0
	expect_eq "Request-URI of the probes to picky" "$(decode \
		-Y 'sip.Method == "OPTIONS" && ip.dst == 127.0.0.4' \
		-T fields -e sip.r-uri | sort -u)" "sip:127.0.0.4:$PEER_PORT"
	ids=$(decode -Y 'sip.Method == "OPTIONS" && ip.dst == 127.0.0.4' \
		-T fields -e sip.Call-ID | sort -u | wc -l)
	[ "$ids" -ge 3 ] || fail "only $ids Call-IDs for picky's probes"
	expect_eq "OPTIONS to picky on the wire after the reload" "$(decode \
		-Y "sip.Method == \"OPTIONS\" && ip.dst == 127.0.0.4 &&
		    frame.time_epoch > $RELOADED + 0.2" | wc -l)" 0
	log "ok: $n OPTIONS to primary decode cleanly, one Call-ID per probe"
fi

# OPTIONS to us from a trunk (200) and from an unknown source (403), each
# sent twice as a retransmission, and once more as a new request.
python3 - "$SIP_PORT" > "$WORK/stateless.out" 2>&1 <<'PY' ||
import socket, sys
port = int(sys.argv[1])
def ask(src, cid, branch):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.settimeout(3)
    lp = s.getsockname()[1]
    m = ("OPTIONS sip:127.0.0.1:%d SIP/2.0\r\n"
         "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK%s\r\n"
         "From: <sip:probe@%s>;tag=f1\r\nTo: <sip:127.0.0.1>\r\n"
         "Call-ID: %s\r\nCSeq: 7 OPTIONS\r\nMax-Forwards: 70\r\n"
         "Content-Length: 0\r\n\r\n" % (port, src, lp, branch, src, cid))
    out = []
    for _ in range(2):
        s.sendto(m.encode(), ("127.0.0.1", port))
        r = s.recv(65535).decode("latin-1")
        code = int(r.split(" ", 2)[1])
        tag = [l for l in r.split("\r\n") if l.lower().startswith("to:")][0]
        tag = tag.split("tag=")[1].split(";")[0].strip()
        out.append((code, tag))
    return out
for src, want in (("127.0.0.2", 200), ("127.0.0.9", 403)):
    a = ask(src, "sl-a-" + src, "sla" + src)
    b = ask(src, "sl-b-" + src, "slb" + src)
    assert a[0] == a[1] and b[0] == b[1], (src, a, b)
    assert a[0][0] == want and b[0][0] == want, (src, want, a, b)
    assert a[0][1] != b[0][1], (src, "same tag for two requests", a, b)
    print("ok", src, want, a[0][1], b[0][1])
PY
	fail "stateless answers: $(cat "$WORK/stateless.out")"
log "ok: OPTIONS 200 and refusals 403 answered the same to a retransmission, To tag included"
log "PASS"
