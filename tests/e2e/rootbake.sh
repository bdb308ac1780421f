#!/usr/bin/env bash
# Images are servers: a package baked onto a real base (built once here, ~45 s) with its
# scriptlets run inside it (%pre useradd, %post writes a file and systemctl enables a
# unit) and its Requires resolved from the base and kiln's repo; the image deployed, its
# instance running chrooted in its own root (its own PID and mount namespaces), seen
# through the load balancer; the cache; a failing %post and an unmet Requires failing
# the bake and leaving the serving group alone; kilnd SIGKILLed and back; and no mount
# left on the host at any point.
. "$KILN_TESTLIB/harness.sh"

[ "$(id -u)" -eq 0 ] || skip_all "baking onto a base and running root images needs root"
command -v mmdebstrap >/dev/null || skip_all "mmdebstrap is not installed (apt-get install mmdebstrap)"
command -v rpmbuild >/dev/null || skip_all "rpmbuild is not installed (apt-get install rpm)"
command -v gcc >/dev/null || skip_all "gcc is not installed (the test app is compiled)"
[ -e /usr/lib/x86_64-linux-gnu/libc.a ] || [ -n "$(gcc -print-file-name=libc.a | grep /)" ] ||
    skip_all "no static libc (apt-get install libc6-dev)"
timeout 5 bash -c 'exec 3<>/dev/tcp/deb.debian.org/80' 2>/dev/null ||
    skip_all "the Debian archive (deb.debian.org) cannot be reached"

cloud_up
IMAGES="$KILN_HOME/images"
# Bases' and root images' top dirs are immutable (chattr +i): unfreeze them so the
# harness can remove the test's files.
unfreeze() {
    chattr -i "$KILN_HOME"/bases/*-* "$IMAGES"/img-* 2>/dev/null
    :
}
at_exit unfreeze
mounts() { grep -F "$KILN_HOME" /proc/self/mountinfo | wc -l; }

# ---- the test app: a static HTTP server that says what it sees of its root ----
mkdir -p "$T_TMP/src" "$T_TMP/rpm/SOURCES"
cat >"$T_TMP/src/rootapp.c" <<'EOF'
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
static void slurp(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, size - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
    for (char *p = buf; *p; p++)
        if (*p == '\n')
            *p = ' ';
}
int main(void)
{
    int port = atoi(getenv("PORT") ? getenv("PORT") : "0");
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 64) < 0)
        return 1;
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0)
            continue;
        char req[2048] = "", body[2048], post[256], data[256], os[256];
        ssize_t n = read(c, req, sizeof req - 1);
        (void)n;
        struct passwd *pw = getpwnam("rootapp");
        slurp("/etc/rootapp/post-ran", post, sizeof post);
        slurp("/usr/share/rootapp-data/data", data, sizeof data);
        slurp("/etc/debian_version", os, sizeof os);
        snprintf(body, sizeof body, "rootapp pid=%d user=%s post=%s data=%s debian=%s\n",
                 (int)getpid(), pw ? pw->pw_name : "-", post, data, os);
        char out[4096];
        int len = snprintf(out, sizeof out,
                           "HTTP/1.0 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                           strlen(body), body);
        if (write(c, out, (size_t)len) < 0) {
        }
        close(c);
    }
}
EOF
gcc -static -O1 -o "$T_TMP/rpm/SOURCES/rootapp" "$T_TMP/src/rootapp.c"
ok $? "the test app compiles (static, so it runs on the base's libc or none)"

# spec NAME RELEASE REQUIRES POST: an app RPM; %pre adds a user, %post runs POST.
spec() {
    cat >"$T_TMP/rpm/$1-$2.spec" <<EOF
Name: $1
Version: 1
Release: $2
Summary: root bake test
License: MIT
Requires: $3
Requires(pre): passwd
%description
test
%install
mkdir -p %{buildroot}/usr/bin %{buildroot}/usr/lib/systemd/system
install -m 0755 %{_sourcedir}/rootapp %{buildroot}/usr/bin/$1
printf '[Unit]\nDescription=rootapp\n[Service]\nExecStart=/usr/bin/$1\n[Install]\nWantedBy=multi-user.target\n' >%{buildroot}/usr/lib/systemd/system/$1.service
%pre
getent passwd rootapp >/dev/null || useradd --system --no-create-home rootapp
%post
$4
%files
/usr/bin/$1
/usr/lib/systemd/system/$1.service
EOF
    rpmbuild -bb --quiet --define "_topdir $T_TMP/rpm" "$T_TMP/rpm/$1-$2.spec" >"$T_TMP/rpm/$1-$2.log" 2>&1 ||
        cat "$T_TMP/rpm/$1-$2.log" >&2
}
add_pkg() { # add_pkg FILE: into kiln's repo; prints the NVR
    python3 "$KILN_TESTLIB/kilnd_api.py" "$KILN_HOME/kilnd.sock" package-add "{\"path\":\"$1\"}" |
        json "d['result']['nvr']"
}
GOOD_POST='mkdir -p /etc/rootapp && echo "post ran" >/etc/rootapp/post-ran && systemctl enable rootapp.service'
spec rootapp 1 "systemd, rootapp-data" "$GOOD_POST"
spec rootapp 2 "systemd" 'echo "post of rootapp-1-2 is broken on purpose" >&2; exit 1'
spec rootapp 3 "python3-flask >= 2.0, systemd" "$GOOD_POST"
# A repo package the app Requires: pulled in by the bake as yum would.
cat >"$T_TMP/rpm/rootapp-data.spec" <<'EOF'
Name: rootapp-data
Version: 1
Release: 1
Summary: data
License: MIT
BuildArch: noarch
%description
data
%install
mkdir -p %{buildroot}/usr/share/rootapp-data && echo "from the repo" >%{buildroot}/usr/share/rootapp-data/data
%files
/usr/share/rootapp-data/data
EOF
rpmbuild -bb --quiet --define "_topdir $T_TMP/rpm" "$T_TMP/rpm/rootapp-data.spec" >/dev/null 2>&1
R="$T_TMP/rpm/RPMS"
ls "$R"/x86_64/rootapp-1-1.x86_64.rpm "$R"/x86_64/rootapp-1-2.x86_64.rpm "$R"/x86_64/rootapp-1-3.x86_64.rpm \
    "$R"/noarch/rootapp-data-1-1.noarch.rpm >/dev/null
ok $? "the test RPMs build"
NVR1=$(add_pkg "$R/x86_64/rootapp-1-1.x86_64.rpm")
NVR2=$(add_pkg "$R/x86_64/rootapp-1-2.x86_64.rpm")
NVR3=$(add_pkg "$R/x86_64/rootapp-1-3.x86_64.rpm")
DATA=$(add_pkg "$R/noarch/rootapp-data-1-1.noarch.rpm")
is "$NVR1 $DATA" "rootapp-1-1.x86_64 rootapp-data-1-1.noarch" "they are in kiln's repo"

# ---- without a base: baked alone, and said so ----
run "$KILN" bake rootapp --package "$DATA"
is "$RC" 0 "with no base, a bake still works (the package's files alone)"
like "$OUT$ERR" "no base image: the package is baked alone; kiln base build makes one" \
    "and the bake log says so in one sentence"

# ---- the base, once ----
T0=$(date +%s)
run "$KILN" base build
is "$RC" 0 "kiln base build (once for this test)"
BASE=$(ls "$KILN_HOME/bases/names/default" >/dev/null && readlink "$KILN_HOME/bases/names/default")
diag "base $BASE built in $(($(date +%s) - T0)) s"
[ "$RC" -eq 0 ] || { diag "$ERR"; done_testing; exit; }

# ---- the bake onto it ----
T0=$(date +%s%N)
run "$KILN" bake rootapp --package "$NVR1"
BAKE_MS=$((($(date +%s%N) - T0) / 1000000))
is "$RC" 0 "bake $NVR1 onto the base"
IMG=$(printf '%s' "$OUT" | tail -n 1)
like "$IMG" '^img-[0-9a-f]{12}$' "prints the image id: $IMG"
diag "bake onto a cached base: $BAKE_MS ms"
like "$OUT$ERR" "baking $NVR1 onto base default \($BASE\)" "the log names the base"
like "$OUT$ERR" "rootapp-data is needed: installing $DATA from kiln's package repo" \
    "a Requires met by kiln's repo pulls that package in"
like "$OUT$ERR" "the package enabled: rootapp.service" "the log names the unit its %post enabled"
unlike "$OUT$ERR" "no base image" "and says nothing of baking alone"
REC="$IMAGES/$IMG.json"
is "$(json 'd["kind"] + " " + d["base"] + " " + d["package"]' <"$REC")" "root $BASE $NVR1" \
    "the record says its kind, base and package"
is "$(json '" ".join(d["services"]) + " | " + " ".join(d["with_packages"])' <"$REC")" \
    "rootapp.service | $DATA" "and the services it enabled and the repo packages it took"
is "$(state_json | json "[i['kind'] + ' ' + i['base'] + ' ' + ','.join(i['services']) for i in d['result']['images'] if i['id']=='$IMG'][0]")" \
    "root $BASE rootapp.service" "kilnd's state says the same"
grep -q '^rootapp:' "$IMAGES/$IMG/etc/passwd"
ok $? "the image holds the %pre user (in its layer over the base)"
[ -L "$IMAGES/$IMG/etc/systemd/system/multi-user.target.wants/rootapp.service" ]
ok $? "and the link systemctl enable made"
grep -q '^rootapp:' "$KILN_HOME/bases/$BASE/etc/passwd"
is "$?" 1 "the base itself is unchanged"
like "$(lsattr -d "$IMAGES/$IMG" 2>/dev/null)" "^-*i" "the image is frozen (immutable top)"
touch "$IMAGES/$IMG/new-file" 2>/dev/null
is "$?" 1 "nothing can be added to it"
is "$(mounts)" 0 "the bake left no mount"

run "$KILN" bake rootapp --package "$NVR1"
is "$RC:$(printf '%s' "$OUT" | tail -n 1)" "0:$IMG" "the same base and package give the same image"
like "$OUT$ERR" "cache hit" "and the log says it was a cache hit"

# ---- deployed: the instance runs inside the image's root ----
run "$KILN" create-app rootapp --env test --health-check-url /health_check --port 8080 --start /usr/bin/rootapp
is "$RC" 0 "create-app rootapp"
T0=$(date +%s%N)
run "$KILN" deploy rootapp --env test --image "$IMG" --desired 1
DEPLOY_MS=$((($(date +%s%N) - T0) / 1000000))
is "$RC" 0 "deploy the root image"
[ "$RC" -eq 0 ] || diag "$ERR"
healthy_ms=$(state_json | json "[(i['healthy_us'] - i['launched_us']) // 1000 for i in d['result']['instances'] if i['state']=='running'][0]" 2>/dev/null)
diag "deploy of a root image: $DEPLOY_MS ms; its instance launch -> healthy: ${healthy_ms:-?} ms"
lb_get rootapp test
is "$CODE" 200 "the load balancer answers"
like "$BODY" "^rootapp pid=2 " "the app is PID 2 of its own PID namespace (its init is 1)"
like "$BODY" "user=rootapp " "it sees the %pre user"
like "$BODY" "post=post ran " "it sees the file %post wrote"
like "$BODY" "data=from the repo " "and the repo package its Requires pulled in"
like "$BODY" "debian=12\." "it runs on the base's Debian"
INST=$(state_json | json "[i['id'] for i in d['result']['instances'] if i['state']=='running'][0]")
PID=$(state_json | json "[i['pid'] for i in d['result']['instances'] if i['state']=='running'][0]")
is "$(mounts)" 0 "the instance's mounts are not on the host"
like "$(grep -F "$KILN_HOME" "/proc/$PID/mountinfo" | grep -c overlay)" "^1$" \
    "they are in its own mount namespace (one overlay)"
[ -e "$KILN_HOME/instances/$INST/root/upper/etc/rootapp" ]
is "$?" 1 "nothing was copied for it: its layer holds only what it wrote"

# ---- kilnd SIGKILLed: adopted, still no mounts ----
kpid=$(python3 "$KILN_TESTLIB/kilnd_api.py" "$KILN_HOME/kilnd.sock" hello | json "d['result']['pid']")
kill -9 "$kpid"
wait_for 5 sh -c "! kill -0 $kpid 2>/dev/null"
is "$(mounts)" 0 "with kilnd killed, no mount is left on the host"
# What a kilnd killed in the middle of a bake leaves: its stage, with the base mounted.
ST="$IMAGES/.bake-killed"
mkdir -p "$ST/upper" "$ST/work" "$ST/merged"
mount -t overlay overlay -o "lowerdir=$KILN_HOME/bases/$BASE,upperdir=$ST/upper,workdir=$ST/work" "$ST/merged"
touch "$ST/merged/half-baked"
is "$(mounts)" 1 "(a bake's stage left mounted, as by a kilnd killed mid-bake)"
run "$KILN" cloud start
is "$RC" 0 "kilnd starts again"
is "$(mounts):$([ -e "$ST" ]; echo $?)" "0:1" "and unmounts and removes the stage a killed bake left"
[ -e "$KILN_HOME/bases/$BASE/usr/bin/rpm" ]
ok $? "without reaching into the base through it"
is "$(state_json | json "[i['pid'] for i in d['result']['instances'] if i['state']=='running']")" "[$PID]" \
    "and adopts the same instance"
lb_get rootapp test
is "$CODE:${BODY%% user*}" "200:rootapp pid=2" "which still serves"

# ---- a failing %post fails the bake, and changes nothing ----
before=$(state_json | json "sorted(g['name'] for g in d['result']['groups'])")
run "$KILN" deploy rootapp --env test --package "$NVR2"
is "$RC" 1 "a package whose %post exits 1 fails the deploy at the bake"
like "$ERR" "post of rootapp-1-2 is broken on purpose" "with the scriptlet's own output"
like "$ERR" "scriptlet failed" "and rpm's word for it"
is "$(state_json | json "sorted(g['name'] for g in d['result']['groups'])")" "$before" "no group was made"
lb_get rootapp test
is "$CODE:${BODY%% user*}" "200:rootapp pid=2" "the serving group is untouched"
is "$(state_json | json "sum(1 for i in d['result']['images'] if i['package']=='$NVR2')")" 0 \
    "no image of it is recorded"
ls -d "$IMAGES"/.bake-* >/dev/null 2>&1
is "$?" 2 "and nothing half-baked is left"
is "$(mounts)" 0 "nor any mount"

# ---- an unmet Requires fails the bake, naming it ----
run "$KILN" bake rootapp --package "$NVR3"
is "$RC" 1 "a package that Requires what neither the base nor the repo has fails"
like "$ERR" "python3-flask >= 2.0 is needed by rootapp-1-3" "with rpm's own line"
like "$ERR" "kiln base build --packages python3-flask" "and how to add it to a base"
ls -d "$IMAGES"/.bake-* >/dev/null 2>&1
is "$?" 2 "leaving nothing behind"

# ---- terminated (an adopted instance): its root goes, no mount ----
run "$KILN" destroy rootapp-test-v000
is "$RC" 0 "destroy the group: its instance is terminated"
[ "$RC" -eq 0 ] || diag "$ERR"
wait_for 10 sh -c "! kill -0 $PID 2>/dev/null"
ok $? "its process is gone (its PID namespace with it)"
wait_for 10 sh -c "[ ! -e '$KILN_HOME/instances/$INST/root' ]"
ok $? "its root (layer, work dir, mount point) is thrown away"
is "$(mounts)" 0 "no mount is left"
done_testing
