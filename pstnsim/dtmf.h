/* pstnsim/dtmf.h  In-band DTMF: dual-tone generator and Goertzel detector */
#ifndef TG_PSTNSIM_DTMF_H
#define TG_PSTNSIM_DTMF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PS_DTMF_BLOCK 160       /* detector block: 20 ms at 8 kHz */
#define PS_DTMF_MAX 32          /* digits kept by a detector */

/** True for 0-9 * # A-D (either case). */
bool ps_dtmf_valid(char c);

/*
 * Samples @p pos .. @p pos + @p n - 1 of the DTMF string @p digits played
 * from sample 0 on: each digit @p on_ms of its two tones, then @p off_ms
 * of silence.  Returns the number of digits whose tone has fully played
 * by the end of this block.
 */
size_t ps_dtmf_gen(int16_t *out, size_t n, const char *digits,
		   uint64_t pos, int on_ms, int off_ms);

/* A detector: feed it linear samples in any chunks. */
struct ps_dtmf_rx {
	int16_t blk[PS_DTMF_BLOCK];
	size_t nblk;
	char cand;              /* digit of the last block(s), 0 none */
	int cand_run;           /* blocks in a row with cand */
	char on;                /* digit reported and still sounding */
	int off_run;            /* blocks in a row without `on` */
	char digits[PS_DTMF_MAX + 1];
	size_t ndigits;
};

void ps_dtmf_rx_init(struct ps_dtmf_rx *d);
void ps_dtmf_rx_feed(struct ps_dtmf_rx *d, const int16_t *x, size_t n);

#endif
