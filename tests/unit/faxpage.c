/* tests/unit/faxpage.c  The test fax page (libtiff) */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <tiffio.h>

#include "tests/unit/faxpage.h"

#define W FAXPAGE_WIDTH
#define H FAXPAGE_ROWS

/* Row y: a border, stripes and a diagonal, so that a lost, shifted or
 * damaged row shows. */
static void page_row(uint8_t *row, unsigned y)
{
	unsigned x;

	memset(row, 0, W / 8);
	for (x = 0; x < W; x++) {
		bool black = x < 8 || x >= W - 8 || y < 4 || y >= H - 4 ||
			     (x / 64 + y / 16) % 7 == 0 ||
			     (x >= y * 4 && x < y * 4 + 12);

		if (black)
			row[x / 8] |= (uint8_t)(0x80 >> (x % 8));
	}
}

int faxpage_write(const char *path)
{
	uint8_t row[W / 8];
	TIFF *t = TIFFOpen(path, "w");
	unsigned y;
	int err = 0;

	if (!t)
		return -1;
	TIFFSetField(t, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE);
	TIFFSetField(t, TIFFTAG_IMAGEWIDTH, W);
	TIFFSetField(t, TIFFTAG_IMAGELENGTH, H);
	TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 1);
	TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
	TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_CCITTFAX3);
	TIFFSetField(t, TIFFTAG_GROUP3OPTIONS, 0);
	TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISWHITE);
	TIFFSetField(t, TIFFTAG_FILLORDER, FILLORDER_LSB2MSB);
	TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
	TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, H);
	TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, RESUNIT_INCH);
	TIFFSetField(t, TIFFTAG_XRESOLUTION, 204.0f);
	TIFFSetField(t, TIFFTAG_YRESOLUTION, 196.0f);
	TIFFSetField(t, TIFFTAG_PAGENUMBER, 0, 1);
	for (y = 0; y < H && !err; y++) {
		page_row(row, y);
		if (TIFFWriteScanline(t, row, y, 0) != 1)
			err = -1;
	}
	if (!err && TIFFWriteDirectory(t) != 1)
		err = -1;
	TIFFClose(t);
	return err;
}

int faxpage_check(const char *path)
{
	uint8_t want[W / 8], got[W / 8 + 64];
	uint32_t w = 0, h = 0;
	TIFF *t = TIFFOpen(path, "r");
	unsigned y, pages = 1;
	int err = 0;

	if (!t) {
		fprintf(stderr, "faxpage: %s: cannot open\n", path);
		return -1;
	}
	TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &w);
	TIFFGetField(t, TIFFTAG_IMAGELENGTH, &h);
	if (w != W || h != H) {
		fprintf(stderr, "faxpage: %s: %ux%u, not %ux%u\n", path,
			(unsigned)w, (unsigned)h, W, H);
		err = -1;
	}
	for (y = 0; y < h && !err; y++) {
		page_row(want, y);
		if (TIFFReadScanline(t, got, y, 0) != 1 ||
		    memcmp(got, want, sizeof(want))) {
			fprintf(stderr, "faxpage: %s: row %u differs\n", path,
				y);
			err = -1;
		}
	}
	while (TIFFReadDirectory(t))
		pages++;
	if (!err && pages != 1) {
		fprintf(stderr, "faxpage: %s: %u pages\n", path, pages);
		err = -1;
	}
	TIFFClose(t);
	return err;
}
