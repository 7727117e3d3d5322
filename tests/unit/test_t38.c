/* tests/unit/test_t38.c  A fax page through the T.38 gateway: a SpanDSP
 * fax terminal on the audio side, our t38gw, UDPTL datagrams over a lossy
 * path, and a SpanDSP T.38 terminal on the far side; both directions.
 * The page is made here with libtiff and compared row by row. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <tiffio.h> /* spandsp.h needs it first on Debian's 0.0.6 */
#include <spandsp.h>

#include "media/faxtone.h"
#include "media/t38gw.h"
#include "tests/unit/faxpage.h"
#include "media/udptl.h"

#define STEP 160                /* 20 ms */
#define MAX_STEPS (150 * 50)    /* 150 s of simulated time */
#define QLEN 64

/* Datagrams in flight one way: delivered on the next step unless lost. */
struct path {
	unsigned n;
	size_t len[QLEN];
	uint8_t buf[QLEN][UDPTL_DGRAM_MAX];
	unsigned sent, dropped;
	unsigned loss_pct;
	unsigned seed;
};

struct sim {
	struct t38gw *gw;
	fax_state_t *fax;               /* the audio side */
	t38_terminal_state_t *term;     /* the T.38 side */
	struct udptl_tx term_tx;
	struct udptl_rx term_rx;
	struct path to_term, to_gw;
	bool done_fax, done_term;
	int code_fax, code_term;
	uint64_t gw_ns;         /* CPU time spent in the gateway */
};

static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void path_put(struct path *p, const uint8_t *buf, size_t len)
{
	p->sent++;
	p->seed = p->seed * 1103515245u + 12345u;
	if ((p->seed >> 16) % 100 < p->loss_pct) {
		p->dropped++;
		return;
	}
	assert_true(p->n < QLEN);
	assert_true(len <= UDPTL_DGRAM_MAX);
	memcpy(p->buf[p->n], buf, len);
	p->len[p->n++] = len;
}

static void gw_send(const uint8_t *dgram, size_t len, void *arg)
{
	struct sim *s = arg;

	path_put(&s->to_term, dgram, len);
}

static int term_tx(t38_core_state_t *core, void *arg, const uint8_t *buf,
		   int len, int count)
{
	struct sim *s = arg;
	uint8_t dg[UDPTL_DGRAM_MAX];
	size_t dlen;

	(void)core;
	if (udptl_tx_frame(&s->term_tx, dg, &dlen, buf, (size_t)len))
		return -1;
	while (count-- > 0)
		path_put(&s->to_gw, dg, dlen);
	return 0;
}

static void term_ifp(const uint8_t *ifp, size_t len, uint16_t seq,
		     bool recovered, void *arg)
{
	struct sim *s = arg;

	(void)recovered;
	t38_core_rx_ifp_packet(t38_terminal_get_t38_core_state(s->term), ifp,
			       (int)len, seq);
}

static void phase_e_fax(t30_state_t *t, void *arg, int code)
{
	struct sim *s = arg;

	(void)t;
	s->done_fax = true;
	s->code_fax = code;
}

static void phase_e_term(t30_state_t *t, void *arg, int code)
{
	struct sim *s = arg;

	(void)t;
	s->done_term = true;
	s->code_term = code;
}

static void deliver(struct sim *s)
{
	struct path *p;
	uint64_t t0;
	unsigned i;

	p = &s->to_term;
	for (i = 0; i < p->n; i++)
		udptl_rx_datagram(&s->term_rx, p->buf[i], p->len[i], term_ifp,
				  s);
	p->n = 0;
	p = &s->to_gw;
	t0 = cpu_ns();
	for (i = 0; i < p->n; i++)
		assert_int_equal(t38gw_datagram(s->gw, p->buf[i], p->len[i]),
				 0);
	s->gw_ns += cpu_ns() - t0;
	p->n = 0;
}

/*
 * One fax call.  @p audio_sends: the audio-side terminal sends the page
 * (PSTN -> T.38) or receives it (T.38 -> PSTN).  @return the steps it
 * took, with the outcome in @p s.
 */
static unsigned run_fax(struct sim *s, bool audio_sends, bool ecm,
			unsigned loss_pct, unsigned redundancy,
			const char *txf, const char *rxf)
{
	struct t38gw_params prm = { .version = 0, .max_bitrate = 14400,
				    .transferred_tcf = true,
				    .redundancy = redundancy,
				    .max_datagram = 400, .ecm = ecm };
	t30_state_t *ft, *tt;
	int16_t a[STEP], b[STEP];
	unsigned step;
	uint64_t t0;
	int n;

	memset(s, 0, sizeof(*s));
	s->to_term.loss_pct = s->to_gw.loss_pct = loss_pct;
	s->to_term.seed = 1;
	s->to_gw.seed = 2;
	assert_int_equal(t38gw_alloc(&s->gw, &prm, gw_send, s), 0);
	udptl_tx_init(&s->term_tx, redundancy, 400);
	udptl_rx_init(&s->term_rx);
	/* The caller sends: the PSTN side calls when it sends the page. */
	s->fax = fax_init(NULL, audio_sends);
	assert_non_null(s->fax);
	fax_set_transmit_on_idle(s->fax, 1);
	s->term = t38_terminal_init(NULL, !audio_sends, term_tx, s);
	assert_non_null(s->term);
	ft = fax_get_t30_state(s->fax);
	tt = t38_terminal_get_t30_state(s->term);
	t30_set_tx_ident(ft, "PSTN FAX");
	t30_set_tx_ident(tt, "T38 FAX");
	t30_set_ecm_capability(ft, ecm);
	t30_set_ecm_capability(tt, ecm);
	t30_set_phase_e_handler(ft, phase_e_fax, s);
	t30_set_phase_e_handler(tt, phase_e_term, s);
	if (audio_sends) {
		t30_set_tx_file(ft, txf, -1, -1);
		t30_set_rx_file(tt, rxf, -1);
	} else {
		t30_set_tx_file(tt, txf, -1, -1);
		t30_set_rx_file(ft, rxf, -1);
	}
	for (step = 0; step < MAX_STEPS && !(s->done_fax && s->done_term);
	     step++) {
		n = fax_tx(s->fax, a, STEP);
		if (n < STEP)
			memset(a + n, 0, (size_t)(STEP - n) * sizeof(*a));
		t0 = cpu_ns();
		t38gw_audio(s->gw, a, b, STEP);
		s->gw_ns += cpu_ns() - t0;
		fax_rx(s->fax, b, STEP);
		t38_terminal_send_timeout(s->term, STEP);
		deliver(s);
	}
	return step;
}

static void sim_free(struct sim *s)
{
	t38gw_free(s->gw);
	fax_free(s->fax);
	t38_terminal_free(s->term);
}

static char tmpdir[64];

static void paths(char *txf, char *rxf, const char *name)
{
	snprintf(txf, 128, "%s/page.tif", tmpdir);
	snprintf(rxf, 128, "%s/%s.tif", tmpdir, name);
	unlink(rxf);
}

static void case_fax(bool audio_sends, bool ecm, unsigned loss,
		     unsigned redundancy, const char *name)
{
	char txf[128], rxf[128];
	struct t38gw_stats st;
	struct sim s;
	unsigned steps;

	paths(txf, rxf, name);
	steps = run_fax(&s, audio_sends, ecm, loss, redundancy, txf, rxf);
	t38gw_get_stats(s.gw, &st);
	print_message("%s: %u.%02u s simulated, %llu datagrams out, %llu in, "
		      "%u+%u dropped, %llu+%llu recovered, %llu+%llu lost, "
		      "%u bit/s, ecm %d; gateway %.3f%% of a core\n", name,
		      steps / 50, steps % 50 * 2,
		      (unsigned long long)st.dgram_tx,
		      (unsigned long long)st.dgram_rx, s.to_term.dropped,
		      s.to_gw.dropped, (unsigned long long)st.rx.recovered,
		      (unsigned long long)s.term_rx.recovered,
		      (unsigned long long)st.rx.lost,
		      (unsigned long long)s.term_rx.lost, st.bit_rate, st.ecm,
		      s.gw_ns / 1e7 / (steps * 0.02));
	assert_true(s.done_fax);
	assert_true(s.done_term);
	assert_int_equal(s.code_fax, T30_ERR_OK);
	assert_int_equal(s.code_term, T30_ERR_OK);
	assert_int_equal(st.bit_rate, 14400);
	sim_free(&s);
	assert_int_equal(faxpage_check(rxf), 0);
}

/* PSTN -> T.38, no loss, no ECM: the page arrives row for row. */
static void test_pstn_to_t38(void **state)
{
	(void)state;
	case_fax(true, false, 0, 3, "to_t38");
}

/* T.38 -> PSTN the same way. */
static void test_t38_to_pstn(void **state)
{
	(void)state;
	case_fax(false, false, 0, 3, "to_pstn");
}

/* 10% of the datagrams lost both ways: UDPTL redundancy carries the
 * page through, ECM or not. */
static void test_lossy_redundancy(void **state)
{
	(void)state;
	case_fax(true, false, 10, 3, "lossy");
	case_fax(false, true, 10, 3, "lossy_ecm");
}

/* CNG and CED are heard on the direction they came from, within a
 * second; a speech-band tone and DTMF-like pairs are not fax. */
static int tone_after(int type, unsigned dir, unsigned *ms)
{
	modem_connect_tones_tx_state_t *gen = NULL;
	struct faxtone ft;
	int16_t pcm[STEP];
	unsigned i, k;
	int tone = 0;

	assert_int_equal(faxtone_init(&ft), 0);
	if (type)
		gen = modem_connect_tones_tx_init(NULL, type);
	for (i = 0; i < 150 && !tone; i++) {
		if (gen) {
			modem_connect_tones_tx(gen, pcm, STEP);
		} else {
			for (k = 0; k < STEP; k++)
				pcm[k] = (int16_t)(6000 * sin(2 * M_PI *
					(i * STEP + k) * (k % 2 ? 697 : 1209) /
					8000.0));
		}
		tone = faxtone_feed(&ft, dir, pcm, STEP);
		/* Nothing leaks into the other direction. */
		assert_int_equal(faxtone_feed(&ft, 1 - dir, pcm + STEP / 2, 0),
				 0);
	}
	*ms = i * 20;
	if (gen)
		modem_connect_tones_tx_free(gen);
	faxtone_free(&ft);
	return tone;
}

static void test_fax_tones(void **state)
{
	unsigned ms;

	(void)state;
	assert_int_equal(tone_after(MODEM_CONNECT_TONES_FAX_CNG, 0, &ms),
			 MEDIA_FAX_CNG);
	print_message("CNG heard after %u ms\n", ms);
	assert_true(ms <= 1000);
	assert_int_equal(tone_after(MODEM_CONNECT_TONES_FAX_CED, 1, &ms),
			 MEDIA_FAX_CED);
	print_message("CED heard after %u ms\n", ms);
	assert_true(ms <= 1000);
	assert_int_equal(tone_after(0, 0, &ms), 0);
}

static int setup(void **state)
{
	char txf[128];

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_t38.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(txf, sizeof(txf), "%s/page.tif", tmpdir);
	assert_int_equal(faxpage_write(txf), 0);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) ? -1 : 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fax_tones),
		cmocka_unit_test(test_pstn_to_t38),
		cmocka_unit_test(test_t38_to_pstn),
		cmocka_unit_test(test_lossy_redundancy),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
