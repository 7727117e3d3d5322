/* tests/tools/faxpage_main.c  faxpage write FILE | faxpage check FILE:
 * the test page of tests/unit/faxpage.c for fax.sh */
#include <stdio.h>
#include <string.h>

#include "tests/unit/faxpage.h"

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "write"))
		return faxpage_write(argv[2]) ? 1 : 0;
	if (argc == 3 && !strcmp(argv[1], "check"))
		return faxpage_check(argv[2]) ? 1 : 0;
	fprintf(stderr, "usage: faxpage write|check FILE\n");
	return 2;
}
