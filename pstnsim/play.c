/* pstnsim/play.c  Scenario audio: WAV files, DTMF sent and heard */
#define LOG_MODULE "pstnsim"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pstnsim/pstnsim.h"
#include "util/util.h"

#define DTMF_AT_MS 500          /* after answer: the far end's audio path
				 * is through by then */
#define DTMF_ON_MS 100
#define DTMF_OFF_MS 100
#define FRAME_MS 20

static int parse_ms(const char *s, int min, int max, int *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (end == s || *end || v < min || v > max)
		return EINVAL;
	*out = (int)v;
	return 0;
}

/* "wav:PATH" or "wav-once:PATH": load it now, so a bad file stops us at
 * start with its name and what is wrong with it. */
int ps_play_media_arg(struct ps_play_conf *pc, const char *arg)
{
	bool loop = !strncmp(arg, "wav:", 4);
	const char *path;
	struct ps_wav *w;
	char why[160];
	int err;

	if (!loop && strncmp(arg, "wav-once:", 9))
		return ENOENT;
	path = arg + (loop ? 4 : 9);
	if (!*path) {
		fprintf(stderr, "pstnsim: %s: a file name is needed\n", arg);
		return EINVAL;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return ENOMEM;
	err = ps_wav_load(w, path, why, sizeof(why));
	if (err) {
		fprintf(stderr, "pstnsim: %s: %s\n", path, why);
		free(w);
		return EINVAL;
	}
	ps_play_conf_free(pc);
	pc->wav = w;
	pc->wav_path = strdup(path);
	pc->wav_loop = loop;
	if (!pc->wav_path) {
		ps_play_conf_free(pc);
		return ENOMEM;
	}
	return 0;
}

int ps_play_option(struct ps_play_conf *pc, int *media, const char *opt)
{
	int err;

	if (!strncmp(opt, "media=", 6)) {
		err = ps_play_media_arg(pc, opt + 6);
		if (!err)
			*media = PS_MEDIA_WAV;
		return err;
	}
	if (!strncmp(opt, "dtmf=", 5)) {
		const char *d = opt + 5;

		if (!*d || strlen(d) > PS_DTMF_MAX)
			goto bad;
		for (const char *p = d; *p; p++)
			if (!ps_dtmf_valid(*p))
				goto bad;
		tg_strlcpy(pc->dtmf, d, sizeof(pc->dtmf));
		return 0;
	}
	if (!strncmp(opt, "dtmf_at=", 8))
		err = parse_ms(opt + 8, 0, 3600000, &pc->dtmf_at);
	else if (!strncmp(opt, "dtmf_on=", 8))
		err = parse_ms(opt + 8, 20, 10000, &pc->dtmf_on);
	else if (!strncmp(opt, "dtmf_off=", 9))
		err = parse_ms(opt + 9, 20, 10000, &pc->dtmf_off);
	else
		return ENOENT;
	if (!err)
		return 0;
 bad:
	fprintf(stderr, "pstnsim: bad %s (dtmf=DIGITS: 1 to %d of "
		"0-9 * # A-D; dtmf_at=MS; dtmf_on=MS and dtmf_off=MS 20 or "
		"more)\n", opt, PS_DTMF_MAX);
	return EINVAL;
}

void ps_play_conf_free(struct ps_play_conf *pc)
{
	if (pc->wav) {
		ps_wav_free(pc->wav);
		free(pc->wav);
	}
	free(pc->wav_path);
	pc->wav = NULL;
	pc->wav_path = NULL;
}

/* A rule's own value, else the option's, else the default. */
static int pick(int rule, int conf, int def)
{
	return rule >= 0 ? rule : conf >= 0 ? conf : def;
}

void ps_play_setup(struct ps_call *call, const struct ps_rule *rule)
{
	const struct ps_play_conf *g = &ps.conf.play;
	const struct ps_play_conf *r = rule ? &rule->play : NULL;
	struct ps_play *p = &call->play;

	memset(p, 0, sizeof(*p));
	ps_dtmf_rx_init(&p->rx);
	/* The WAV goes with the media mode that chose it. */
	if (call->media_mode == PS_MEDIA_WAV) {
		const struct ps_play_conf *src =
			r && rule->media == PS_MEDIA_WAV ? r : g;

		p->wav = src->wav;
		p->wav_path = src->wav_path;
		p->wav_loop = src->wav_loop;
		if (!p->wav)
			call->media_mode = PS_MEDIA_SILENCE;
	}
	p->dtmf = r && *r->dtmf ? r->dtmf : g->dtmf;
	p->dtmf_at = pick(r ? r->dtmf_at : -1, g->dtmf_at, DTMF_AT_MS);
	p->dtmf_on = pick(r ? r->dtmf_on : -1, g->dtmf_on, DTMF_ON_MS);
	p->dtmf_off = pick(r ? r->dtmf_off : -1, g->dtmf_off, DTMF_OFF_MS);
	p->dtmf_frame = -1;
}

void ps_play_wav(struct ps_call *call, uint8_t *blk)
{
	struct ps_play *p = &call->play;
	uint8_t sil = ps_audio_silence();

	for (int i = 0; i < TDM_FRAME_SAMPLES; i++) {
		if (p->wav_pos >= p->wav->nsamples) {
			blk[i] = sil;
			continue;
		}
		blk[i] = ps_audio_encode(p->wav->samples[p->wav_pos++]);
		if (p->wav_pos == p->wav->nsamples) {
			p->wav_loops++;
			if (p->wav_loop)
				p->wav_pos = 0;
		}
	}
}

void ps_play_dtmf(struct ps_call *call, uint8_t *blk)
{
	struct ps_play *p = &call->play;
	int16_t lin[TDM_FRAME_SAMPLES];
	uint64_t pos;

	if (!*p->dtmf || !call->answered || p->dtmf_sent >= strlen(p->dtmf))
		return;
	if (p->dtmf_frame < 0)
		p->dtmf_frame = (int64_t)call->frames_tx +
				p->dtmf_at / FRAME_MS;
	if ((int64_t)call->frames_tx < p->dtmf_frame)
		return;
	pos = (uint64_t)((int64_t)call->frames_tx - p->dtmf_frame) *
	      TDM_FRAME_SAMPLES;
	p->dtmf_sent = ps_dtmf_gen(lin, TDM_FRAME_SAMPLES, p->dtmf, pos,
				   p->dtmf_on, p->dtmf_off);
	for (int i = 0; i < TDM_FRAME_SAMPLES; i++)
		blk[i] = ps_audio_encode(lin[i]);
}

void ps_play_rx(struct ps_call *call, const uint8_t *blk)
{
	int16_t lin[TDM_FRAME_SAMPLES];

	for (int i = 0; i < TDM_FRAME_SAMPLES; i++)
		lin[i] = ps_audio_linear(blk[i]);
	ps_dtmf_rx_feed(&call->play.rx, lin, TDM_FRAME_SAMPLES);
}

static const char *played(const struct ps_call *call, char *buf,
			  size_t size)
{
	switch ((enum ps_media)call->media_mode) {
	case PS_MEDIA_ECHO:
		return "echo";
	case PS_MEDIA_TONE:
		snprintf(buf, size, "tone:%d", ps.conf.tone_hz);
		return buf;
	case PS_MEDIA_SILENCE:
		return "silence";
	case PS_MEDIA_STAMP:
		return "stamp";
	case PS_MEDIA_FAX:
		snprintf(buf, size, "fax-%s:%s", ps.conf.fax_send ? "send" :
			 "recv", ps.conf.fax_path);
		return buf;
	case PS_MEDIA_WAV:
		snprintf(buf, size, "%s:%s",
			 call->play.wav_loop ? "wav" : "wav-once",
			 call->play.wav_path ? call->play.wav_path : "");
		return buf;
	}
	return "";
}

/* What the probes of --media stamp told (stamp.h): RTP -> B-channel. */
static void stamp_json(char *out, size_t size, const struct stamp_rx *rx)
{
	struct stamp_rx none;

	if (!rx) {
		stamp_rx_init(&none);
		rx = &none;
	}
	snprintf(out, size, ",\"stamp_rx\":%llu,\"stamp_lost\":%llu,"
		 "\"stamp_dup\":%llu,\"stamp_damaged\":%llu,"
		 "\"stamp_p50_ms\":%.2f,\"stamp_p99_ms\":%.2f,"
		 "\"stamp_max_ms\":%.2f,\"stamp_slipped\":%llu",
		 (unsigned long long)rx->got,
		 (unsigned long long)stamp_rx_lost(rx),
		 (unsigned long long)rx->dup, (unsigned long long)rx->damaged,
		 stamp_rx_pct_ms(rx, 0.5), stamp_rx_pct_ms(rx, 0.99),
		 (double)rx->max_ns / 1e6, (unsigned long long)rx->slipped);
}

void ps_play_json(char *out, size_t size, const struct ps_call *call)
{
	const struct ps_play *p = &call->play;
	char what[600], esc[sizeof(what) * 6 + 1];
	char tx[PS_DTMF_MAX + 1], rx[PS_DTMF_MAX * 6 + 1];
	int n;

	ps_json_str(esc, sizeof(esc), played(call, what, sizeof(what)));
	snprintf(tx, sizeof(tx), "%.*s", (int)p->dtmf_sent,
		 p->dtmf ? p->dtmf : "");
	ps_json_str(rx, sizeof(rx), p->rx.digits);
	n = snprintf(out, size, ",\"played\":\"%s\",\"wav_loops\":%u,"
		     "\"dtmf_tx\":\"%s\",\"dtmf_rx\":\"%s\"", esc,
		     p->wav_loops, tx, rx);
	if (call->media_mode == PS_MEDIA_STAMP && n > 0 && (size_t)n < size)
		stamp_json(out + n, size - (size_t)n, call->stamp);
	if (call->media_mode == PS_MEDIA_FAX && n > 0 && (size_t)n < size)
		ps_fax_json(out + n, size - (size_t)n, call);
}
