#!/usr/bin/env bash
# The CLI under valgrind on a small scenario, on the local cloud and on the AWS fixture:
# no invalid reads or writes, nothing definitely lost. (kilnd itself is covered by the sanitizer builds.)
. "$KILN_TESTLIB/harness.sh"

command -v valgrind >/dev/null || skip_all "valgrind is not installed"
cloud_up
SRC="$KILN_SRCDIR/examples/hello-world"
VG="valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99"

vg() { # vg NAME WANT ARGS...: runs kiln under valgrind, keeps its report; kiln must exit WANT
    local name=$1 want=$2
    shift 2
    $VG --log-file="$T_TMP/vg.$name" "$KILN" "$@" >"$T_TMP/out.$name" 2>&1
    local rc=$?
    if [ "$rc" -eq 99 ] || grep -qE "definitely lost: [1-9]|Invalid (read|write)" "$T_TMP/vg.$name"; then
        ok 1 "valgrind: kiln $name"
        sed 's/^/# /' "$T_TMP/vg.$name" | head -40
    else
        ok 0 "valgrind: kiln $name"
    fi
    # A command that fails early reaches little code: the check above would pass for it.
    is "$rc" "$want" "kiln $name exits $want under valgrind"
    [ "$rc" = "$want" ] || tail -n 20 "$T_TMP/out.$name" | sed 's/^/# /'
}

vg create-app 0 create-app hello-world --env test --health-check-url /health_check --port 8080 --source "$SRC"
vg deploy 0 deploy hello-world --env test
vg deploy2 0 deploy hello-world --env test --package hello-world-1.0.0-1.x86_64
vg status 0 status --json
vg rollback 0 rollback hello-world --env test
vg jobs 0 jobs
vg history 0 history hello-world
vg events 0 events
vg bad-name 2 deploy '../etc' --env test
vg help 0 help deploy

# The console: a few keys over the deployed app, a command, the help screen, quit.
if command -v tmux >/dev/null; then
    tmux_start 120 30 sh -c "$VG --log-file=$T_TMP/vg.console $KILN; echo \$? >$T_TMP/console.status"
    screen_wait 120 'hello-world' || diag "$(tmux -S "$T_TMUX_SOCK" capture-pane -p -t t)"
    for k in j Tab Tab '?' Escape; do tmux_keys "$k"; sleep 1; done
    tmux_keys : v e r s i o n Enter
    screen_wait 60 'version kiln'
    tmux_keys q
    wait_for 120 test -s "$T_TMP/console.status"
    if grep -qE "definitely lost: [1-9]|Invalid (read|write)|uninitialised" "$T_TMP/vg.console"; then
        ok 1 "valgrind: the console"
        sed 's/^/# /' "$T_TMP/vg.console" | head -40
    else
        ok 0 "valgrind: the console"
    fi
    is "$(cat "$T_TMP/console.status")" 0 "the console under valgrind exits 0"
    tmux -S "$T_TMUX_SOCK" kill-server 2>/dev/null
fi

# The aws provider's read paths, against the wire-format fixture: the whole inventory
# (one health list per ELB), one cluster's, and the event history.
if python3 -c 'import botocore' 2>/dev/null; then
    aws_fixture_up --seed-asgs 3 --seed-instances 2 --hosted-zone example.test
    export AWS_ENDPOINT_URL="$FX" AWS_ACCESS_KEY_ID=AKIDVALGRIND AWS_SECRET_ACCESS_KEY=vg-secret
    export AWS_EC2_METADATA_DISABLED=true
    vg aws-status 0 --provider aws --region us-east-1 status --json
    vg aws-cluster 0 --provider aws --region us-east-1 status app2 --env test --json
    vg aws-events 0 --provider aws --region us-east-1 events
    # The write paths: an app, two deploys (aminate bake, then the bake cache), a rollback
    # and a destroy.
    mkdir -p "$T_TMP/repo" "$XDG_CONFIG_HOME/kiln"
    AWSCFG="--provider aws --region us-east-1"
    export KILN_AWS_BACKOFF_SCALE=0.1
    printf '[aws]\nhosted_zone = example.test\npackage_repo = %s\naminate_command = python3 %s {package} {nvr}\n' \
        "$T_TMP/repo" "$KILN_TESTLIB/aws_aminate.py" >"$XDG_CONFIG_HOME/kiln/config"
    vg aws-create-app 0 $AWSCFG create-app hello-world --env aws --health-check-url /health_check \
        --port 8080 --source "$SRC"
    vg aws-deploy 0 $AWSCFG deploy hello-world --env aws
    vg aws-deploy2 0 $AWSCFG deploy hello-world --env aws
    vg aws-rollback 0 $AWSCFG rollback hello-world --env aws
    vg aws-destroy 0 $AWSCFG destroy hello-world-aws-v001
    is "$(tail -n 1 "$T_TMP/out.aws-create-app")" "hello-world-aws" "the aws create-app under valgrind worked"
    like "$(cat "$T_TMP/out.aws-deploy")" "deploy hello-world-aws: succeeded" \
        "the aws deploy under valgrind did deploy"
    like "$(cat "$T_TMP/out.aws-rollback")" "rollback hello-world-aws: succeeded" "and so did the rollback"
fi
done_testing
