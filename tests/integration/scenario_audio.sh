#!/usr/bin/env bash
# tests/integration/scenario_audio.sh  pstnsim scenario audio through the
# gateway, heard by a SIP phone (tgcall, which offers no telephone-event,
# so DTMF stays in-band in the G.711 audio).
#
#  - media=wav:FILE of a 600 Hz tone (16-bit PCM, and a mu-law WAV): the
#    caller hears 600 Hz; the record says what played and that it looped.
#  - media=wav-once:FILE (1 s of 3 s): heard, then silence: the level is
#    lower than the looped file's, and the file played once.
#  - dtmf=1234#: the caller's in-band detector hears exactly 1234#.
#  - the caller sends 0*9# in-band: pstnsim's record has dtmf_rx 0*9#.
#  - PRI -> SIP: pstnsim --media wav:FILE --dtmf 789 on two originated
#    calls from --from 2125559998 --from-step 2: the PBX hears the tone and
#    the digits on both, from 2125559998 and 2125559999.
#  - tgcall --record writes a WAV of the call that pstnsim can play.
#  - a bad WAV in a scenario (stereo; missing) exits 2 naming the file
#    and the field.
. "$(dirname "$0")/lib.sh"

# mkwav FILE FORMAT(1 pcm|6 alaw|7 ulaw) HZ SECONDS [CHANNELS]
mkwav() {
	python3 - "$@" <<'PY'
import math, struct, sys
path, code, hz, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
ch = int(sys.argv[5]) if len(sys.argv) > 5 else 1
n = int(8000 * secs)
lin = [int(8000 * math.sin(2 * math.pi * hz * i / 8000)) for i in range(n)]
def ulaw(s):  # G.711 mu-law, segment search
    sign = 0x80 if s < 0 else 0
    s = min(abs(s), 32635) + 0x84
    exp = 7
    while exp > 0 and not s & (0x4000 >> (7 - exp)):
        exp -= 1
    return ~(sign | exp << 4 | (s >> (exp + 3)) & 0x0f) & 0xff
if code == 1:
    data = b''.join(struct.pack('<h', v) for v in lin for _ in range(ch))
    bits = 16
else:
    data = bytes(ulaw(v) for v in lin for _ in range(ch))
    bits = 8
align = ch * bits // 8
fmt = struct.pack('<HHIIHH', code, ch, 8000, 8000 * align, align, bits)
body = b'WAVE' + b'fmt ' + struct.pack('<I', len(fmt)) + fmt + \
    b'data' + struct.pack('<I', len(data)) + data
open(path, 'wb').write(b'RIFF' + struct.pack('<I', len(body)) + body)
PY
}
mkwav "$WORK/tone600.wav" 1 600 1
mkwav "$WORK/tone600u.wav" 7 600 1
mkwav "$WORK/stereo.wav" 1 600 1 2

cat > "$WORK/audio.scenario" <<SCN
5551  answer  media=wav:$WORK/tone600.wav
5552  answer  media=wav:$WORK/tone600u.wav
5553  answer  media=wav-once:$WORK/tone600.wav
5554  answer  media=silence dtmf=1234# dtmf_at=300
5555  answer  media=silence
SCN
write_conf
start_pstnsim --answer-after 0 --scenario "$WORK/audio.scenario"
start_gw

n_calls=0
# call NUMBER HOLD_MS ARGS...: a SIP call answered by pstnsim; $out is
# then tgcall's line, $REC pstnsim's record of it.
call() {
	local num=$1 hold=$2
	shift 2
	out=$(timeout 20 "$TGCALL" call "sip:$num@127.0.0.1:$SIP_PORT" --local 127.0.0.1 \
		--from 2125550000 --expect 200 --hold "$hold" --tone 0 "$@" \
		2>>"$WORK/tgcall.log") || fail "call to $num: $out"
	n_calls=$((n_calls + 1))
	wait_for "pstnsim's record of $num" 10 pstnsim_calls_ge "$n_calls"
	REC=$(grep "\"called\":\"$num\"" "$WORK/pstnsim.jsonl" | tail -1)
}
ratio_ge() { awk -v r="$1" -v m="$2" 'BEGIN { exit !(r >= m) }'; }

call 5551000 2000 --detect 600 --record "$WORK/heard.wav"
ratio_ge "$(json_field "$out" rx_tone_ratio)" 0.8 || fail "600 Hz WAV not heard: $out"
loop_db=$(json_field "$out" rx_level_dbfs)
expect_eq "PCM WAV: played" "$(json_field "$REC" played)" "wav:$WORK/tone600.wav"
ratio_ge "$(json_field "$REC" wav_loops)" 1 || fail "a 1 s file in 2 s did not loop: $REC"

# What tgcall recorded is a WAV pstnsim takes, of the call's length.
python3 - "$WORK/heard.wav" <<'PY' || fail "tgcall --record: bad WAV"
import sys, wave
w = wave.open(sys.argv[1])
assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 8000)
assert 1.5 * 8000 <= w.getnframes() <= 2.5 * 8000, w.getnframes()
PY
timeout 5 "$PSTNSIM" --dir "$WORK/y" --media "wav:$WORK/heard.wav" --duration 1 \
	> /dev/null 2>&1 || fail "pstnsim does not take tgcall's recording"

call 5552000 2000 --detect 600
ratio_ge "$(json_field "$out" rx_tone_ratio)" 0.8 || fail "mu-law WAV not heard: $out"
log "ok: the caller hears the WAV's 600 Hz (16-bit PCM and mu-law files)"

call 5553000 3000 --detect 600
once_db=$(json_field "$out" rx_level_dbfs)
ratio_ge "$(json_field "$out" rx_tone_ratio)" 0.8 || fail "wav-once not heard: $out"
awk -v a="$loop_db" -v b="$once_db" 'BEGIN { exit !(b <= a - 3) }' ||
	fail "wav-once level $once_db dBFS, looped $loop_db: no silence after the file"
expect_eq "wav-once: played" "$(json_field "$REC" played)" "wav-once:$WORK/tone600.wav"
expect_eq "wav-once: times played" "$(json_field "$REC" wav_loops)" 1
log "ok: wav-once plays the file once, then silence ($once_db vs $loop_db dBFS)"

call 5554000 2500
expect_eq "DTMF heard by the SIP caller" "$(json_field "$out" dtmf_rx)" "1234#"
expect_eq "DTMF pstnsim sent" "$(json_field "$REC" dtmf_tx)" "1234#"

call 5555000 2500 --dtmf '0*9#' --dtmf-at 300
expect_eq "DTMF tgcall sent" "$(json_field "$out" dtmf_tx)" "0*9#"
expect_eq "DTMF heard by pstnsim" "$(json_field "$REC" dtmf_rx)" "0*9#"

# PRI -> SIP: the options' WAV and digits on two originated calls, from
# a range of calling numbers.
"$TGCALL" answer --local "127.0.0.1:$PBX_PORT" --count 2 --timeout 20 \
	--tone 0 --detect 600 > "$WORK/pbx.jsonl" 2>>"$WORK/pbx.log" &
PBX=$!
PIDS+=("$PBX")
kill -TERM "$PSTN_PID"
wait "$PSTN_PID" 2>/dev/null || true
start_pstnsim --originate 2 --rate 2 --to 5550100 --from 2125559998 --from-step 2 --hold 2500 \
	--media "wav:$WORK/tone600.wav" --dtmf 789 --dtmf-at 1000 --exit-when-done
wait_for "the originated calls" 25 sh -c "! kill -0 $PSTN_PID"
wait "$PBX" || fail "the PBX: $(cat "$WORK/pbx.jsonl")"
while read -r rec; do
	expect_eq "PRI -> SIP: DTMF heard" "$(json_field "$rec" dtmf_rx)" 789
	ratio_ge "$(json_field "$rec" rx_tone_ratio)" 0.5 || fail "PRI -> SIP: WAV not heard: $rec"
done < "$WORK/pbx.jsonl"
expect_eq "PRI -> SIP: callers (--from-step)" \
	"$(sed -n 's/.*"from_user":"\([^"]*\)".*/\1/p' "$WORK/pbx.jsonl" | sort | tr '\n' ' ')" \
	"2125559998 2125559999 "
rec=$(grep '"event":"call"' "$WORK/pstnsim.jsonl" | tail -1)
expect_eq "PRI -> SIP: digits sent" "$(json_field "$rec" dtmf_tx)" 789
log "ok: in-band DTMF both ways through G.711, and on an originated call"

# A bad WAV stops pstnsim at start, naming the file and the field.
bad_start() { # EXPECTED_TEXT ARGS...
	local want=$1 rc=0
	shift
	"$PSTNSIM" --dir "$WORK/x" "$@" > /dev/null 2> "$WORK/bad.err" || rc=$?
	expect_eq "exit status, $want" "$rc" 2
	grep -qF "$want" "$WORK/bad.err" || fail "message: $(cat "$WORK/bad.err")"
}
printf '5556 answer media=wav:%s\n' "$WORK/stereo.wav" > "$WORK/bad.scenario"
bad_start "$WORK/stereo.wav: fmt: 2 channels, want 1 (mono)" --scenario "$WORK/bad.scenario"
grep -qF "bad.scenario:1:" "$WORK/bad.err" || fail "no line number: $(cat "$WORK/bad.err")"
bad_start "$WORK/none.wav: No such file" --media "wav-once:$WORK/none.wav"
bad_start "bad dtmf=12X" --rule "5557=answer,dtmf=12X"
log "ok: bad WAV files and digits are refused at start"
