/* kiln: what the credentials providers share among themselves (internal). */
#ifndef KILN_AWS_CREDENTIALS_PRIVATE_H
#define KILN_AWS_CREDENTIALS_PRIVATE_H

#include "kiln/aws_credentials.h"

/* A provider with refcount 1 around impl (freed by vt->destroy). */
struct kiln_aws_credentials_provider *
kiln_aws_credentials_provider_new(const struct kiln_aws_credentials_provider_vtable *vt,
                                  void *impl);

#endif
