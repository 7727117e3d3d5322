#!/usr/bin/env bash
# tests/integration/srtp.sh  SDES SRTP (RFC 4568) with a real softphone.
# baresip with mediaenc=srtp-mand (it takes RTP/SAVP and SRTP only) on a
# trunk with srtp = mandatory: (a) baresip calls pstnsim through the
# gateway, (b) pstnsim calls baresip; each end hears the other's tone
# (pstnsim 600 Hz, baresip 1 kHz).  tshark decodes the a=crypto lines of
# our SDP.  (c) a plain RTP/AVP offer on that trunk gets 488; (d) what
# each policy answers; (e) an SRTP <-> plain RTP call through the relay.
. "$(dirname "$0")/lib.sh"
command -v baresip >/dev/null || { log "SKIP: baresip not installed"; exit 77; }
[ -f /usr/lib/baresip/modules/srtp.so ] || { log "SKIP: no baresip srtp module"; exit 77; }

# The pbx trunk (baresip) is mandatory; three more trunks, told apart by
# source address, have the other policies for (d).
EXTRA=$(for t in off:2 optional:3 best-effort:4; do
	printf '\n[trunk %s]\ntype = sip\npeer = 127.0.0.%s:5062\naccept_from = 127.0.0.%s\nsrtp = %s\n' \
		"${t%%:*}" "${t##*:}" "${t##*:}" "${t%%:*}"
done) LOG_LEVEL=debug write_conf
sed -i '/^\[trunk pbx\]/a srtp = mandatory' "$WORK/tollgate.conf"
start_pstnsim --media tone:600 --detect 1000 --hangup-after 3000
start_gw

tshark_pid=
if command -v tshark >/dev/null; then
	tshark -i lo -q -w "$WORK/sip.pcapng" -f "udp port $SIP_PORT" \
		> "$WORK/tshark.log" 2>&1 &
	tshark_pid=$!
	PIDS+=("$tshark_pid")
	wait_for "tshark to capture" 10 grep -q "Capturing on" "$WORK/tshark.log"
fi

BS=$WORK/baresip
mkdir -p "$BS/snd"
tone_wav "$BS/tone.wav" 8000 20
cat > "$BS/config" <<CONF
poll_method		poll
sip_listen		127.0.0.1:$PBX_PORT
net_interface		127.0.0.1
audio_player		alsa,null
audio_source		aufile,$BS/tone.wav
audio_alert		alsa,null
snd_path		$BS/snd
rtp_ports		$((RTP_MAX + 2))-$((RTP_MAX + 200))
module_path		/usr/lib/baresip/modules
module			g711.so
module			aufile.so
module			alsa.so
module			sndfile.so
module			srtp.so
module			stdio.so
module_app		account.so
module_app		menu.so
CONF
echo "<sip:5550100@127.0.0.1>;regint=0;audio_codecs=PCMU;mediaenc=srtp-mand;answermode=auto" \
	> "$BS/accounts"
: > "$BS/contacts"

# Goertzel share of HZ in a WAV's middle (skip the first 0.5 s).
wav_share() {
	python3 - "$1" "$2" <<'PY'
import math, struct, sys, wave
w = wave.open(sys.argv[1]); hz = float(sys.argv[2])
n = w.getnframes(); rate = w.getframerate()
x = struct.unpack("<%dh" % n, w.readframes(n))[rate // 2:]
if len(x) < rate // 2:
    print("0 0"); sys.exit()
k = 2 * math.cos(2 * math.pi * hz / rate); s1 = s2 = 0.0
for v in x:
    s1, s2 = v + k * s1 - s2, s1
p = (s1 * s1 + s2 * s2 - k * s1 * s2) / len(x)
tot = sum(v * v for v in x) / 2.0
print("%.3f %d" % (p / tot if tot else 0, len(x)))
PY
}

# baresip stays up for both calls: it dials first, then answers.
timeout 30 baresip -f "$BS" -e "/dial sip:2125551234@127.0.0.1:$SIP_PORT" -t 25 \
	> "$WORK/baresip.log" 2>&1 &
BS_PID=$!
PIDS+=("$BS_PID")

# (a) baresip -> pstnsim.
wait_for "pstnsim record of the baresip call" 15 grep -q '"event":"call"' "$WORK/pstnsim.jsonl"
rec=$(grep '"event":"call"' "$WORK/pstnsim.jsonl" | head -1)
expect_eq "(a) baresip call answered at pstnsim" "$(json_field "$rec" answered)" true
ratio=$(json_field "$rec" rx_tone_ratio)
awk -v r="$ratio" 'BEGIN { exit !(r > 0.8) }' ||
	fail "(a) pstnsim heard baresip's 1 kHz at ratio $ratio"
log "ok: (a) pstnsim heard baresip's 1 kHz over SRTP (ratio $ratio)"
grep -q "SRTP AES_CM_128_HMAC_SHA1_80" "$WORK/tollgated.log" ||
	fail "(a) the gateway did not answer with SRTP"
wait_for "baresip to end call (a)" 10 grep -qi "closed\|terminated" "$WORK/baresip.log"
sleep 0.5
heard_a=$(ls "$BS"/snd/*-dec.wav 2>/dev/null | head -1)
[ -n "$heard_a" ] || fail "(a) baresip recorded nothing"
read -r share n <<< "$(wav_share "$heard_a" 600)"
awk -v r="$share" -v n="$n" 'BEGIN { exit !(r > 0.8 && n >= 8000) }' ||
	fail "(a) baresip heard 600 Hz at share $share over $n samples"
log "ok: (a) baresip heard pstnsim's 600 Hz over SRTP (share $share, $n samples)"

# (b) pstnsim -> baresip (DID 5550100 routes to the pbx trunk).
kill -TERM "$PSTN_PID"; wait "$PSTN_PID" 2>/dev/null || true
start_pstnsim --originate 1 --rate 1 --to 5550100 --from 2125559999 \
	--media tone:600 --detect 1000 --hold 3000 --exit-when-done
wait_for "pstnsim's call to baresip" 20 sh -c "! kill -0 $PSTN_PID"
rec=$(grep '"event":"call"' "$WORK/pstnsim.jsonl" | head -1)
expect_eq "(b) baresip answered pstnsim" "$(json_field "$rec" answered)" true
ratio=$(json_field "$rec" rx_tone_ratio)
awk -v r="$ratio" 'BEGIN { exit !(r > 0.8) }' ||
	fail "(b) pstnsim heard baresip's 1 kHz at ratio $ratio"
log "ok: (b) pstnsim heard baresip's 1 kHz over SRTP (ratio $ratio)"
sleep 1
heard_b=$(ls "$BS"/snd/*-dec.wav | grep -vxF "$heard_a" | head -1)
[ -n "$heard_b" ] || fail "(b) baresip recorded nothing"
read -r share n <<< "$(wav_share "$heard_b" 600)"
awk -v r="$share" -v n="$n" 'BEGIN { exit !(r > 0.8 && n >= 8000) }' ||
	fail "(b) baresip heard 600 Hz at share $share over $n samples"
log "ok: (b) baresip heard pstnsim's 600 Hz over SRTP (share $share, $n samples)"
if grep -q "SRTP packets failed" "$WORK/tollgated.log"; then
	fail "the gateway saw SRTP packets failing authentication"
fi
wait_cdrs 2
expect_eq "CDRs" "$(sql "SELECT disposition || ':' || direction FROM cdr
	ORDER BY direction" | tr '\n' ' ')" "ANSWERED:inbound ANSWERED:outbound "

# A UAC of our own for (c) and (d): INVITE from SRC with an RTP/AVP or
# RTP/SAVP offer, with or without a=crypto:7 _80; prints the final status,
# the answer's profile and crypto suite ("-" none), ACKs a 200 and answers
# the BYE that follows (pstnsim hangs up).
cat > "$WORK/uac.py" <<'PY'
import re, socket, sys
port, src, proto, crypto, cid = sys.argv[1:6]
port = int(port)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((src, 0)); s.settimeout(5)
sp = s.getsockname()[1]
sdp = ("v=0\r\no=- 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"
       "m=audio 40000 %s 0\r\na=rtpmap:0 PCMU/8000\r\n" % (src, src, proto))
if crypto == "1":
    sdp += "a=crypto:7 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR\r\n"
hdr = ("Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK%s\r\n"
       "From: <sip:2125550000@%s>;tag=%s\r\n"
       "To: <sip:2125551234@127.0.0.1>%s\r\nCall-ID: %s\r\n")
def send(first, to_tag, extra, body=""):
    m = first + hdr % (src, sp, cid + first[:3], src, cid, to_tag, cid) + extra
    m += "Content-Length: %d\r\n\r\n%s" % (len(body), body)
    s.sendto(m.encode(), ("127.0.0.1", port))
send("INVITE sip:2125551234@127.0.0.1:%d SIP/2.0\r\n" % port, "",
     "CSeq: 1 INVITE\r\nContact: <sip:2125550000@%s:%d>\r\nMax-Forwards: 70\r\n"
     "Content-Type: application/sdp\r\n" % (src, sp), sdp)
while True:
    r = s.recv(8192).decode()
    code = int(r.split(" ")[1])
    if code >= 200:
        break
if code != 200:
    print(code, "-", "-"); sys.exit()
mp = re.search(r"m=audio \d+ (\S+)", r).group(1)
mc = re.search(r"a=crypto:(\d+) (\S+) inline:", r)
tag = re.search(r"^To:.*(;tag=[^;\r]+)", r, re.M).group(1)
send("ACK sip:2125551234@127.0.0.1:%d SIP/2.0\r\n" % port, tag,
     "CSeq: 1 ACK\r\nMax-Forwards: 70\r\n")
print(code, mp, ("%s:%s" % (mc.group(1), mc.group(2))) if mc else "-")
try:
    while True:
        r, a = s.recvfrom(8192)
        r = r.decode()
        if r.startswith("BYE "):
            h = "".join(l + "\r\n" for l in r.split("\r\n")
                        if re.match(r"(Via|From|To|Call-ID|CSeq):", l))
            s.sendto(("SIP/2.0 200 OK\r\n" + h + "Content-Length: 0\r\n\r\n").encode(), a)
            break
except socket.timeout:
    pass
PY
uac() { timeout 15 python3 "$WORK/uac.py" "$SIP_PORT" "$@"; }

# (c) A plain offer on the mandatory trunk: 488, recorded.
kill -TERM "$BS_PID" 2>/dev/null || true
start_pstnsim --hangup-after 500
wait_for "the span up again" 10 span_up
expect_eq "(c) mandatory, RTP/AVP offer" "$(uac 127.0.0.1 RTP/AVP 0 srtp488)" "488 - -"
wait_cdrs 3
expect_eq "(c) CDR" "$(sql "SELECT disposition || ',' || q850_cause || ',' || sip_status
	FROM cdr WHERE sip_call_id = 'srtp488'")" "FAILED,65,488"
wait_for "the log line saying why" 5 grep -q "offer refused: no a=crypto line we can use" \
	"$WORK/tollgated.log"

# (d) The other policies' answers (docs/media.md's table).
expect_eq "(d) mandatory, RTP/AVP + crypto" "$(uac 127.0.0.1 RTP/AVP 1 d1)" \
	"200 RTP/AVP 7:AES_CM_128_HMAC_SHA1_80"
expect_eq "(d) off, RTP/SAVP + crypto" "$(uac 127.0.0.2 RTP/SAVP 1 d2)" "488 - -"
expect_eq "(d) off, RTP/AVP + crypto" "$(uac 127.0.0.2 RTP/AVP 1 d3)" "200 RTP/AVP -"
expect_eq "(d) optional, RTP/SAVP + crypto" "$(uac 127.0.0.3 RTP/SAVP 1 d4)" \
	"200 RTP/SAVP 7:AES_CM_128_HMAC_SHA1_80"
expect_eq "(d) optional, RTP/AVP + crypto" "$(uac 127.0.0.3 RTP/AVP 1 d5)" "200 RTP/AVP -"
expect_eq "(d) optional, RTP/SAVP, no crypto" "$(uac 127.0.0.3 RTP/SAVP 0 d6)" "488 - -"
expect_eq "(d) best-effort, RTP/AVP + crypto" "$(uac 127.0.0.4 RTP/AVP 1 d7)" \
	"200 RTP/AVP 7:AES_CM_128_HMAC_SHA1_80"
expect_eq "(d) best-effort, RTP/AVP" "$(uac 127.0.0.4 RTP/AVP 0 d8)" "200 RTP/AVP -"

# (e) SIP -> SIP: baresip (SRTP) calls 7001, routed to the off trunk where
# tgcall answers with plain RTP; the relay unprotects one way and protects
# the other.
tgdb() { "$TGCTL" -s "$CTL" --db "$DB" "$@"; }
tgdb route add r-relay priority=1 kind=prefix match=7 trunks=off >/dev/null ||
	fail "route add"
wait_for "the route" 10 sh -c "'$TGCTL' -s '$CTL' route explain 7001 | grep -q r-relay"
"$TGCALL" answer --local 127.0.0.2:5062 --count 1 --timeout 20 --tone 600 \
	--detect 1000 --hold 3000 > "$WORK/tgcall.jsonl" 2> "$WORK/tgcall.log" &
TGCALL_PID=$!
PIDS+=("$TGCALL_PID")
sleep 0.3
timeout 15 baresip -f "$BS" -e "/dial sip:7001@127.0.0.1:$SIP_PORT" -t 6 \
	> "$WORK/baresip-e.log" 2>&1 || true
wait_for "tgcall's call record" 10 test -s "$WORK/tgcall.jsonl"
rec=$(head -1 "$WORK/tgcall.jsonl")
ratio=$(json_field "$rec" rx_tone_ratio)
awk -v r="$ratio" 'BEGIN { exit !(r > 0.8) }' ||
	fail "(e) the plain RTP callee heard baresip's 1 kHz at ratio $ratio: $rec"
log "ok: (e) SRTP -> RTP through the relay: tgcall heard 1 kHz (ratio $ratio)"
heard_e=$(ls "$BS"/snd/*-dec.wav | grep -vxF -e "$heard_a" -e "$heard_b" | head -1)
[ -n "$heard_e" ] || fail "(e) baresip recorded nothing"
read -r share n <<< "$(wav_share "$heard_e" 600)"
awk -v r="$share" -v n="$n" 'BEGIN { exit !(r > 0.8 && n >= 8000) }' ||
	fail "(e) baresip heard 600 Hz at share $share over $n samples"
log "ok: (e) RTP -> SRTP through the relay: baresip heard 600 Hz (share $share)"

if [ -n "$tshark_pid" ]; then
	sleep 0.5
	kill -INT "$tshark_pid"; wait "$tshark_pid" 2>/dev/null || true
	tshark -r "$WORK/sip.pcapng" -d "udp.port==$SIP_PORT,sip" \
		-d "udp.port==$PBX_PORT,sip" -Y "sdp.crypto.tag && sip.Status-Code == 200" \
		-T fields -e sdp.media.proto -e sdp.crypto.tag -e sdp.crypto.crypto_suite \
		> "$WORK/answers.txt" 2> "$WORK/tshark-read.log" || true
	tshark -r "$WORK/sip.pcapng" -d "udp.port==$SIP_PORT,sip" \
		-d "udp.port==$PBX_PORT,sip" -Y "sdp.crypto.tag && sip.Method == \"INVITE\" && ip.src == 127.0.0.1 && udp.srcport == $SIP_PORT" \
		-T fields -e sdp.media.proto -e sdp.crypto.tag -e sdp.crypto.crypto_suite \
		> "$WORK/offers.txt" 2>> "$WORK/tshark-read.log" || true
	grep -q "RTP/SAVP.*AES_CM_128_HMAC_SHA1_80" "$WORK/answers.txt" ||
		fail "tshark: our 200 OK's SDP: $(cat "$WORK/answers.txt")"
	grep -q "RTP/SAVP.*1,2.*AES_CM_128_HMAC_SHA1_80,AES_CM_128_HMAC_SHA1_32" "$WORK/offers.txt" ||
		fail "tshark: our INVITE's SDP: $(cat "$WORK/offers.txt")"
	log "ok: tshark decodes our SAVP answer and offer (tags 1,2: _80, _32)"
fi
