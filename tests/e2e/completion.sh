#!/usr/bin/env bash
# Shell completion: `kiln completion bash` completes in a real bash (COMP_WORDS, _kiln,
# COMPREPLY), its values come from the state files through `kiln __complete` without
# starting kilnd, and the zsh script parses (and completes, with compadd stubbed).
. "$KILN_TESTLIB/harness.sh"

"$KILN" completion bash >"$T_TMP/kiln.bash"
is "$?" 0 "kiln completion bash"
bash -n "$T_TMP/kiln.bash"
ok $? "the bash script parses"

# comp WORD...: completes the last word in a fresh bash that sourced the script; the
# candidates, space-separated, in $OUT.
comp() {
    run bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _kiln
                 echo "${COMPREPLY[*]}"' bash "$T_TMP/kiln.bash" "$KILN" "$@"
}

comp rol
is "$OUT" "rollback" "kiln rol<Tab> offers rollback"
comp de
is "$OUT" "delete-app deploy destroy" "kiln de<Tab> offers the three commands"
comp deploy hello-world --health
is "$OUT" "--health-timeout" "an option of deploy completes (--health<Tab>)"
comp deploy hello-world --
like "$OUT" "--env .*--image .*--package .*--json" "deploy's options and the global ones"
comp --json rollback hello-world --e
is "$OUT" "--env" "after a global option the command is still found"
comp cloud s
is "$OUT" "start status stop" "cloud's words"
comp completion ""
is "$OUT" "bash zsh" "completion's words"
comp --provider ""
is "$OUT" "local aws" "--provider's values"
comp help depl
is "$OUT" "deploy" "help completes command names"
comp deploy hello-world --min ""
is "$OUT" "" "a value with nothing to offer (--min N) offers nothing"
mkdir -p "$T_TMP/srcdir/app-one"
comp deploy hello-world --source "$T_TMP/srcdir/app"
is "$OUT" "$T_TMP/srcdir/app-one" "--source completes file names"
unlike "$(grep "^_kiln_cmds=" "$T_TMP/kiln.bash")" "__complete" "the hidden __complete is not offered"
comp __compl
is "$OUT" "" "nor completed"
unlike "$("$KILN" help)" "__complete" "nor listed by kiln help"

# --- values from the state ---------------------------------------------------------------

# No state yet: nothing, no error, and no state dir or kilnd appears.
comp deploy ""
is "$OUT" "" "no apps before any state"
is "$ERR" "" "and nothing on stderr"
ok "$([ ! -e "$KILN_HOME" ]; echo $?)" "completing creates no state dir"

# A state as the local cloud leaves it, and a journal: __complete reads them as files.
mkdir -p "$KILN_HOME/journal"
cat >"$KILN_HOME/cloud.json" <<'EOF'
{"version": 1,
 "clusters": [{"app": "hello-world", "env": "test", "name": "hello-world-test"},
              {"app": "hello-world", "env": "prod", "name": "hello-world-prod"},
              {"app": "other", "env": "staging", "name": "other-staging"}],
 "groups": [{"name": "hello-world-test-v000", "cluster": "hello-world-test"},
            {"name": "hello-world-test-v001", "cluster": "hello-world-test"},
            {"name": "other-staging-v003", "cluster": "other-staging"}],
 "instances": [{"id": "i-0123456789abcdef0", "group": "hello-world-test-v001"},
               {"id": "i-0fedcba987654321f", "group": "other-staging-v003"}],
 "images": [{"id": "img-0123456789ab"}],
 "packages": [{"nvr": "hello-world-1.0.0-1.x86_64"}],
 "locks": []}
EOF
printf '{"hello-world": "/nowhere/hello-world", "seeded": "/nowhere/seeded"}\n' >"$KILN_HOME/sources.json"

comp deploy ""
is "$OUT" "hello-world other seeded" "apps: the cloud's clusters and the recorded sources"
comp deploy hello-world --env ""
is "$OUT" "prod test" "envs of the app on the line"
comp status --env ""
is "$OUT" "prod staging test" "every env when no app is typed"
comp destroy hello-world-test-v0
is "$OUT" "hello-world-test-v000 hello-world-test-v001" "groups"
comp terminate i-0f
is "$OUT" "i-0fedcba987654321f" "instance ids"
comp deploy hello-world --image ""
is "$OUT" "img-0123456789ab" "images"
comp bake hello-world --package ""
is "$OUT" "hello-world-1.0.0-1.x86_64" "packages"
ok "$([ ! -S "$KILN_HOME/kilnd.sock" ]; echo $?)" "kilnd was not started"

# Jobs from the journal (a real one: a job that failed at once), newest first.
# (No credentials: the job fails as it opens the provider, after its journal is made.)
for i in 1 2; do
    env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_PROFILE AWS_EC2_METADATA_DISABLED=true \
        AWS_CONFIG_FILE=/nonexistent AWS_SHARED_CREDENTIALS_FILE=/nonexistent \
        "$KILN" --provider aws --region us-east-1 deploy ghost --env test \
        --image ami-0123456789abcdef0 >/dev/null 2>&1
done
ids=$(ls "$KILN_HOME/journal" | sed -n 's/^\([0-9]*\)\.json$/\1/p' | sort -rn | tr '\n' ' ')
comp log ""
is "$OUT " "$ids" "job ids from the journal, newest first ($ids)"
comp --provider aws deploy ""
like "$OUT" "ghost" "on aws, apps come from the journal"
unlike "$OUT" "other" "and not from the local cloud's store"

# A damaged state file: no candidates and no error text into the command line.
echo '{not json' >"$KILN_HOME/cloud.json"
comp deploy hello-world --env ""
is "$ERR" "" "a damaged store prints no error"
printf '[core]\nworkers = many\n' >"$T_TMP/bad.conf"
run bash -c 'source "$1"; COMP_WORDS=("$2" --config "$3" deploy ""); COMP_CWORD=3; _kiln
             echo "${COMPREPLY[*]}"' bash "$T_TMP/kiln.bash" "$KILN" "$T_TMP/bad.conf"
is "$ERR" "" "a broken config prints no error either"
t0=$(date +%s%N)
timeout 5 "$KILN" __complete group >/dev/null 2>&1
ok $? "__complete returns at once ($(( ($(date +%s%N) - t0) / 1000000 )) ms)"

# --- zsh ---------------------------------------------------------------------------------

"$KILN" completion zsh >"$T_TMP/_kiln"
is "$?" 0 "kiln completion zsh"
like "$(head -1 "$T_TMP/_kiln")" "^#compdef kiln$" "a #compdef file"
if command -v zsh >/dev/null; then
    zsh -n "$T_TMP/_kiln"
    ok $? "the zsh script parses (zsh -n)"
    # compadd stubbed: what _kiln would add, for the word under the cursor.
    zcomp() {
        run zsh -c 'compadd() { [ "$1" = -- ] && shift; print -r -- "$*"; }
                    compdef() { :; }; _files() { print -r -- FILES; }
                    source "$1"; shift; words=("$@"); CURRENT=$#; _kiln' \
            zsh "$T_TMP/_kiln" "$KILN" "$@"
    }
    zcomp rol
    like "$OUT" "(^| )rollback( |$)" "zsh: kiln rol<Tab> has rollback among its candidates"
    zcomp deploy hello-world --
    like "$OUT" "--health-timeout" "zsh: deploy's options"
    zcomp cloud ""
    is "$OUT" "start status stop" "zsh: cloud's words"
    zcomp deploy --source ""
    is "$OUT" "FILES" "zsh: --source completes files"
else
    ok 0 "# SKIP zsh is not installed (apt-get install zsh)"
fi

# --- installed where the shells look --------------------------------------------------

if [ -f "$KILN_BUILDDIR/Makefile" ]; then
    make -C "$KILN_BUILDDIR" install-bashcompDATA install-zshcompDATA DESTDIR="$T_TMP/inst" \
        >"$T_TMP/install.out" 2>&1
    ok $? "make install of the completion scripts"
    f=$(cd "$T_TMP/inst" && find . -path '*/bash-completion/completions/kiln')
    like "$f" "share/bash-completion/completions/kiln$" "bash's into \$(datadir)/bash-completion/completions"
    f=$(cd "$T_TMP/inst" && find . -path '*/zsh/site-functions/_kiln')
    like "$f" "share/zsh/site-functions/_kiln$" "zsh's into \$(datadir)/zsh/site-functions"
    cmp -s "$T_TMP/inst/$(cd "$T_TMP/inst" && find . -path '*/completions/kiln')" "$T_TMP/kiln.bash"
    ok $? "the installed bash script is what kiln completion bash prints"
fi

done_testing
