/* pstnsim/fax.c  A fax terminal on a call's B-channel (SpanDSP fax_state)
 *
 * --media fax-send:FILE sends the TIFF-F FILE, --media fax-recv:FILE
 * writes what it receives there.  The side that placed the call is the
 * calling fax (CNG); the other answers (CED).  The call record tells how
 * T.30 ended and how many pages went.
 */
#define LOG_MODULE "pstnsim"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tiffio.h> /* spandsp.h needs it first on Debian's 0.0.6 */
#include <spandsp.h>

#include "pstnsim/pstnsim.h"
#include "util/util.h"

struct ps_fax {
	fax_state_t *fs;
	bool done;
	int result;             /* T.30 completion code (T30_ERR_*) */
	int pages;
};

int ps_fax_media_arg(struct ps_conf *c, const char *arg)
{
	bool send = !strncmp(arg, "fax-send:", 9);

	if (!send && strncmp(arg, "fax-recv:", 9))
		return ENOENT;
	if (!arg[9]) {
		fprintf(stderr, "pstnsim: %s: a file name is needed\n", arg);
		return EINVAL;
	}
	if (send && access(arg + 9, R_OK)) {
		fprintf(stderr, "pstnsim: %s: %s\n", arg + 9, strerror(errno));
		return EINVAL;
	}
	c->fax_send = send;
	c->fax_path = arg + 9;
	return 0;
}

static void phase_e(t30_state_t *t, void *arg, int code)
{
	struct ps_call *call = arg;
	t30_stats_t st;

	t30_get_transfer_statistics(t, &st);
	call->fax->done = true;
	call->fax->result = code;
	call->fax->pages = ps.conf.fax_send ? st.pages_tx : st.pages_rx;
	gw_info("call on %d/%u: fax %s: %s, %d page(s)", call->span->idx,
		call->chan, ps.conf.fax_send ? "sent" : "received",
		t30_completion_code_to_str(code), call->fax->pages);
	/* A fax machine hangs up once T.30 is over (phase E). */
	ps_call_hangup_after(call, 500);
}

static int fax_start(struct ps_call *call)
{
	struct ps_fax *f = calloc(1, sizeof(*f));
	t30_state_t *t;

	if (!f)
		return ENOMEM;
	f->result = -1;
	f->fs = fax_init(NULL, call->out);
	if (!f->fs) {
		free(f);
		return ENOMEM;
	}
	call->fax = f;
	t = fax_get_t30_state(f->fs);
	t30_set_tx_ident(t, "pstnsim");
	t30_set_ecm_capability(t, 1);
	t30_set_supported_modems(t, T30_SUPPORT_V27TER | T30_SUPPORT_V29 |
				 T30_SUPPORT_V17);
	t30_set_phase_e_handler(t, phase_e, call);
	if (ps.conf.fax_send)
		t30_set_tx_file(t, ps.conf.fax_path, -1, -1);
	else
		t30_set_rx_file(t, ps.conf.fax_path, -1);
	/* A quiet line between signals, as a real terminal's. */
	fax_set_transmit_on_idle(f->fs, 1);
	return 0;
}

void ps_fax_tx(struct ps_call *call, uint8_t *blk)
{
	int16_t pcm[TDM_FRAME_SAMPLES];
	int n = 0;

	if (!call->fax && call->answered && fax_start(call))
		gw_warn("call on %d/%u: no memory for the fax terminal",
			call->span->idx, call->chan);
	if (call->fax && !call->fax->done)
		n = fax_tx(call->fax->fs, pcm, TDM_FRAME_SAMPLES);
	for (int i = 0; i < TDM_FRAME_SAMPLES; i++)
		blk[i] = i < n ? ps_audio_encode(pcm[i]) : ps_audio_silence();
}

void ps_fax_rx(struct ps_call *call, const uint8_t *blk)
{
	int16_t pcm[TDM_FRAME_SAMPLES];

	if (!call->fax || call->fax->done)
		return;
	for (int i = 0; i < TDM_FRAME_SAMPLES; i++)
		pcm[i] = ps_audio_linear(blk[i]);
	fax_rx(call->fax->fs, pcm, TDM_FRAME_SAMPLES);
}

void ps_fax_json(char *out, size_t size, const struct ps_call *call)
{
	const struct ps_fax *f = call->fax;

	snprintf(out, size, ",\"fax_result\":%d,\"fax_pages\":%d",
		 f ? f->result : -1, f ? f->pages : 0);
}

void ps_fax_free(struct ps_call *call)
{
	if (!call->fax)
		return;
	fax_free(call->fax->fs);
	free(call->fax);
	call->fax = NULL;
}
