#!/usr/bin/env bash
# Secrets never leak: a deploy with AWS credentials from a profile file (with a session
# token) and from the environment, the provider's request log on (its most verbose),
# then every log, journal, history entry, --json output and a console screen capture
# is searched for the secret keys and the session token.
. "$KILN_TESTLIB/harness.sh"

python3 -c 'import botocore' 2>/dev/null || skip_all "python3-botocore is not installed"
SRC="$KILN_SRCDIR/examples/hello-world"
SECRET="kiln-secret-$$-wJalrXUtnFEMI-K7MDENG"
TOKEN="kiln-token-$$-IQoJb3JpZ2luX2VjEKr-FwoGZXIvYXdzEBYaDH"
ENVSECRET="kiln-envsecret-$$-bPxRfiCYEXAMPLEKEY"

aws_fixture_up --hosted-zone example.test
export AWS_ENDPOINT_URL="$FX"
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE AWS_REGION
export AWS_EC2_METADATA_DISABLED=true KILN_AWS_BACKOFF_SCALE=0.1
export KILN_AWS_LOG="$T_TMP/aws-requests.log"
mkdir -p "$HOME/.aws" "$XDG_CONFIG_HOME/kiln" "$T_TMP/repo"
printf '[deploy]\naws_access_key_id = AKIDPROFILETEST\naws_secret_access_key = %s\naws_session_token = %s\n' \
    "$SECRET" "$TOKEN" >"$HOME/.aws/credentials"
printf '[core]\nprovider = aws\n[aws]\nregion = us-east-1\nprofile = deploy\nhosted_zone = example.test\nbake_method = aminate\naminate_command = python3 %s/aws_aminate.py {package} {nvr}\npackage_repo = %s/repo\n' \
    "$KILN_TESTLIB" "$T_TMP" >"$XDG_CONFIG_HOME/kiln/config"

capture() { printf '%s\n%s\n' "$OUT" "$ERR" >"$T_TMP/capture.$1"; }

run "$KILN" create-app hello-world --env test --health-check-url /health_check --port 8080 --source "$SRC"
is "$RC" 0 "create-app with profile credentials and a session token"
capture create-app
# (AWS_PROFILE is for the stand-in aminator, which talks to the fixture with botocore)
AWS_PROFILE=deploy run "$KILN" deploy hello-world --env test --json
is "$RC" 0 "deploy --json"
capture deploy
run "$KILN" status --json
capture status
run "$KILN" jobs --json
capture jobs
run "$KILN" history
capture history
run "$KILN" config
capture config
like "$OUT" "profile = deploy" "kiln config shows the profile, not its keys"

# The same from the environment's credentials (an explicit empty profile in the config
# would win, so this run gets its own config without one).
sed -i '/^profile = /d' "$XDG_CONFIG_HOME/kiln/config"
AWS_ACCESS_KEY_ID=AKIDENVTEST AWS_SECRET_ACCESS_KEY="$ENVSECRET" AWS_SESSION_TOKEN="$TOKEN" \
    run "$KILN" deploy hello-world --env test --json
is "$RC" 0 "a second deploy --json with environment credentials and a session token"
capture env-deploy
AWS_ACCESS_KEY_ID=AKIDENVTEST AWS_SECRET_ACCESS_KEY="$ENVSECRET" AWS_SESSION_TOKEN="$TOKEN" \
    run "$KILN" rollback hello-world --env test --json
is "$RC" 0 "rollback --json with them"
capture env

# The console, its screen captured.
AWS_ACCESS_KEY_ID=AKIDENVTEST AWS_SECRET_ACCESS_KEY="$ENVSECRET" AWS_SESSION_TOKEN="$TOKEN" \
    tmux_start 160 45 env AWS_ACCESS_KEY_ID=AKIDENVTEST AWS_SECRET_ACCESS_KEY="$ENVSECRET" \
    AWS_SESSION_TOKEN="$TOKEN" AWS_ENDPOINT_URL="$AWS_ENDPOINT_URL" \
    AWS_EC2_METADATA_DISABLED=true KILN_AWS_LOG="$KILN_AWS_LOG" "$KILN"
screen_wait 20 'hello-world'
ok $? "the console shows the app"
tmux_keys Enter
sleep 2
tmux -S "$T_TMUX_SOCK" capture-pane -p -t t >"$T_TMP/capture.screen"

ok "$([ -s "$KILN_AWS_LOG" ]; echo $?)" "the provider's request log was written"
leaked=$(grep -rla -e "$SECRET" -e "$TOKEN" -e "$ENVSECRET" "$KILN_HOME" "$HOME/.cache" \
    "$T_TMP"/capture.* "$T_TMP"/out.* "$T_TMP"/err.* "$KILN_AWS_LOG" 2>/dev/null)
is "$leaked" "" "neither secret key nor the session token is in any log, journal, history, --json output or screen"
done_testing
