/* pstnsim/wav.c  RIFF WAVE reader: PCM 16-bit and G.711, 8 kHz mono */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/media.h"
#include "pstnsim/wav.h"

#define FMT_PCM 1
#define FMT_ALAW 6
#define FMT_ULAW 7
#define FMT_EXTENSIBLE 0xfffe
#define MAX_FILE (PS_WAV_MAX_S * PS_WAV_RATE * 2 + 65536)

/* The 14 bytes after the format code in every KSDATAFORMAT_SUBTYPE_* GUID
 * of a WAVE_FORMAT_EXTENSIBLE header (mmreg.h). */
static const uint8_t guid_tail[14] = {
	0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00,
	0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71,
};

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static int refuse(char *why, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int refuse(char *why, size_t size, const char *fmt, ...)
{
	va_list ap;

	if (size) {
		va_start(ap, fmt);
		vsnprintf(why, size, fmt, ap);
		va_end(ap);
	}
	return EINVAL;
}

/* A chunk id fit to print: anything but printable ASCII is '?'. */
static void chunk_name(char out[5], const uint8_t *id)
{
	for (int i = 0; i < 4; i++)
		out[i] = id[i] >= 0x20 && id[i] < 0x7f ? (char)id[i] : '?';
	out[4] = '\0';
}

struct fmt {
	unsigned code, channels, bits, align;
	uint32_t rate;
};

static int parse_fmt(struct fmt *f, const uint8_t *p, uint32_t n,
		     char *why, size_t ws)
{
	if (n < 16)
		return refuse(why, ws, "fmt: chunk of %u bytes, want 16 or "
			      "more", (unsigned)n);
	f->code = le16(p);
	f->channels = le16(p + 2);
	f->rate = le32(p + 4);
	f->align = le16(p + 12);
	f->bits = le16(p + 14);
	if (f->code == FMT_EXTENSIBLE) {
		/* cbSize 22: valid bits, channel mask, sub-format GUID. */
		if (n < 40 || le16(p + 16) < 22)
			return refuse(why, ws, "fmt: extensible header of %u "
				      "bytes, want 40", (unsigned)n);
		if (memcmp(p + 26, guid_tail, sizeof(guid_tail)))
			return refuse(why, ws, "fmt: extensible sub-format is "
				      "not a WAVE format code");
		f->code = le16(p + 24);
	}
	if (f->code != FMT_PCM && f->code != FMT_ALAW && f->code != FMT_ULAW)
		return refuse(why, ws, "fmt: format %u, want 1 (PCM), 6 "
			      "(A-law) or 7 (mu-law)", f->code);
	if (f->channels != 1)
		return refuse(why, ws, "fmt: %u channels, want 1 (mono)",
			      f->channels);
	if (f->rate != PS_WAV_RATE)
		return refuse(why, ws, "fmt: sample rate %lu, want %d",
			      (unsigned long)f->rate, PS_WAV_RATE);
	if (f->bits != (f->code == FMT_PCM ? 16u : 8u))
		return refuse(why, ws, "fmt: %u bits per sample, want %u for "
			      "format %u", f->bits,
			      f->code == FMT_PCM ? 16u : 8u, f->code);
	if (f->align != f->bits / 8)
		return refuse(why, ws, "fmt: block align %u, want %u",
			      f->align, f->bits / 8);
	return 0;
}

static int decode(struct ps_wav *w, const struct fmt *f, const uint8_t *p,
		  uint32_t n, char *why, size_t ws)
{
	size_t count = n / f->align;

	if (!count)
		return refuse(why, ws, "data: no samples");
	if (count > (size_t)PS_WAV_MAX_S * PS_WAV_RATE)
		return refuse(why, ws, "data: %zu samples, more than %d s",
			      count, PS_WAV_MAX_S);
	w->samples = malloc(count * sizeof(*w->samples));
	if (!w->samples)
		return ENOMEM;
	for (size_t i = 0; i < count; i++) {
		if (f->code == FMT_PCM)
			w->samples[i] = (int16_t)le16(p + 2 * i);
		else
			w->samples[i] = media_g711_decode(
				f->code == FMT_ALAW ? MEDIA_PCMA : MEDIA_PCMU,
				p[i]);
	}
	w->nsamples = count;
	w->format = (int)f->code;
	return 0;
}

int ps_wav_parse(struct ps_wav *w, const uint8_t *buf, size_t len,
		 char *why, size_t ws)
{
	struct fmt f = {0};
	bool have_fmt = false;
	size_t off = 12;
	int err;

	memset(w, 0, sizeof(*w));
	if (len < 12 || memcmp(buf, "RIFF", 4) || memcmp(buf + 8, "WAVE", 4))
		return refuse(why, ws, "header: not a RIFF WAVE file");
	/* The RIFF size is often wrong in files cut or streamed: chunks are
	 * walked to the end of the data instead. */
	while (len - off >= 8) {
		const uint8_t *id = buf + off;
		uint32_t n = le32(buf + off + 4);
		size_t body = off + 8;

		if (n > len - body) {
			char name[5];

			chunk_name(name, id);
			return refuse(why, ws, "%s: chunk of %lu bytes, only "
				      "%zu left in the file", name,
				      (unsigned long)n, len - body);
		}
		if (!memcmp(id, "fmt ", 4) && !have_fmt) {
			err = parse_fmt(&f, buf + body, n, why, ws);
			if (err)
				return err;
			have_fmt = true;
		} else if (!memcmp(id, "data", 4)) {
			if (!have_fmt)
				return refuse(why, ws, "data: before the fmt "
					      "chunk");
			return decode(w, &f, buf + body, n, why, ws);
		}
		/* Chunks are padded to an even size. */
		off = body + n + (n & 1);
		if (off > len)
			break;
	}
	return refuse(why, ws, have_fmt ? "data: no data chunk"
					: "fmt: no fmt chunk");
}

int ps_wav_load(struct ps_wav *w, const char *path, char *why, size_t ws)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf = NULL;
	long len;
	int err;

	memset(w, 0, sizeof(*w));
	if (!fp) {
		err = errno;
		refuse(why, ws, "%s", strerror(err));
		return err;
	}
	if (fseek(fp, 0, SEEK_END) || (len = ftell(fp)) < 0 ||
	    fseek(fp, 0, SEEK_SET)) {
		err = errno ? errno : EIO;
		refuse(why, ws, "%s", strerror(err));
		goto out;
	}
	if (len > MAX_FILE) {
		err = refuse(why, ws, "file of %ld bytes, more than %d s of "
			     "audio", len, PS_WAV_MAX_S);
		goto out;
	}
	buf = malloc(len ? (size_t)len : 1);
	if (!buf) {
		err = ENOMEM;
		refuse(why, ws, "out of memory");
		goto out;
	}
	if (fread(buf, 1, (size_t)len, fp) != (size_t)len) {
		err = EIO;
		refuse(why, ws, "read error");
		goto out;
	}
	err = ps_wav_parse(w, buf, (size_t)len, why, ws);
 out:
	free(buf);
	fclose(fp);
	return err;
}

void ps_wav_free(struct ps_wav *w)
{
	free(w->samples);
	w->samples = NULL;
	w->nsamples = 0;
}
