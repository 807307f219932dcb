#!/usr/bin/env bash
# The packaging test (make package-test, run by CI): build the wheel, install it into a fresh
# venv outside the checkout, and from an empty folder ingest the seed, ask a question (JSON:
# an answer with references and the disclaimer), run followup eval on a shipped suite, and check
# that nothing but followup* was installed at the top level of site-packages by our wheel.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
WORK="$(mktemp -d /tmp/followup-package-test.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
export HF_HUB_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False ANONYMIZED_TELEMETRY=False
SEED="${FOLLOWUP_SEED:-${FOLLOWUP_SHARED:-$ROOT/../shared}/seed}"

echo "== build the wheel"
"$ROOT/.venv/bin/python" -m build --wheel --no-isolation --outdir "$WORK/dist" "$ROOT" >"$WORK/build.log" 2>&1 \
  || { tail -30 "$WORK/build.log"; exit 1; }
WHEEL="$(ls "$WORK"/dist/followup-*.whl)"
echo "   $WHEEL"

echo "== what the wheel holds at its top level"
TOP="$("$PYTHON" - "$WHEEL" <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
print(" ".join(sorted({n.split("/")[0] for n in names})))
PY
)"
echo "   $TOP"
only_followup() {  # WHAT ENTRY...: fail unless every entry is followup or its dist-info
  local what="$1"; shift
  for entry in "$@"; do
    case "$entry" in
      followup|followup-*.dist-info) ;;
      *) echo "FAIL: $what a top-level $entry (only followup* is allowed)"; exit 1 ;;
    esac
  done
}
# shellcheck disable=SC2086
only_followup "the wheel holds" $TOP
for data in followup/prompts/disclaimer.md followup/evals/suites/refusals.yaml \
            followup/evals/judge_labels.jsonl followup/evals/datasets/pubmedqa.yaml \
            followup/corpus/serotonin-syndrome.md; do
  "$PYTHON" -c "import sys,zipfile; sys.exit(0 if sys.argv[2] in zipfile.ZipFile(sys.argv[1]).namelist() else 1)" "$WHEEL" "$data" \
    || { echo "FAIL: the wheel lacks $data"; exit 1; }
done

echo "== install into a fresh venv (with its dependencies, as a user would)"
mkdir "$WORK/empty" && cd "$WORK/empty"   # from here on, nothing of the checkout is on sys.path
"$PYTHON" -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install --quiet "$WHEEL" >"$WORK/pip.log" 2>&1 \
  || { grep -v "^WARNING: Location" "$WORK/pip.log" | tail -20; exit 1; }
# What our distribution put at the top of site-packages (its RECORD; ../ entries are bin/ scripts).
added="$("$WORK/venv/bin/python" - <<'PY'
import importlib.metadata as md
own = md.distribution("followup").files or []
print(" ".join(sorted({str(f).split("/")[0] for f in own} - {".."})))
PY
)"
echo "   the followup distribution installed: $added"
# shellcheck disable=SC2086
only_followup "installing the wheel added to site-packages" $added

FU="$WORK/venv/bin/followup"
"$WORK/venv/bin/python" -c "import followup, sys; assert '$ROOT' not in followup.__file__, followup.__file__; print('   imports from', followup.__file__)"

echo "== ingest the seed from an empty folder"
"$FU" ingest "$SEED" --store st --json > ingest.json
"$WORK/venv/bin/python" -c "import json; r=json.load(open('ingest.json')); assert r['articles']>=1 and not r['failed'], r; print('   articles', r['articles'])"

echo "== ask (JSON)"
"$FU" ask "Can withdrawal cause muscle spasms?" --store st --json > ask.json
"$WORK/venv/bin/python" - <<'PY'
import json
from followup.prompts import disclaimer
a = json.load(open("ask.json"))
assert a["references"], "no references"
last = a["answer"].rstrip().splitlines()[-1]
assert a["disclaimer"] == disclaimer() and disclaimer() in last, "no disclaimer at the end"
assert not a.get("abstained"), "refused a covered question"
print("   references", len(a["references"]), "- disclaimer present")
PY

echo "== followup eval on a shipped suite (its corpus is package data)"
SUITE="$("$WORK/venv/bin/python" -c 'from followup.evals.suite import shipped; print(shipped("suites") / "refusals.yaml")')"
"$FU" eval "$SUITE" --store evalstore --json eval.json > eval.log || { tail -20 eval.log; exit 1; }
tail -3 eval.log
echo "package-test: OK"
