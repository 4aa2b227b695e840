/* cmd/tenant-admin.c — being written. */
#include "common.h"
int main(int argc, char **argv)
{
	cmd_init(argc, argv);
	die(IG_EX_SOFTWARE, "not built yet");
}
