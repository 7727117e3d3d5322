/* pstnsim/wav.h  RIFF WAVE reader for scenario audio (media=wav:PATH) */
#ifndef TG_PSTNSIM_WAV_H
#define TG_PSTNSIM_WAV_H

#include <stddef.h>
#include <stdint.h>

#define PS_WAV_RATE 8000
#define PS_WAV_MAX_S 600        /* longest file we take: 10 minutes */

/* A loaded file: linear 16-bit samples at 8 kHz, mono. */
struct ps_wav {
	int16_t *samples;
	size_t nsamples;
	int format;             /* as in the file: 1 PCM, 6 A-law, 7 mu-law */
};

/*
 * Parse the RIFF WAVE image @p buf.  Taken: PCM 16-bit, G.711 A-law
 * (format 6) and mu-law (format 7), 8 bits; mono, 8000 Hz; also as
 * WAVE_FORMAT_EXTENSIBLE.  Anything else is EINVAL with @p why saying
 * which field and what it held ("fmt: sample rate 44100, want 8000").
 * On success @p w owns a malloc()ed copy of the samples.
 */
int ps_wav_parse(struct ps_wav *w, const uint8_t *buf, size_t len,
		 char *why, size_t whysize);
/** Read and parse the file @p path; errors as ps_wav_parse (or errno). */
int ps_wav_load(struct ps_wav *w, const char *path, char *why,
		size_t whysize);
void ps_wav_free(struct ps_wav *w);

#endif
