/* tests/unit/faxpage.h  The test fax page: written as TIFF-F, checked row
 * by row after it went through a fax call (test_t38, test_media and the
 * faxpage tool of the integration tests) */
#ifndef TG_TESTS_FAXPAGE_H
#define TG_TESTS_FAXPAGE_H

#define FAXPAGE_WIDTH 1728      /* A4 at 8 dots/mm (T.4) */
#define FAXPAGE_ROWS 400

/** Write the one-page test image to @p path (T.4 1-D, 204x196 dpi).
 *  @return 0 or -1. */
int faxpage_write(const char *path);
/**
 * Is @p path one page of FAXPAGE_WIDTH x FAXPAGE_ROWS with exactly the
 * test image's rows?  @return 0, or -1 with the reason on stderr.
 */
int faxpage_check(const char *path);

#endif
