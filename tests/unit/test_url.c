/* kiln_url_redacted: a URL's userinfo never reaches a message. */
#include "kiln/url.h"
#include "tap.h"

#include <string.h>

int main(void)
{
    char b[256];
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"https://user:secret@repo.example.com/rpms", "https://***@repo.example.com/rpms"},
        {"http://secret@127.0.0.1:4566", "http://***@127.0.0.1:4566"},
        {"https://a:b@c@host/x?y=@z", "https://***@host/x?y=@z"},
        {"https://host/path@thing", "https://host/path@thing"},
        {"https://host", "https://host"},
        {"/srv/rpms", "/srv/rpms"},
        {"", ""},
        {"not a url user:pw@x", "not a url user:pw@x"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        is_str(kiln_url_redacted(cases[i].in, b, sizeof b), cases[i].want, "%s", cases[i].in);
    char tiny[8];
    kiln_url_redacted("https://u:p@h", tiny, sizeof tiny);
    ok(strstr(tiny, "p@") == NULL && strlen(tiny) < sizeof tiny,
       "a short buffer cuts, never leaks");
    is_str(kiln_url_redacted(NULL, b, sizeof b), "", "NULL is empty");
    return done_testing();
}
