/* kiln: kilnd's wire protocol, the names both ends must agree on: the version every
 * message carries in "v" and the operations a request may name in "op"
 * (doc/kilnd-api.md). kilnd (src/cloud/api.c, ops.c) and its client
 * (src/provider/local, src/commands) use these, so a renamed op cannot drift apart. */
#ifndef KILN_KILND_PROTO_H
#define KILN_KILND_PROTO_H

/* Bumped when a message changes incompatibly; kilnd refuses any other version. */
#define KILND_PROTOCOL_VERSION 1

#define KILND_OP_HELLO              "hello"
#define KILND_OP_STATE              "state"
#define KILND_OP_CREATE_APP         "create-app"
#define KILND_OP_DELETE_APP         "delete-app"
#define KILND_OP_PACKAGE_ADD        "package-add"
#define KILND_OP_BAKE               "bake"
#define KILND_OP_GROUP_CREATE       "group-create"
#define KILND_OP_GROUP_RESIZE       "group-resize"
#define KILND_OP_GROUP_ENABLE       "group-enable"
#define KILND_OP_GROUP_DISABLE      "group-disable"
#define KILND_OP_GROUP_DESTROY      "group-destroy"
#define KILND_OP_GROUP_SUSPEND      "group-suspend"
#define KILND_OP_GROUP_RESUME       "group-resume"
#define KILND_OP_GROUP_MARK         "group-mark"
#define KILND_OP_INSTANCE_TERMINATE "instance-terminate"
#define KILND_OP_LOCK               "lock"
#define KILND_OP_UNLOCK             "unlock"
#define KILND_OP_CHAOS              "chaos"
#define KILND_OP_STOP               "stop"
/* Not in the op table: it turns the connection into an event stream (api.c). */
#define KILND_OP_SUBSCRIBE "subscribe"

#endif
