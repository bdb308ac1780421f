/* kilnd: the local cloud, one daemon per state dir. */
#include "config.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: kilnd [--home DIR] [--foreground]\n\n"
                 "kilnd is kiln's local cloud: it runs instances as processes, checks their\n"
                 "health over HTTP and routes traffic to them through a private nginx.\n"
                 "kiln starts it when first needed; see kiln help cloud.\n");
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "-V") == 0 || strcmp(argv[i], "--version") == 0) {
            printf("kilnd %s\n", PACKAGE_VERSION);
            return 0;
        }
        fprintf(stderr, "kilnd: unknown option '%.40s' (kilnd --help)\n", argv[i]);
        return 2;
    }
    fprintf(stderr, "kilnd: the local cloud is not part of this build yet\n");
    return 1;
}
