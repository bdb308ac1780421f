/* kiln version */
#include "commands/commands.h"
#include "kiln/context.h"

#include "config.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <ncurses.h>
#include <openssl/opensslv.h>

static int version_exec(struct kiln_ctx *ctx, const struct kiln_args *args, struct kiln_err *err)
{
    if (ctx->json) {
        fprintf(ctx->out,
                "{\"kiln\":\"%s\",\"ncurses\":\"%s\",\"curl\":\"%s\",\"openssl\":\"%s\","
                "\"cjson\":\"%s\"}\n",
                PACKAGE_VERSION, NCURSES_VERSION, curl_version_info(CURLVERSION_NOW)->version,
                OPENSSL_FULL_VERSION_STR, cJSON_Version());
        return 0;
    }
    fprintf(ctx->out, "kiln %s\n", PACKAGE_VERSION);
    return 0;
}

const struct kiln_cmd kiln_cmd_version = {
    .name = "version",
    .usage = "",
    .summary = "print kiln's version (with --json, its libraries' too)",
    .help = "",
    .exec = version_exec,
};
