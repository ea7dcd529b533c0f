#!/bin/sh
# Service-side policy templates (policy/keyvault, policy/maa, policy/trustee): grammar, evaluation
# by the Key Vault emulator's release-policy engine on real recorded MAA claims (must pass) and
# on mutations and other TEEs' tokens (must fail), MAA policy structure, Rego structure; and every
# local appraisal example in policy/examples parses with cvm-agent.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$(dirname "$here")")
. "$here/lib.sh"

for f in "$root"/policy/examples/*.json "$root"/policy/keyvault/*.json "$root"/policy/appraisal-policy.schema.json; do
        CHECKS=$((CHECKS + 1))
        jq -e . "$f" >/dev/null 2>&1 || fail "$f is not well-formed JSON"
done
for f in "$root"/policy/examples/*.json; do
        # Exit 11 would mean the policy is invalid; anything else is about the (absent) evidence.
        CHECKS=$((CHECKS + 1))
        "$CVM_AGENT" policy check --policy "$f" --eventlog /dev/null --report /dev/null >"$OUT" 2>"$ERR"
        [ $? -ne 11 ] || fail "$f: $(cat "$ERR")"
done

python3 "$root/tests/policy/check_templates.py" >"$OUT" 2>&1
rc=$?
cat "$OUT"
CHECKS=$((CHECKS + 1))
case $rc in
0 | 77) ;;
*) fail "template checks failed" ;;
esac
finish
