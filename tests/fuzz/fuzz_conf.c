/* tests/fuzz/fuzz_conf.c  libFuzzer target: tollgate.conf parsing */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"
#include "gateway/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct gw_config cfg;
	char err[512];
	int rc;

	err[0] = '\0';
	rc = gw_config_parse(&cfg, "fuzz.conf", (const char *)data, size, err,
			     sizeof(err));
	/* Every refusal names where: "fuzz.conf:LINE: why". */
	if (rc && strncmp(err, "fuzz.conf:", 10))
		__builtin_trap();
	if (!rc && (cfg.ncodecs < 1 || cfg.ncodecs > 2 ||
		    cfg.nspans > GW_MAX_SPANS || cfg.ntrunks > GW_MAX_TRUNKS ||
		    cfg.ndids > GW_MAX_DIDS))
		__builtin_trap();
	return 0;
}
