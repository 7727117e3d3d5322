#!/usr/bin/env bash
# tests/integration/torture.sh  The torture messages (tests/unit/torture:
# the cases of RFC 4475 and RFC 5118) sent to a running tollgated over
# UDP: each bad request gets the status and reason phrase the check names,
# a bad response gets nothing, every good one gets an answer that is no
# refusal; tshark decodes every answer as SIP with nothing malformed, and
# the gateway still places a call afterwards.
. "$(dirname "$0")/lib.sh"

# The messages' Via headers name port 5060 (or another): answers go to
# the source address at that port (RFC 3261 18.2.2).  They come from
# 127.0.0.2, a trunk of its own, where the test listens on those ports.
EXTRA='
[trunk lab]
type = sip
peer = 127.0.0.2:5060
accept_from = 127.0.0.2'
write_conf
start_pstnsim
start_gw

CAP=$WORK/torture.pcap
tcpdump_pid=
if command -v dumpcap >/dev/null; then
	dumpcap -q -i lo -f "udp port $SIP_PORT" -w "$CAP" 2>"$WORK/dumpcap.log" &
	tcpdump_pid=$!
	PIDS+=("$tcpdump_pid")
	wait_for "the capture to start" 5 test -s "$CAP"
fi

python3 - "$SRC/tests/unit/torture" "$SIP_PORT" \
	> "$WORK/torture.out" 2>&1 <<'PY' || { cat "$WORK/torture.out" >&2; fail "torture messages"; }
import re, socket, sys, time

tdir, port = sys.argv[1], int(sys.argv[2])
REFUSALS = {400, 505, 416, 420, 415, 406, 483}
# Refused, but with a top Via too broken to say where an answer goes.
NOANSWER = {"badinv01", "via-bare-v6"}
# Would place a real emergency call (e911.sh places those).
SKIP = {"urnsos"}

def wire(name):
    t = open("%s/%s.sip" % (tdir, name), encoding="latin-1").read()
    t = re.sub(r"<repeat count=(\d+)>(.*?)</repeat>",
               lambda m: m.group(2) * int(m.group(1)), t)
    out = b""
    for p in re.split(r"(<hex>[0-9A-Fa-f]*</hex>)", t):
        if p.startswith("<hex>"):
            out += bytes.fromhex(p[5:-6])
        else:
            out += p.replace("\n", "\r\n").encode("latin-1")
    return out

def header(msg, names):
    for line in msg.split(b"\r\n"):
        k, _, v = line.partition(b":")
        if k.strip().lower() in names:
            return v.strip()
    return None

import selectors
sel = selectors.DefaultSelector()
socks = {}
for p in (5060, 5050, 5070, 6000, 6050):
    k = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    k.bind(("127.0.0.2", p))
    k.setblocking(False)
    socks[p] = k
    sel.register(k, selectors.EVENT_READ)
s = socks[5060]

def ack(req, resp):
    """RFC 3261 17.1.1.3: the ACK of a final failure, from its answer."""
    lines = resp.split(b"\r\n\r\n")[0].split(b"\r\n")
    keep = []
    for l in lines[1:]:
        k = l.partition(b":")[0].strip().lower()
        if k in (b"via", b"v") and not any(x.startswith(b"Via") for x in keep):
            keep.append(b"Via:" + l.partition(b":")[2])
        elif k in (b"from", b"f", b"to", b"t", b"call-id", b"i"):
            keep.append(l)
        elif k == b"cseq":
            keep.append(b"CSeq: " + l.partition(b":")[2].split()[0] + b" ACK")
    ruri = req.split(b"\r\n")[0].split(b" ")[1]
    s.sendto(b"ACK " + ruri + b" SIP/2.0\r\n" + b"\r\n".join(keep) +
             b"\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
             ("127.0.0.1", port))

def recv(timeout):
    for key, _ in sel.select(timeout):
        try:
            return key.fileobj.recvfrom(70000)[0]
        except BlockingIOError:
            pass
    return None
bad = 0
n = 0
for line in open(tdir + "/EXPECT"):
    if not line.strip() or line.startswith("#"):
        continue
    f = line.split(None, 2)
    name, want = f[0], f[1]
    if name in SKIP:
        continue
    phrase = f[2].strip() if len(f) > 2 else None
    msg = wire(name)
    cid = header(msg.split(b"\r\n\r\n")[0], (b"call-id", b"i"))
    cseq = header(msg.split(b"\r\n\r\n")[0], (b"cseq",))
    s.sendto(msg, ("127.0.0.1", port))
    n += 1
    got = None
    deadline = time.time() + (0.6 if want == "drop" else 3.0)
    while time.time() < deadline:
        r = recv(max(0.01, deadline - time.time()))
        if r is None:
            continue
        code = int(r.split(b" ", 2)[1])
        # Answers to earlier messages (retransmitted finals) are not ours.
        if cid is not None and header(r, (b"call-id", b"i")) != cid:
            continue
        if cid is None and header(r, (b"cseq",)) != cseq:
            continue
        if code < 200:
            continue
        got = (code, r.split(b"\r\n")[0].split(b" ", 2)[2].decode("latin-1"))
        if code >= 300 and header(r, (b"cseq",)).endswith(b"INVITE"):
            ack(msg, r)
        break
    ok = True
    if want == "drop" or name in NOANSWER:
        ok = got is None
    elif want == "ok":
        ok = (msg.startswith(b"SIP/2.0") and got is None) or \
             (got is not None and got[0] not in REFUSALS)
    else:
        ok = got is not None and got[0] == int(want) and \
             (phrase is None or phrase in got[1])
    print("%-18s want %-5s %s got %s" % (name, want, phrase or "", got))
    if not ok:
        bad += 1
        print("  ^^^ WRONG")
print("%d messages, %d wrong" % (n, bad))
sys.exit(1 if bad or n < 55 else 0)
PY
log "ok: $(tail -1 "$WORK/torture.out")"

kill -0 "$GW_PID" || fail "tollgated died under the torture messages"
grep -q 'refusing .*Bad Request-Line' "$WORK/tollgated.log" ||
	fail "no log line names the refused field"

if [ -n "$tcpdump_pid" ]; then
	sleep 0.5
	kill -INT "$tcpdump_pid" 2>/dev/null || true
	wait "$tcpdump_pid" 2>/dev/null || true
	# Our answers, as a SIP decoder reads them: each with a status and
	# none malformed.
	answers=$(tshark -r "$CAP" -Y "sip.Status-Line && ip.src == 127.0.0.1 && udp.srcport == $SIP_PORT" \
		-T fields -e sip.Status-Code 2>/dev/null | wc -l)
	[ "$answers" -ge 40 ] || fail "tshark decoded $answers of our answers"
	malformed=$(tshark -r "$CAP" -Y "_ws.malformed && ip.src == 127.0.0.1 && udp.srcport == $SIP_PORT" \
		2>/dev/null | wc -l)
	expect_eq "malformed answers (tshark)" "$malformed" 0
	log "ok: tshark decodes our $answers answers, none malformed"
fi

out=$(timeout 20 "$TGCALL" call "sip:2125551234@127.0.0.1:$SIP_PORT" \
	--local 127.0.0.1 --hold 500 2>>"$WORK/tgcall.log") ||
	fail "call after the torture messages: $out"
expect_eq "call after the torture messages" "$(json_field "$out" status)" 200
log "ok: a call connects afterwards"
