#!/usr/bin/env bash
# Base images for real: one base built with mmdebstrap (once, ~30 s, reused by every
# check below), listed, frozen, seen by rpm through its provides package (an app RPM's
# Requires checked for real, its %post run inside the base through an overlay, as a bake
# will), exported and imported under another name, deleted; and the errors: a name
# taken, bad names and packages, a tarball that is no root, a user who is not root.
. "$KILN_TESTLIB/harness.sh"

[ "$(id -u)" -eq 0 ] || skip_all "building a base needs root"
command -v mmdebstrap >/dev/null || skip_all "mmdebstrap is not installed (apt-get install mmdebstrap)"
command -v rpmbuild >/dev/null || skip_all "rpmbuild is not installed (apt-get install rpm)"
timeout 5 bash -c 'exec 3<>/dev/tcp/deb.debian.org/80' 2>/dev/null ||
    skip_all "the Debian archive (deb.debian.org) cannot be reached"

BASES="$KILN_HOME/bases"
# A base's top dir and record are immutable (chattr +i): unfreeze whatever a failed
# check left, so the harness can remove the test's files.
unfreeze() {
    [ -d "$BASES" ] && chattr -i "$BASES"/*-* 2>/dev/null
    mountpoint -q "$T_TMP/merged" 2>/dev/null && umount "$T_TMP/merged"
    :
}
at_exit unfreeze
q() { rpm --root "$1" --dbpath /var/lib/rpm "${@:2}"; }

mkdir -p "$XDG_CONFIG_HOME/kiln"
printf '[local]\nbase_packages = netbase\n' >"$XDG_CONFIG_HOME/kiln/config"

# ---- the build ----
T0=$(date +%s)
run "$KILN" base build --packages less --json
is "$RC" 0 "kiln base build (as root, with [local] base_packages and --packages)"
diag "built in $(($(date +%s) - T0)) s"
like "$ERR" "I: installing essential packages" "mmdebstrap's progress streams to stderr"
like "$ERR" "provides: [0-9]+ packages and [0-9]+ programs" "so do kiln's own steps"
ID=$(printf '%s' "$OUT" | json 'd["base"]')
ROOT=$(printf '%s' "$OUT" | json 'd["root"]')
like "$ID" '^debian-bookworm-[0-9a-f]{12}$' "named by a digest: $ID"
is "$ROOT" "$BASES/$ID" "its root is in the state dir"
[ "$RC" -eq 0 ] || { diag "$ERR"; done_testing; exit; }

run "$KILN" jobs
like "$OUT" "base-build +default" "the build was a job, listed with the others"
run "$KILN" log 1
like "$OUT" "I: extracting archives" "and its log holds mmdebstrap's lines"

# ---- list ----
run "$KILN" base list
is "$RC" 0 "base list"
like "$OUT" "^default +$ID +mmdebstrap " "shows the name, id and source"
run "$KILN" base list --json
PKGS=$(printf '%s' "$OUT" | json '",".join(sorted(p["name"] for p in d[0]["packages"]))')
for p in systemd-sysv rpm passwd netbase less; do
    like ",$PKGS," ",$p," "the base has $p"
done
is "$(printf '%s' "$OUT" | json 'd[0]["names"]')" "['default']" "its names"
is "$(printf '%s' "$OUT" | json 'd[0]["size_bytes"] > 100e6')" "True" "its size is recorded"
diag "size: $(printf '%s' "$OUT" | json 'd[0]["size_bytes"]') bytes, $(du -sh "$ROOT" | cut -f1) by du"
LESSV=$(printf '%s' "$OUT" | json '[p["version"] for p in d[0]["packages"] if p["name"]=="less"][0]')

# ---- frozen ----
is "$(stat -c %a "$BASES/$ID.json")" "444" "the record is read-only"
like "$(lsattr -d "$ROOT" 2>/dev/null)" "^-*i" "the tree's top is immutable"
touch "$ROOT/new-file" 2>/dev/null
is "$?" 1 "even root cannot add to it"
is "$(stat -c %a "$ROOT/tmp")" "1777" "the OS's own modes are kept inside"

# ---- what rpm sees ----
run q "$ROOT" -q --whatprovides less
like "$OUT" "^kiln-base-provides-1-" "rpm sees a Debian package through the provides package"
run q "$ROOT" -q --whatprovides /bin/sh
is "$RC" 0 "and /bin/sh, which every package with scriptlets requires"

mkdir -p "$T_TMP/rpm"
app_rpm() { # app_rpm NAME REQUIRES: an app RPM whose %post leaves a mark
    cat >"$T_TMP/rpm/$1.spec" <<EOF
Name: $1
Version: 1
Release: 1
Summary: test
License: MIT
BuildArch: noarch
Requires: $2
Requires: systemd
%description
test
%post
echo "post ran" > /etc/$1-post
%files
EOF
    rpmbuild -bb --quiet --define "_topdir $T_TMP/rpm" "$T_TMP/rpm/$1.spec" >/dev/null 2>&1
}
app_rpm good-app "less >= ${LESSV%%-*}"
app_rpm bad-app "less >= 9999"
# As a bake will: the base as the lower layer of an overlay, the install in the upper.
mkdir -p "$T_TMP/upper" "$T_TMP/work" "$T_TMP/merged"
mount -t overlay overlay -o "lowerdir=$ROOT,upperdir=$T_TMP/upper,workdir=$T_TMP/work" "$T_TMP/merged"
ok $? "the base mounts as an overlay's lowerdir"
run "$KILN" base delete default
is "$RC" 1 "a base in use (an overlay made from it) is not deleted"
like "$ERR" "is in use" "and the message says why"
run q "$T_TMP/merged" --force-debian -i "$T_TMP/rpm/RPMS/noarch/bad-app-1-1.noarch.rpm"
is "$RC" 1 "an app needing less >= 9999 is refused (its Requires are checked, no --nodeps)"
like "$ERR" "less >= 9999 is needed by bad-app" "rpm says what is missing"
run q "$T_TMP/merged" --force-debian -i "$T_TMP/rpm/RPMS/noarch/good-app-1-1.noarch.rpm"
is "$RC" 0 "an app needing the base's less and systemd installs, dependencies checked"
is "$(cat "$T_TMP/merged/etc/good-app-post" 2>/dev/null)" "post ran" "its %post ran inside the base"
[ -e "$ROOT/etc/good-app-post" ]
is "$?" 1 "and the base itself did not change"
umount "$T_TMP/merged"

# ---- names ----
run "$KILN" base build
is "$RC" 1 "building a name that exists fails at once"
like "$ERR" "there is a base named default already \($ID\)" "saying which"
run "$KILN" base build Bad_Name
is "$RC" 2 "a bad name is a usage error"
like "$ERR" "is not a base name" "and says the rule"
run "$KILN" base build other --packages 'less,-x'
is "$RC" 2 "a bad package is a usage error"
like "$ERR" "'-x' is not a Debian package name" "naming it"
run "$KILN" base frob
is "$RC" 2 "an unknown subcommand"

# ---- import ----
tar -C "$ROOT" --numeric-owner --xattrs -cf "$T_TMP/base.tar" .
run "$KILN" base import copy --tar "$T_TMP/base.tar" --json
is "$RC" 0 "import a tarball of the base under another name"
CID=$(printf '%s' "$OUT" | json 'd["id"]')
like "$CID" '^debian-bookworm-[0-9a-f]{12}$' "named by its OS and the tarball's digest: $CID"
is "$(printf '%s' "$OUT" | json 'd["source"] + " " + d["package_db"]')" "import dpkg" "an imported dpkg root"
run q "$BASES/$CID" -q --whatprovides less
like "$OUT" "^kiln-base-provides-1-" "rpm sees its Debian packages too"
run "$KILN" base list
like "$OUT" "^copy +$CID +import " "list shows the import"
run "$KILN" base import again --tar "$T_TMP/base.tar"
is "$RC" 0 "the same tarball under a third name"
like "$OUT" "identical to one there" "is the same base: only the name is added"
run "$KILN" base delete "$CID"
is "$RC" 1 "a base with names is not deleted by id"
run "$KILN" base delete again
is "$RC" 0 "deleting one of its names"
like "$OUT" "keeps its other names" "leaves the base"

mkdir -p "$T_TMP/notroot/stuff" && echo x >"$T_TMP/notroot/stuff/file"
tar -C "$T_TMP/notroot" -cf "$T_TMP/notroot.tar" .
run "$KILN" base import junk --tar "$T_TMP/notroot.tar"
is "$RC" 1 "a tarball that is no root is refused"
like "$ERR" "does not look like a root filesystem: it has no /usr" "saying what it lacks"
run "$KILN" base import junk --tar "$T_TMP/missing.tar"
is "$RC" 1 "a missing tarball"
run "$KILN" base import junk
is "$RC" 2 "import without --tar is a usage error"
ls -d "$BASES"/.build-* >/dev/null 2>&1
is "$?" 2 "failed imports leave no staging dir behind"

# ---- not root ----
if command -v setpriv >/dev/null; then
    run env KILN_CONFIG=/nonexistent/kiln-config setpriv --reuid=65534 --regid=65534 --clear-groups "$KILN" base build x
    is "$RC" 1 "a user who is not root cannot build"
    like "$ERR" "kiln base build needs root" "and is told so in one sentence"
fi

# ---- delete ----
run "$KILN" base delete copy
is "$RC" 0 "delete the import"
like "$OUT" "deleted copy \($CID\)" "with its last name the base goes"
run "$KILN" base delete default
is "$RC" 0 "delete the built base"
[ -e "$ROOT" ] || [ -e "$BASES/$ID.json" ] || [ -L "$BASES/names/default" ]
is "$?" 1 "its tree, record and name are gone"
run "$KILN" base list
like "$OUT" "no bases yet" "list says there are none"
run "$KILN" base delete default
is "$RC" 1 "deleting it again fails"
like "$ERR" "there is no base default" "not found"
done_testing
